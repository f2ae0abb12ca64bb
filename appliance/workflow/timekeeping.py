"""Trusted time: which source vouches for a crossing's time, clock jumps, a supervisor setting the time.

The kiosk runs unprivileged and never sets the system clock. Instead it keeps an *anchor*
(appliance.storage.clock_state): the last trusted time it was given, tied to the boot
clock, which never steps. A crossing's time is then

- the system clock, vouched for by NTP, while the kernel says NTP keeps it synchronised;
- else the anchor carried forward on the boot clock (``source`` the anchor's: rtc, gps,
  hq, supervisor, or ntp lost since), its uncertainty grown by the board's drift; the
  system clock is used when it agrees with that within the uncertainty, the carried
  time when it does not (a clock restarted in the past);
- else, with no trusted source since boot, the system clock as it is: ``source``
  "system", uncertainty None (unknown), and the officer's status bar says so.

Every crossing also keeps the boot id and boot-clock seconds, so HQ can re-anchor an
untrusted run once a later crossing of the same boot had a trusted time (hq/reanchor.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from appliance.config import Config
from appliance.domain import clock
from appliance.errors import WorkflowError
from appliance.hw import timesource
from appliance.hw.timesource import TimeReading
from appliance.storage import audit, clock_state
from appliance.storage.clock_state import Anchor, BootPoint
from appliance.storage.officers import Officer, require_role
from appliance.storage.store import Store

log = logging.getLogger(__name__)

UNTRUSTED = "system"


@dataclass(frozen=True)
class Stamp:
    at: datetime
    source: str
    uncertainty_s: float | None
    boot_id: str
    boot_s: float

    def columns(self) -> dict[str, Any]:
        return {"time_source": self.source, "time_uncertainty_s": self.uncertainty_s,
                "boot_id": self.boot_id, "boot_s": round(self.boot_s, 3)}


def _carried(anchor: Anchor, boot_s: float, drift_ppm: float) -> tuple[datetime, float]:
    """The anchor's time carried forward to ``boot_s``, and its uncertainty then."""
    elapsed = max(0.0, boot_s - anchor.boot_s)
    return (clock.parse_iso(anchor.utc) + timedelta(seconds=elapsed),
            anchor.uncertainty_s + elapsed * drift_ppm * 1e-6)


def _ntp(config: Config, wall: datetime) -> TimeReading | None:
    if "ntp" not in config.time.sources:
        return None
    for source in timesource.open_sources(config.time, ("ntp",)):
        return source.read(wall)
    return None


def stamp(store: Store, config: Config, wall: datetime | None = None) -> Stamp:
    """The time to record now, its source and uncertainty, and the boot reference. Never raises for a source."""
    wall = wall or clock.utcnow()
    boot, boot_s = timesource.boot_id(config.time), timesource.boot_seconds()
    try:
        ntp = _ntp(config, wall)
    except Exception:
        log.exception("reading the NTP state failed")
        ntp = None
    if ntp is not None:
        return Stamp(wall, "ntp", ntp.uncertainty_s, boot, boot_s)
    anchor = clock_state.anchor(store, boot) or refresh(store, config, with_gps=False)
    if anchor is None:
        return Stamp(wall, UNTRUSTED, None, boot, boot_s)
    carried, uncertainty = _carried(anchor, boot_s, config.time.drift_ppm)
    off = abs((wall - carried).total_seconds())
    at = wall if off <= uncertainty + config.time.tolerance_s else carried
    return Stamp(at, anchor.source, round(uncertainty, 3), boot, boot_s)


def offer(store: Store, config: Config, source: str, utc: datetime, uncertainty_s: float,
          actor: str = "kiosk") -> Anchor | None:
    """A trusted time from ``source`` now; it becomes the anchor when no anchor of this boot
    is better (smaller uncertainty once carried forward). Returns the new anchor, or None
    when it was not taken. A source's first anchor of a boot is audited (``time.anchor``)."""
    boot, boot_s = timesource.boot_id(config.time), timesource.boot_seconds()
    current = clock_state.anchor(store, boot)
    if current is not None and source != "supervisor":
        _, held = _carried(current, boot_s, config.time.drift_ppm)
        if held < uncertainty_s:
            return None
    seen = clock_state.last_seen(store)
    if seen is not None and source in ("rtc", "gps") and \
            utc < clock.parse_iso(seen.utc) - timedelta(seconds=uncertainty_s + config.time.tolerance_s):
        # An RTC that lost its battery, a GPS without a fix yet: behind a time already seen is not trusted.
        log.warning("time from %s (%s) is before the last time seen (%s); ignored", source, clock.iso(utc), seen.utc)
        return None
    new = Anchor(utc=clock.iso(utc), boot_id=boot, boot_s=boot_s, source=source, uncertainty_s=uncertainty_s)
    clock_state.save_anchor(store, new, actor, audited=current is None or current.source != source)
    return new


def offer_hq(store: Store, config: Config, at: str) -> Anchor | None:
    """HQ's signed time of a receipt (its ``at``) as a trusted time, when [time] sources has "hq".
    A receipt's time that is not a timestamp is logged and ignored (the receipt itself still counts)."""
    if "hq" not in config.time.sources:
        return None
    try:
        utc = clock.parse_iso(at)
    except ValueError:
        log.warning("HQ receipt time %r is not a timestamp; not used as the time", at)
        return None
    return offer(store, config, "hq", utc, config.time.hq_uncertainty_s)


def refresh(store: Store, config: Config, with_gps: bool = True) -> Anchor | None:
    """Read the polled sources (best first) and offer the first that answers; returns the anchor of this boot."""
    wall = clock.utcnow()
    kinds = timesource.POLLED if with_gps else ("ntp", "rtc")
    for source in timesource.open_sources(config.time, kinds):
        try:
            reading = source.read(wall)
        except Exception:
            log.exception("time source %s failed", source.name)
            continue
        if reading is not None:
            offer(store, config, reading.source, reading.utc, reading.uncertainty_s)
            break
    return clock_state.anchor(store, timesource.boot_id(config.time))


def check(store: Store, config: Config) -> dict[str, Any] | None:
    """Compare the clock with the last time seen on the boot clock; audit a jump, keep the time seen,
    then read the sources. Returns the jump found ({direction, seconds, ...}) or None."""
    wall = clock.utcnow()
    now = BootPoint(utc=clock.iso(wall), boot_id=timesource.boot_id(config.time), boot_s=timesource.boot_seconds())
    jump = _jump(clock_state.last_seen(store), now, config)
    if jump is not None:
        log.warning("clock jump: %s", jump)
    clock_state.save_last_seen(store, now, jump)
    refresh(store, config)
    return jump


def _jump(last: BootPoint | None, now: BootPoint, config: Config) -> dict[str, Any] | None:
    if last is None:
        return None
    same_boot = last.boot_id == now.boot_id
    expected = clock.parse_iso(last.utc) + timedelta(seconds=(now.boot_s - last.boot_s) if same_boot else 0)
    delta = (clock.parse_iso(now.utc) - expected).total_seconds()
    if delta < -config.time.tolerance_s:
        direction = "backwards"
    elif same_boot and delta > config.time.max_forward_jump_s:
        # Across a reboot the kiosk was off for a while: forwards is then no jump.
        direction = "forwards"
    else:
        return None
    return {"direction": direction, "seconds": round(delta, 3), "from": last.utc, "to": now.utc,
            "across_boot": not same_boot}


def set_by_supervisor(store: Store, config: Config, supervisor: Officer, when: datetime) -> Anchor:
    """A supervisor's time (from a watch or a phone) as the anchor; audited. Raises Forbidden unless a
    supervisor, WorkflowError for a time without a zone."""
    require_role(supervisor, "supervisor")
    if when.tzinfo is None:
        raise WorkflowError("the time must say its zone (e.g. 2026-12-02T14:05:00Z)")
    seen = clock_state.last_seen(store)
    anchor = offer(store, config, "supervisor", when, config.time.supervisor_uncertainty_s, actor=supervisor.id)
    assert anchor is not None  # a supervisor's time is always taken
    audit.record(store, supervisor.id, "time.set", "supervisor",
                 {"utc": anchor.utc, "system_clock": clock.iso(clock.utcnow()),
                  "last_seen": seen.utc if seen else None})
    return anchor


def status(store: Store, config: Config) -> dict[str, Any]:
    """For the status bar and selftest: ``trusted`` (a trusted source since boot), ``source``, ``uncertainty_s``."""
    current = stamp(store, config)
    return {"trusted": current.source != UNTRUSTED, "source": current.source,
            "uncertainty_s": current.uncertainty_s, "at": clock.iso(current.at)}
