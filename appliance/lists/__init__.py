"""Watchlists in force on the kiosk: signed HQ bundles (full and delta), their index files, apply.

``apply_bundle`` is the one entry point for a bundle from any transport (a USB stick via
``kiosk lists apply FILE``, or MQTT); ``appliance.lists.csv_import`` keeps the CSV import.
"""

from __future__ import annotations

from typing import Any


def apply_bundle(store: Any, config: Any, data: bytes, *, actor: str = "cli") -> dict:
    """Verify and apply one signed list bundle; see ``appliance.lists.apply.apply_bundle``."""
    from appliance.lists.apply import (
        apply_bundle as _apply,  # imported late: apply imports watchlist, which imports indexes
    )

    return _apply(store, config, data, actor=actor)
