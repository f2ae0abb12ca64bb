"""The HQ end of the kiosk uplink: ingest with receipts, fleet view, list publisher."""

__version__ = "0.1.0"
