"""ICAO 9303 and border rules: MRZ, name folding, document fields, dates; imports nothing else of the package."""
