"""`kiosk bench powercut`: cut the kiosk's power at random moments while officers record, then count.

The campaign (``campaign``) does not know how deep the cut goes. It drives a ``Target``:
start it, wait for READY and a healthy API, let officers record over HTTP for a random
while, cut it, start it again; at the end stop it and ask it what it holds (``inspect``).
``ProcessTarget`` is ``kiosk run`` killed with SIGKILL (the process dies; the kernel keeps
what was written). A machine-depth target (the booted image under qemu, killed with the
guest's unflushed page cache) implements the same five methods; the campaign, the
officers, HQ and the counting stay as they are.

What is counted, against what the officers saw: every crossing whose 201 came back must be
on the kiosk exactly once, and at HQ exactly once, in kiosk order; ``kiosk db check`` and
``kiosk audit verify`` pass; the lists screen, the uplink key loads, the config reads.
"""

from __future__ import annotations

import collections
import random
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from appliance.bench.rig import (
    HQ,
    OFFICER_PIN,
    KioskProcess,
    LocalBroker,
    Officer,
    Start,
    quantiles,
)
from appliance.errors import UplinkError
from appliance.storage.store import Store
from appliance.uplink import outbox, protocol
from appliance.uplink.client import signing_key_path


@dataclass
class Inspection:
    """What a target holds after the campaign: crossing ids in seq order (with repeats) and its own checks."""

    crossing_ids: list[str]
    checks: dict[str, bool]
    problems: list[str] = field(default_factory=list)


class Target(Protocol):
    """A kiosk the campaign can power-cut. ``base_url`` is its API as the officers reach it."""

    base_url: str

    def start(self) -> None:
        """Power it on (exec the service, boot the machine); returns at once."""

    def wait_ready(self, timeout: float) -> Start:
        """Block until READY and a healthy API; the times are from ``start()``."""

    def cut(self) -> None:
        """Cut the power now."""

    def drained(self) -> bool:
        """True once its outbox is empty (every crossing receipted by HQ)."""

    def stop(self) -> None:
        """A clean shutdown at the end of the campaign."""

    def inspect(self) -> Inspection:
        """After ``stop()``: its crossings and its own integrity checks."""


class ProcessTarget:
    """``kiosk run`` as a process on this machine; the cut is SIGKILL."""

    def __init__(self, kiosk: KioskProcess) -> None:
        self.kiosk = kiosk
        self.base_url = kiosk.base_url

    def start(self) -> None:
        self.kiosk.start()

    def wait_ready(self, timeout: float) -> Start:
        return self.kiosk.wait_ready(timeout)

    def cut(self) -> None:
        self.kiosk.cut()

    def drained(self) -> bool:
        with Store(self.kiosk.config.db_path) as store:
            return outbox.depth(store) == 0

    def stop(self) -> None:
        self.kiosk.stop()

    def inspect(self) -> Inspection:
        kiosk, problems = self.kiosk, []
        checks: dict[str, bool] = {}
        for name, args in (("db_check", ("db", "check", "--json")), ("audit_verify", ("audit", "verify", "--json")),
                           ("config_open", ("config", "show", "--json"))):
            done = kiosk.kiosk_command(*args)
            checks[name] = done.returncode == 0
            if done.returncode:
                problems.append(f"kiosk {' '.join(args)}: exit {done.returncode}: {(done.stdout + done.stderr)[-500:]}")
        # The list indexes open and answer: a listed document is a hit, through the real command.
        done = kiosk.kiosk_command("screen", "--json", "--document", "UTO:ZZ1234567")
        checks["lists_open"] = done.returncode == 0 and '"documents"' in done.stdout and "ZZ1234567" in done.stdout
        if not checks["lists_open"]:
            problems.append(f"kiosk screen: exit {done.returncode}: {(done.stdout + done.stderr)[-500:]}")
        try:
            protocol.load_private_key(signing_key_path(kiosk.config))
            checks["keys_open"] = True
        except UplinkError as exc:
            checks["keys_open"] = False
            problems.append(str(exc))
        with Store(kiosk.config.db_path) as store:
            with store.lock:
                ids = [row[0] for row in store.conn.execute("SELECT id FROM crossings ORDER BY seq")]
        return Inspection(crossing_ids=ids, checks=checks, problems=problems)


@dataclass
class Settings:
    cuts: int = 500
    officers: int = 3
    max_uptime_s: float = 1.5  # a cut lands uniformly within this long after READY
    startup_cut_share: float = 0.1  # this share of cuts lands during start-up instead
    seed: int = 15
    ready_timeout_s: float = 90.0
    drain_timeout_s: float = 300.0


def campaign(target: Target, hq: HQ, settings: Settings,
             progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Cut ``target`` ``settings.cuts`` times while officers record; returns the counts (see the module docstring)."""
    rng = random.Random(settings.seed)
    stop = threading.Event()
    # A target may name its officers (the booted image has only its provisioned supervisor).
    known = getattr(target, "officers", None) or [(f"officer{n}", OFFICER_PIN) for n in range(1, settings.officers + 1)]
    officers = [Officer(target.base_url, known[n % len(known)][0], stop, pin=known[n % len(known)][1])
                for n in range(settings.officers)]
    starts: list[Start] = []
    startup_cuts = 0
    target.start()
    starts.append(target.wait_ready(settings.ready_timeout_s))
    for officer in officers:
        officer.start()
    started = time.monotonic()
    for number in range(settings.cuts):
        if not hq.alive():
            raise UplinkError("HQ ingest died during the campaign")
        if rng.random() < settings.startup_cut_share:
            # Cut while the service starts: migrations, index clean-up, the uplink's first connect.
            last = starts[-1].health_s or 1.0
            target.cut()
            target.start()
            time.sleep(rng.uniform(0.0, last))
            startup_cuts += 1
        else:
            time.sleep(rng.uniform(0.0, settings.max_uptime_s))
        target.cut()
        target.start()
        starts.append(target.wait_ready(settings.ready_timeout_s))
        if progress is not None:
            progress(number + 1, settings.cuts)
    recording_s = time.monotonic() - started
    # The last start stays up: officers stop, and the outbox drains to HQ.
    stop.set()
    for officer in officers:
        officer.join(60)
    deadline = time.monotonic() + settings.drain_timeout_s
    while not target.drained():
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    drained = target.drained()
    target.stop()
    return count(target.inspect(), hq.crossings(), officers, starts, startup_cuts, recording_s, drained, settings)


def count(inspection: Inspection, at_hq: list[dict[str, Any]], officers: list[Officer], starts: list[Start],
          startup_cuts: int, recording_s: float, drained: bool, settings: Settings) -> dict[str, Any]:
    acknowledged = [cid for officer in officers for cid in officer.desk.acknowledged]
    on_kiosk = collections.Counter(inspection.crossing_ids)
    hq_ids = [c["id"] for c in at_hq]
    on_hq = collections.Counter(hq_ids)
    lost = [cid for cid in acknowledged if cid not in on_kiosk]
    kiosk_order = list(dict.fromkeys(inspection.crossing_ids))
    missing_at_hq = [cid for cid in kiosk_order if cid not in on_hq]
    ready = [s.ready_s for s in starts if s.ready_s is not None]
    health = [s.health_s for s in starts if s.health_s is not None]
    figures: dict[str, Any] = {
        "cuts": settings.cuts,
        "cuts_during_startup": startup_cuts,
        "officers": settings.officers,
        "recording_s": round(recording_s, 1),
        "acknowledged": len(acknowledged),
        "present": sum(1 for cid in acknowledged if cid in on_kiosk),
        "lost": len(lost),
        "duplicated": sum(1 for n in on_kiosk.values() if n > 1),
        # Requests the cut left without an answer: each may or may not have been committed.
        "unanswered": sum(o.desk.unanswered for o in officers),
        "stored_unacknowledged": len(set(on_kiosk) - set(acknowledged)),
        "refused": sum(len(o.desk.refused) for o in officers),
        "hq": {"held": len(hq_ids), "missing": len(missing_at_hq), "duplicated": sum(1 for n in on_hq.values() if n > 1),
               "foreign": len(set(on_hq) - set(on_kiosk)), "in_kiosk_order": hq_ids == kiosk_order,
               "drained": drained},
        "recovery_s": {"to_ready": quantiles(ready), "to_health": quantiles(health)},
        "checks": inspection.checks,
        "problems": inspection.problems[:10] + [r for o in officers for r in o.desk.refused][:10],
    }
    figures["ok"] = (figures["lost"] == 0 and figures["duplicated"] == 0 and figures["refused"] == 0
                     and figures["acknowledged"] > 0 and all(inspection.checks.values())
                     and figures["hq"]["missing"] == 0 and figures["hq"]["duplicated"] == 0
                     and figures["hq"]["foreign"] == 0 and figures["hq"]["in_kiosk_order"] and drained)
    return figures


def run(settings: Settings, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """The process-depth campaign on a throw-away kiosk, broker and HQ."""
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-powercut-") as tmp:
        root = Path(tmp)
        broker = LocalBroker(root / "broker").start()
        try:
            hq = HQ(root / "hq", broker.url)
            kiosk = KioskProcess(root / "kiosk", broker.url, hq.public_key, officers=settings.officers)
            assert kiosk.public_key is not None  # made because a broker is configured
            hq.enrol(kiosk.config.kiosk.post_id, kiosk.config.kiosk.kiosk_id, kiosk.public_key)
            hq.start()
            target = ProcessTarget(kiosk)
            try:
                figures = campaign(target, hq, settings, progress)
            finally:
                target.stop()
                hq.stop()
        finally:
            broker.stop()
    return {"depth": "process", **figures}
