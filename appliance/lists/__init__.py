"""Watchlists in force on the kiosk: the interchange format, CSV import, signed HQ bundles, index files, status.

``appliance.lists.apply.apply_bundle`` is the one entry point for a bundle from any transport
(a USB stick via ``kiosk lists apply FILE``, or MQTT); ``appliance.lists.csv_import`` keeps
the CSV import and ``appliance.lists.csv_format`` the format both are held to.
"""
