"""What the demo fleet does: N kiosks at their posts with different battery curves; one goes offline, one
keeps an old list, one keeps meeting a listed traveller."""

from __future__ import annotations

import logging
import random
import threading
import time
from pathlib import Path

from hq.demo.hq_side import HQ
from hq.demo.kiosks import SimKiosk

log = logging.getLogger(__name__)
POSTS = ("GITEGA-BDI", "KOURE-NER", "DIBOLI-MLI", "TORUGART-KGZ")
CURVES = ("solar", "draining", "low", "mains")
OFFLINE_AFTER_S = 90


def make_fleet(directory: Path, hq: HQ, broker_url: str, count: int, health_interval_s: int = 10) -> list[SimKiosk]:
    """``count`` enrolled kiosks: #2 will go offline, #3 holds a list 45 days old, #4 meets listed travellers."""
    kiosks = []
    for index in range(count):
        post = POSTS[index % len(POSTS)]
        kiosk = SimKiosk(directory / f"kiosk-{index + 1}", broker_url, hq.public_key, post, f"K{index // len(POSTS) + 1}",
                         curve=CURVES[index % len(CURVES)], list_age_days=45 if index == 2 else 0,
                         health_interval_s=health_interval_s, seed=index)
        hq.enrol(kiosk.post_id, kiosk.kiosk_id, kiosk.public_key)
        kiosks.append(kiosk)
    return kiosks


def run(kiosks: list[SimKiosk], stop: threading.Event, tick_s: float = 3.0) -> None:
    """Drive the fleet until ``stop``: batteries follow their curves, travellers cross, kiosk #2 drops off."""
    rng = random.Random(1)
    started = time.monotonic()
    for kiosk in kiosks:
        kiosk.start()
    while not stop.wait(tick_s):
        elapsed = time.monotonic() - started
        for index, kiosk in enumerate(kiosks):
            kiosk.power(elapsed)
            if index == 1 and elapsed > OFFLINE_AFTER_S and kiosk.uplink is not None:
                log.warning("demo: %s/%s goes offline", kiosk.post_id, kiosk.kiosk_id)
                kiosk.go_offline()
            if rng.random() < 0.6:
                try:
                    kiosk.cross(listed=index == 3 and rng.random() < 0.25)
                    # The supervisor decides the previous referral a tick later: its outcome follows the alert.
                    referred = [c for c in kiosk.recorded[:-1] if c["decision"] == "referred" and not c.get("outcome")]
                    for crossing in referred:
                        kiosk.resolve(crossing["id"], rng.choice(("cleared", "refused")))
                        crossing["outcome"] = "decided"
                except Exception:
                    log.exception("demo: recording a crossing failed")
