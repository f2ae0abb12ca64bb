"""`kiosk bench outage`: the broker down while officers record crossings with photos, then up again.

``kiosk run`` (its own data dir, simulated camera, a biometric key) records N crossings,
each with a face photo taken through the API, while its broker is down; then the broker
comes back and the backlog drains to HQ ingest. Figures: how long the drain takes, the
service's resident memory (sampled, and its peak from /proc), an officer's record latency
during the drain beside the same officer's latency with the link idle before the outage
(the named peer), and whether HQ ends with every crossing once, in kiosk order, and every
photo complete.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from appliance.bench.rig import HQ, KioskProcess, LocalBroker, Officer, outbox_rows, quantiles, wait_until
from appliance.errors import UplinkError
from appliance.storage.store import Store
from appliance.uplink import status


FIRST_RECEIPT_TIMEOUT_S = 600.0


@dataclass
class Settings:
    crossings: int = 50_000
    officers: int = 4  # recording the backlog at once
    pace_s: float = 0.1  # the officer during the drain: ten travellers a second
    idle_s: float = 5.0  # the same officer with the link up and idle, before the outage
    drain_timeout_s: float = 3600.0
    # [uplink] max_inflight_captures of the kiosk; None: its default.
    inflight_captures: int | None = None
    # Where the run's kiosk, HQ and broker live; kept afterwards for a post-mortem. None: a temporary folder.
    keep: Path | None = None


def _last_seq(store: Store) -> int:
    with store.lock:
        return store.conn.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]


class _Sampler(threading.Thread):
    """Samples the service's RSS twice a second; keeps the highest per phase."""

    def __init__(self, kiosk: KioskProcess) -> None:
        super().__init__(name="bench-rss", daemon=True)
        self.kiosk, self.phase = kiosk, "idle"
        self.peaks: dict[str, int] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            try:
                rss = self.kiosk.memory()["rss_kb"]
            except (OSError, AssertionError):
                continue
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0), rss)


def _pace_officer(kiosk: KioskProcess, officer_id: str, pace_s: float, seconds: float | None,
                  stop: threading.Event) -> Officer:
    officer = Officer(kiosk.base_url, officer_id, stop, pace_s=pace_s, with_photo=True)
    officer.start()
    if seconds is not None:
        stop.wait(seconds)
        stop.set()
        officer.join(30)
    return officer


def _folder(keep: Path | None) -> contextlib.AbstractContextManager[str]:
    if keep is None:
        return tempfile.TemporaryDirectory(prefix="kiosk-bench-outage-")
    if keep.exists() and any(keep.iterdir()):
        raise UplinkError(f"--keep {keep}: the folder is not empty (a run needs its own)")
    keep.mkdir(parents=True, exist_ok=True)
    return contextlib.nullcontext(str(keep))


def _post_mortem(store: Store, kiosk: KioskProcess, hq: HQ, broker: LocalBroker) -> str:
    """What a timed-out wait says about both ends: enough to tell a dead thread from a slow one."""
    def tail(lines: list[str]) -> str:
        return "".join(lines[-15:]).strip() or "(nothing)"

    try:
        uplink = json.dumps(status.snapshot(store), default=str)
    except Exception as exc:  # the post-mortem must not hide the timeout it explains
        uplink = f"(unreadable: {exc})"
    alive = {name: process is not None and process.poll() is None
             for name, process in (("kiosk", kiosk.process), ("hq", hq.process), ("broker", broker.process))}
    return (f"processes alive: {alive}\nkiosk uplink status: {uplink}\n"
            f"kiosk run's last lines:\n{tail(kiosk.stderr)}\nHQ ingest's last lines:\n{tail(hq.stderr)}")


def run(settings: Settings, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    say = progress or (lambda _text: None)
    with _folder(settings.keep) as tmp:
        root = Path(tmp)
        # Started inside the try below: a kiosk config refused here leaves no broker behind.
        broker = LocalBroker(root / "broker")
        hq = HQ(root / "hq", broker.url)
        extra = ("" if settings.inflight_captures is None
                 else f"max_inflight_captures = {settings.inflight_captures}\n")
        kiosk = KioskProcess(root / "kiosk", broker.url, hq.public_key, biometric_key=True,
                             officers=settings.officers + 1, uplink_extra=extra)
        assert kiosk.public_key is not None
        hq.enrol(kiosk.config.kiosk.post_id, kiosk.config.kiosk.kiosk_id, kiosk.public_key)
        sampler = _Sampler(kiosk)
        try:
            broker.start()
            hq.start()
            kiosk.start()
            kiosk.wait_ready(90)
            store = Store(kiosk.config.db_path)
            wait_until(lambda: bool(status.snapshot(store)["connected"]), 30, "the uplink to connect")
            sampler.start()
            desk = f"officer{settings.officers + 1}"
            idle = _pace_officer(kiosk, desk, settings.pace_s, settings.idle_s, threading.Event())
            wait_until(lambda: outbox_rows(store) == 0, 60, "the idle crossings to drain")
            memory_idle = kiosk.memory()

            say(f"broker down; recording {settings.crossings} crossings with photos")
            broker.stop()
            sampler.phase = "recording"
            stop = threading.Event()
            recorders = [Officer(kiosk.base_url, f"officer{n}", stop, with_photo=True)
                         for n in range(1, settings.officers + 1)]
            started = time.monotonic()
            for officer in recorders:
                officer.start()
            while sum(len(o.desk.acknowledged) for o in recorders) < settings.crossings:
                if any(o.desk.refused for o in recorders):
                    raise UplinkError(f"a crossing was refused: {[o.desk.refused[:1] for o in recorders]}")
                time.sleep(0.05)
            stop.set()
            for officer in recorders:
                officer.join(60)
            recording_s = time.monotonic() - started
            backlog = outbox_rows(store)
            backlog_last = _last_seq(store)
            memory_recorded = kiosk.memory()

            say(f"broker up; draining {backlog} outbox rows")
            sampler.phase = "draining"
            broker.start()
            up_at = time.monotonic()
            draining_stop = threading.Event()
            during = _pace_officer(kiosk, desk, settings.pace_s, None, draining_stop)
            try:
                # Both ends reconnect with backoff: the first receipt says when the link is really back
                # (printed; a late one is a finding, so it is waited for well past any backoff).
                wait_until(lambda: outbox_rows(store, backlog_last) < backlog, FIRST_RECEIPT_TIMEOUT_S,
                           "the first receipt")
                first_receipt_s = time.monotonic() - up_at
                wait_until(lambda: outbox_rows(store, backlog_last) == 0, settings.drain_timeout_s,
                           "the backlog to drain")
            except UplinkError as exc:
                raise UplinkError(f"{exc}\n{_post_mortem(store, kiosk, hq, broker)}") from None
            drain_s = time.monotonic() - up_at
            draining_stop.set()
            during.join(30)
            # The officer's own crossings and photos, recorded during the drain, go last.
            wait_until(lambda: outbox_rows(store) == 0, settings.drain_timeout_s, "the officer's own crossings to drain")
            memory_drained = kiosk.memory()
            sampler.done.set()
            with store.lock:
                kiosk_ids = [row[0] for row in store.conn.execute("SELECT id FROM crossings ORDER BY seq")]
                photos = store.conn.execute(
                    "SELECT count(*) FROM captures WHERE crossing_id IS NOT NULL").fetchone()[0]
            store.close()
        finally:
            sampler.done.set()
            kiosk.stop()
            hq.stop()
            broker.stop()
        at_hq = hq.crossings()
        complete = sum(1 for c in hq.captures() if c["complete"] and c["bytes"] == c["total"] > 0)
    acknowledged = {cid for o in [*recorders, idle, during] for cid in o.desk.acknowledged}
    hq_ids = [c["id"] for c in at_hq]
    in_order = hq_ids == kiosk_ids
    figures: dict[str, Any] = {
        "crossings": settings.crossings,
        "inflight_captures": kiosk.config.uplink.capture_slots,
        "recorded_offline": sum(len(o.desk.acknowledged) for o in recorders),
        "recording_s": round(recording_s, 1),
        "recorded_per_s": round(sum(len(o.desk.acknowledged) for o in recorders) / recording_s, 1),
        "backlog_rows": backlog,
        "drain_s": round(drain_s, 1),
        "first_receipt_s": round(first_receipt_s, 1),
        "drained_rows_per_s": round(backlog / max(drain_s - first_receipt_s, 1e-3), 1),
        "record_ms_idle": quantiles(idle.desk.latency_ms),
        "record_ms_while_draining": quantiles(during.desk.latency_ms),
        "memory_kb": {"idle": memory_idle["rss_kb"], "after_recording": memory_recorded["rss_kb"],
                      "after_drain": memory_drained["rss_kb"], "peak": memory_drained["peak_rss_kb"],
                      "sampled_peaks": sampler.peaks},
        "hq": {"held": len(hq_ids), "exactly_once_in_order": in_order,
               "missing": len(set(kiosk_ids) - set(hq_ids)), "photos_complete": complete,
               "photos_on_kiosk": photos},
        "acknowledged_present": acknowledged <= set(kiosk_ids),
    }
    figures["ok"] = (in_order and complete == photos
                     and photos == len(kiosk_ids) and figures["acknowledged_present"])
    return figures
