"""Fuzz harnesses for the decoders of hostile input (targets.py) and their runner (runner.py)."""
