"""`kiosk bench soak`: a month at a solar post with no RTC, played in under an hour.

Each simulated day is one boot of the board: ``kiosk run`` starts in the morning on that
day's calendar (``KIOSK_CLOCK_OFFSET_S``) with a boot id of its own (``[time.simulated]
boot_id``), its clock restarted from the time saved at the last shutdown (a Pi without an
RTC), so it lags the truth by every night so far. Officers record ``per_day`` crossings,
each with a 640x480 face photo, over the local API. Every ``uplink_every`` days the uplink
comes up for up to an hour (broker and HQ ingest, HQ on the true calendar) after the first
third of the day; on the other days a supervisor sets the time from a watch (up to 20 s
off) after the first tenth. At night the battery drops below the power policy's critical
level and the policy shuts the kiosk down cleanly. The data partition is a loop-mounted
ext4 file of ``partition_mib`` (the card), with the kiosk's default storage budget.

At the end (the last day always has the uplink, kept up until the outbox is empty) the
figures say whether HQ holds every acknowledged crossing exactly once in kiosk order with a
time that is right within its stated uncertainty, either as recorded (a trusted source) or
as HQ re-anchored it; how full the partition got against its budget each night; every
night's shutdown; and the resident memory of each day's ``kiosk run`` and HQ's ingest, so a
growth from week to week shows. The named peer is the first week: the last week's memory,
boot time and record latency are printed beside it.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import httpx

from appliance import config as config_module
from appliance.bench.rig import (
    HQ,
    MRZ_OF_DEMO,
    OFFICER_PIN,
    KioskProcess,
    LocalBroker,
    outbox_rows,
    process_memory,
    quantiles,
    wait_until,
)
from appliance.domain import clock
from appliance.errors import UplinkError
from appliance.storage import budget
from appliance.storage.officers import Officers
from appliance.storage.store import Store
from hq import reanchor
from hq.db import HQDatabase

SUPERVISOR_ID, SUPERVISOR_PIN = "soaksup", "615204"
WATCH_ERROR_S = 20.0  # a supervisor's watch is this far off at most
MORNING_BATTERY, NIGHT_BATTERY = 80, 3  # percent: above every level / below critical
SLACK_S = 1.0  # the rig's own timing: a request's send and answer bracket the recorded time


@dataclass
class Settings:
    days: int = 30
    per_day: int = 300
    uplink_every: int = 3
    officers: int = 2
    partition_mib: int = 256
    window_s: float = 3600.0  # the uplink's hour, as a cap: it closes once the outbox is empty
    seed: int = 7


@dataclass
class Recorded:
    id: str
    day: int
    sent: datetime  # true time the request left the officer
    answered: datetime  # true time its 201 came back


@dataclass
class Day:
    index: int
    uplink: bool
    boot_s: float = 0.0
    shutdown_s: float = 0.0
    exit_code: int | None = None
    clock_behind_s: float = 0.0  # the board's clock against the truth at boot
    rss_kb: int = 0
    hq_rss_kb: int | None = None
    fill_percent: float = 0.0
    level: str = ""
    latency_ms: list[float] = field(default_factory=list)
    drained_s: float | None = None


class _Calendar:
    """The truth of the simulated month and the board's clock, as offsets from the machine's clock."""

    def __init__(self, first_morning: datetime) -> None:
        self.first_morning = first_morning
        self.truth_offset = 0.0
        self.board_offset = 0.0
        self._saved_board_time: float | None = None  # the board's clock at the last shutdown, epoch s

    def morning(self, day: int) -> None:
        now = time.time()
        self.truth_offset = (self.first_morning + timedelta(days=day)).timestamp() - now
        # No RTC: the board's clock starts from the time it saved at the last shutdown.
        self.board_offset = self.truth_offset if self._saved_board_time is None else self._saved_board_time - now

    def night(self) -> None:
        self._saved_board_time = time.time() + self.board_offset

    def truth(self) -> datetime:
        return datetime.fromtimestamp(time.time() + self.truth_offset, timezone.utc)


def _photos(directory: Path, count: int, seed: int) -> None:
    """Face-photo-sized JPEGs (640x480, about 60 KB each) for the simulated camera."""
    import cv2
    import numpy as np

    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for n in range(count):
        image = cv2.GaussianBlur(rng.integers(40, 220, (480, 640, 3), dtype=np.uint8), (5, 5), 0)
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
        assert ok
        (directory / f"face-{n:02d}.jpg").write_bytes(data.tobytes())


class _Card:
    """A loop-mounted ext4 file playing the SD card's data partition."""

    def __init__(self, image: Path, mountpoint: Path, size_mib: int) -> None:
        self.image, self.mountpoint, self.size_mib = image, mountpoint, size_mib
        self.mounted = False

    def __enter__(self) -> _Card:
        if os.geteuid() != 0:
            raise UplinkError("the soak needs root: a loop-mounted ext4 file plays the card's data partition")
        for tool in ("mkfs.ext4", "mount", "umount"):
            if shutil.which(tool) is None:
                raise UplinkError(f"the soak needs {tool} (apt install e2fsprogs mount)")
        with open(self.image, "wb") as sparse:
            sparse.truncate(self.size_mib * 1024 * 1024)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "kiosk-data", str(self.image)], check=True,
                       capture_output=True)
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        mounted = subprocess.run(["mount", "-o", "loop", str(self.image), str(self.mountpoint)],
                                 capture_output=True, text=True)
        if mounted.returncode != 0:
            raise UplinkError(f"cannot loop-mount the card: {mounted.stderr.strip()}")
        self.mounted = True
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.mountpoint)], capture_output=True)
            self.mounted = False


def _extra_config(battery: Path, camera: Path, boot_id: str) -> str:
    return textwrap.dedent(f"""
        [storage]
        housekeeping_interval_s = 2

        [time]
        sources = ["ntp", "rtc", "gps", "hq"]

        [time.simulated]
        ntp_synchronized = false
        boot_id = "{boot_id}"

        [hardware.simulated]
        battery_file = "{battery}"
        camera_dir = "{camera}"

        [hardware.power_policy]
        poll_interval_s = 0.5
        shutdown_command = ["sh", "-c", "kill -TERM $PPID"]
    """)


class _Desk(threading.Thread):
    """One officer recording ``count`` crossings with photos; keeps each one's true send and answer times."""

    def __init__(self, kiosk: KioskProcess, officer_id: str, count: int, day: int, calendar: _Calendar) -> None:
        super().__init__(name=f"soak-{officer_id}", daemon=True)
        self.base_url, self.officer_id, self.count, self.day, self.calendar = \
            kiosk.base_url, officer_id, count, day, calendar
        self.recorded: list[Recorded] = []
        self.latency_ms: list[float] = []
        self.error: str | None = None
        self._rng = random.Random(f"{officer_id}-{day}")

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self.base_url, timeout=60.0) as client:
                login = client.post("/api/login", json={"officer_id": self.officer_id, "pin": OFFICER_PIN})
                login.raise_for_status()
                headers = {"Authorization": f"Bearer {login.json()['token']}"}
                for _ in range(self.count):
                    started, sent = time.perf_counter(), self.calendar.truth()
                    photo = client.post("/api/captures/photo", headers=headers)
                    if photo.status_code != 201:
                        raise UplinkError(f"photo refused: {photo.status_code} {photo.text[:200]}")
                    body = {"direction": self._rng.choice(["entry", "exit"]), "mrz": MRZ_OF_DEMO,
                            "capture_ids": [photo.json()["capture_id"]]}
                    response = client.post("/api/crossings", json=body, headers=headers)
                    if response.status_code != 201:
                        raise UplinkError(f"crossing refused: {response.status_code} {response.text[:200]}")
                    self.latency_ms.append((time.perf_counter() - started) * 1000)
                    self.recorded.append(Recorded(response.json()["id"], self.day, sent, self.calendar.truth()))
        except (httpx.HTTPError, UplinkError) as exc:
            self.error = f"{self.officer_id}: {exc}"


def _record(kiosk: KioskProcess, officers: list[str], count: int, day: Day, calendar: _Calendar) -> list[Recorded]:
    shares = [count // len(officers) + (1 if n < count % len(officers) else 0) for n in range(len(officers))]
    desks = [_Desk(kiosk, officer, share, day.index, calendar) for officer, share in zip(officers, shares) if share]
    for desk in desks:
        desk.start()
    for desk in desks:
        desk.join(3600)
    errors = [desk.error for desk in desks if desk.error]
    if errors:
        raise UplinkError(f"day {day.index + 1}: {errors[0]}")
    day.latency_ms += [ms for desk in desks for ms in desk.latency_ms]
    return [item for desk in desks for item in desk.recorded]


def _hq_rss_kb(hq: HQ) -> int | None:
    try:
        return process_memory(hq.process.pid)["rss_kb"] if hq.process else None
    except OSError:
        return None  # ingest is gone: the day's figures say so rather than fail


def _set_boot(kiosk: KioskProcess, boot_id: str, board_offset: float) -> None:
    text = kiosk.config_path.read_text(encoding="utf-8")
    lines = [f'boot_id = "{boot_id}"' if line.startswith("boot_id = ") else line for line in text.splitlines()]
    kiosk.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    kiosk.env[clock.OFFSET_VARIABLE] = f"{board_offset:.6f}"


def _supervisor_sets_time(kiosk: KioskProcess, calendar: _Calendar, rng: random.Random) -> None:
    watch = calendar.truth() + timedelta(seconds=rng.uniform(-WATCH_ERROR_S, WATCH_ERROR_S))
    result = subprocess.run(
        [*_kiosk_command(), "time", "set", watch.strftime("%Y-%m-%dT%H:%M:%SZ"), "--supervisor", SUPERVISOR_ID],
        input=SUPERVISOR_PIN + "\n", env=kiosk.env, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise UplinkError(f"kiosk time set failed: {result.stderr.strip()[-500:]}")


def _kiosk_command() -> list[str]:
    return [sys.executable, "-m", "appliance"]


def _night(kiosk: KioskProcess, battery: Path, day: Day, timeout: float = 120.0) -> None:
    """The battery runs down: the power policy must shut the kiosk down by itself."""
    process = kiosk.process
    assert process is not None
    day.rss_kb = kiosk.memory()["rss_kb"]
    battery.write_text(f"{NIGHT_BATTERY}\n")
    started = time.monotonic()
    try:
        day.exit_code = process.wait(timeout)
    except subprocess.TimeoutExpired:
        kiosk.cut()
        raise UplinkError(f"day {day.index + 1}: the power policy did not shut the kiosk down within "
                          f"{timeout:.0f} s of the battery reaching {NIGHT_BATTERY} %") from None
    day.shutdown_s = time.monotonic() - started
    kiosk.stop()  # closes the notify socket; the process has already gone


def _uplink_window(kiosk: KioskProcess, store: Store, broker: LocalBroker, hq: HQ, calendar: _Calendar,
                   day: Day, settings: Settings, officers: list[str], count: int) -> list[Recorded]:
    """The uplink up for up to an hour: HQ on the true calendar, officers recording meanwhile."""
    hq.env = {**os.environ, clock.OFFSET_VARIABLE: f"{calendar.truth_offset:.6f}"}
    broker.start()
    hq.start()
    try:
        backlog = outbox_rows(store)
        wait_until(lambda: outbox_rows(store) < backlog or backlog == 0, 120, "the first receipt")
        recorded = _record(kiosk, officers, count, day, calendar)
        # The hour is a cap: the link closes as soon as the outbox is empty.
        day.drained_s = wait_until(lambda: outbox_rows(store) == 0, settings.window_s, "the outbox to drain")
        day.hq_rss_kb = _hq_rss_kb(hq)
    finally:
        hq.stop()
        broker.stop()
    return recorded


def run(settings: Settings, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    say = progress or (lambda _text: None)
    rng = random.Random(settings.seed)
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-soak-") as tmp:
        root = Path(tmp)
        battery, camera = root / "battery", root / "camera"
        battery.write_text(f"{MORNING_BATTERY}\n")
        _photos(camera, 12, settings.seed)
        with _Card(root / "card.img", root / "card", settings.partition_mib) as card:
            broker = LocalBroker(root / "broker")
            hq = HQ(root / "hq", broker.url)
            kiosk = KioskProcess(card.mountpoint, broker.url, hq.public_key, biometric_key=True,
                                 officers=settings.officers,
                                 uplink_extra=_extra_config(battery, camera, "soak-boot"))
            assert kiosk.public_key is not None
            hq.enrol(kiosk.config.kiosk.post_id, kiosk.config.kiosk.kiosk_id, kiosk.public_key)
            config = config_module.load(kiosk.config_path, environ=kiosk.env)
            with Store(config.db_path) as store:
                Officers(store, config.security).add(SUPERVISOR_ID, "supervisor", SUPERVISOR_PIN)
            first_morning = datetime.combine(clock.utcnow().date() - timedelta(days=settings.days),
                                             datetime.min.time(), timezone.utc) + timedelta(hours=7)
            calendar = _Calendar(first_morning)
            days: list[Day] = []
            recorded: list[Recorded] = []
            try:
                for n in range(settings.days):
                    last = n == settings.days - 1
                    day = Day(n, uplink=last or (n + 1) % settings.uplink_every == 0)
                    days.append(day)
                    calendar.morning(n)
                    day.clock_behind_s = calendar.truth_offset - calendar.board_offset
                    _set_boot(kiosk, f"soak-{n:02d}-{uuid.uuid4().hex[:8]}", calendar.board_offset)
                    battery.write_text(f"{MORNING_BATTERY}\n")
                    kiosk.start()
                    started = kiosk.wait_ready(180)
                    day.boot_s = started.health_s or 0.0
                    store = Store(config.db_path)
                    try:
                        first = settings.per_day // (3 if day.uplink else 10)
                        recorded += _record(kiosk, kiosk.officer_ids, first, day, calendar)
                        if day.uplink:
                            during = settings.per_day // 3
                            recorded += _uplink_window(kiosk, store, broker, hq, calendar, day, settings,
                                                       kiosk.officer_ids, during)
                            rest = settings.per_day - first - during
                        else:
                            _supervisor_sets_time(kiosk, calendar, rng)
                            rest = settings.per_day - first
                        recorded += _record(kiosk, kiosk.officer_ids, rest, day, calendar)
                        if last:
                            # The month's last crossings and the last night's notice go while the link is up.
                            recorded += _uplink_window(kiosk, store, broker, hq, calendar, day, settings,
                                                       kiosk.officer_ids, 0)
                        fill = budget.measure(config, store)
                    finally:
                        store.close()
                    _night(kiosk, battery, day)
                    calendar.night()
                    with Store(config.db_path) as store:
                        night_fill = budget.measure(config, store)
                    day.fill_percent, day.level = max(fill.percent, night_fill.percent), night_fill.level
                    say(f"day {n + 1}/{settings.days}: {'uplink, ' if day.uplink else ''}clock "
                        f"{day.clock_behind_s / 3600:.1f} h behind, READY+healthy {day.boot_s:.1f} s, "
                        f"fill {day.fill_percent:.0f} % of budget ({day.level}), RSS {day.rss_kb // 1024} MiB, "
                        f"shut down {day.shutdown_s:.1f} s after the battery fell")
                # The last night's notice goes at the next morning's boot, with the uplink up.
                calendar.morning(settings.days)
                _set_boot(kiosk, f"soak-{settings.days:02d}-{uuid.uuid4().hex[:8]}", calendar.board_offset)
                battery.write_text(f"{MORNING_BATTERY}\n")
                kiosk.start()
                kiosk.wait_ready(180)
                with Store(config.db_path) as store:
                    tail = Day(settings.days, uplink=True)
                    _uplink_window(kiosk, store, broker, hq, calendar, tail, settings, kiosk.officer_ids, 0)
                    with store.lock:
                        kiosk_ids = [row[0] for row in store.conn.execute("SELECT id FROM crossings ORDER BY seq")]
                        photos = dict(store.conn.execute(
                            "SELECT json_extract(quality, '$.thumbnail') IS NOT NULL, count(*) FROM captures"
                            " WHERE kind = 'face' GROUP BY 1").fetchall())
                    final_fill = budget.measure(config, store)
                kiosk.stop()
            finally:
                kiosk.stop()
                hq.stop()
                broker.stop()
            audit = kiosk.kiosk_command("audit", "verify")
            held = _hq_crossings(hq)
            hq_photos = sum(1 for c in hq.captures() if c["complete"] and c["bytes"] == c["total"] > 0)
            shutdowns = sum(1 for event in _hq_events(hq) if event.get("kind") == "power.shutdown")
    return _figures(settings, days, recorded, kiosk_ids, held, shutdowns, photos, final_fill, audit.returncode == 0,
                    hq_photos)


def _hq_crossings(hq: HQ) -> list[dict[str, Any]]:
    with HQDatabase(str(hq.database)) as db:
        return reanchor.with_times(db, db.crossings())


def _hq_events(hq: HQ) -> list[dict[str, Any]]:
    with HQDatabase(str(hq.database)) as db:
        return db.events()


def _judge(crossing: dict[str, Any], truth: Recorded) -> str:
    """right (trusted as recorded), reanchored (right as HQ re-anchored it), as_sent (untrusted, left as
    sent) or wrong (outside its own stated uncertainty)."""
    if crossing.get("reanchored_at"):
        at, uncertainty, kind = clock.parse_iso(crossing["reanchored_at"]), crossing["reanchored_uncertainty_s"], \
            "reanchored"
    elif crossing.get("time_source") != "system" and crossing.get("time_uncertainty_s") is not None:
        at, uncertainty, kind = clock.parse_iso(crossing["recorded_at"]), crossing["time_uncertainty_s"], "right"
    else:
        return "as_sent"
    low = truth.sent - timedelta(seconds=uncertainty + SLACK_S)
    high = truth.answered + timedelta(seconds=uncertainty + SLACK_S)
    return kind if low <= at <= high else "wrong"


def _week(days: list[Day], attribute: str, first: bool) -> float | None:
    chosen = days[:7] if first else days[-7:]
    values = [getattr(day, attribute) for day in chosen if getattr(day, attribute)]
    return round(statistics.mean(values), 1) if values else None


def _figures(settings: Settings, days: list[Day], recorded: list[Recorded], kiosk_ids: list[str],
             held: list[dict[str, Any]], shutdowns: int, photos: dict[int, int], final_fill: budget.Fill,
             audit_ok: bool, hq_photos: int) -> dict[str, Any]:
    by_id = {item.id: item for item in recorded}
    hq_ids = [c["id"] for c in held]
    judged: dict[str, int] = {"right": 0, "reanchored": 0, "as_sent": 0, "wrong": 0}
    worst_error_s = 0.0
    for crossing in held:
        truth = by_id.get(crossing["id"])
        if truth is None:
            continue
        verdict = _judge(crossing, truth)
        judged[verdict] += 1
        at = crossing.get("reanchored_at") or crossing["recorded_at"]
        middle = truth.sent + (truth.answered - truth.sent) / 2
        if verdict in ("right", "reanchored"):
            worst_error_s = max(worst_error_s, abs((clock.parse_iso(at) - middle).total_seconds()))
    untrusted_recorded = sum(1 for c in held if c.get("time_source") == "system")
    first_latency = [ms for day in days[:7] for ms in day.latency_ms]
    last_latency = [ms for day in days[-7:] for ms in day.latency_ms]
    hq_rss = [day.hq_rss_kb for day in days if day.hq_rss_kb]
    figures: dict[str, Any] = {
        "days": settings.days, "per_day": settings.per_day, "uplink_every": settings.uplink_every,
        "uplink_days": sum(1 for day in days if day.uplink),
        "acknowledged": len(recorded),
        "hq": {"held": len(hq_ids), "exactly_once_in_order": hq_ids == kiosk_ids,
               "missing": len(set(by_id) - set(hq_ids)), "duplicates": len(hq_ids) - len(set(hq_ids)),
               # Whole or, where the card ran short before it was sent, as a thumbnail: one per crossing.
               "photos_complete": hq_photos},
        "times": {**judged, "recorded_untrusted": untrusted_recorded, "worst_error_s": round(worst_error_s, 1),
                  "clock_behind_at_last_boot_h": round(days[-1].clock_behind_s / 3600, 1)},
        "partition": {"size_mib": settings.partition_mib, "budget_mib": round(final_fill.budget_bytes / 2**20, 1),
                      "max_fill_percent": max(day.fill_percent for day in days),
                      "final_fill_percent": final_fill.percent,
                      "fill_by_day": [day.fill_percent for day in days],
                      "photos_full": photos.get(0, 0), "thumbnails": photos.get(1, 0)},
        "nights": {"shutdowns_by_policy": sum(1 for day in days if day.exit_code is not None),
                   "clean_exits": sum(1 for day in days if day.exit_code == 0),
                   "shutdown_s": quantiles([day.shutdown_s for day in days]),
                   "notices_at_hq": shutdowns},
        "memory_kb": {"kiosk_by_day": [day.rss_kb for day in days],
                      "kiosk_first_week": _week(days, "rss_kb", True), "kiosk_last_week": _week(days, "rss_kb", False),
                      "hq_ingest_by_window": hq_rss},
        "boot_s": {"first_week": _week(days, "boot_s", True), "last_week": _week(days, "boot_s", False)},
        "record_ms": {"first_week": quantiles(first_latency), "last_week": quantiles(last_latency)},
        "audit_verify": audit_ok,
    }
    memory = figures["memory_kb"]
    grew = (memory["kiosk_last_week"] or 0) - (memory["kiosk_first_week"] or 0)
    figures["memory_kb"]["kiosk_growth_kb"] = round(grew)
    figures["ok"] = bool(
        figures["hq"]["exactly_once_in_order"] and not figures["hq"]["missing"] and hq_photos == len(recorded)
        and judged["as_sent"] == 0 and judged["wrong"] == 0
        and judged["right"] + judged["reanchored"] == len(recorded)
        and figures["partition"]["max_fill_percent"] < 100
        and figures["nights"]["clean_exits"] == settings.days and shutdowns == settings.days
        and audit_ok and grew < 32 * 1024)
    return figures
