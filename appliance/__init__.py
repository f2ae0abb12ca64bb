"""Border kiosk firmware: records screened crossings durably and reports them to HQ."""

__version__ = "0.1.0"
