"""``kiosk bench footprint``: ``kiosk run`` with full-size lists loaded, beside the same kiosk with the demo lists.

The kiosk runs as the service does (``kiosk run``, READY on a notify socket, simulated
hardware) with a persons list (names with aliases, birth dates, face embeddings) and a
documents list applied as signed bundles, its uplink connected to a real mosquitto and
HQ ingest started by the bench. Figures:

- seconds from the exec to READY=1 (the lists open at start-up);
- resident memory idle, and after the officer's crossings;
- CPU used while idle, over a stated number of seconds (% of one core);
- the officer's wait: API record latency (POST /api/crossings with an MRZ and a face
  embedding, so every list is screened) p50/p99 while the uplink drains those crossings.

The peer, measured in the same run, is the same ``kiosk run`` with only the demo lists: the
difference is what the lists cost. Building 10 M documents takes minutes, so the applied
lists are kept in a cache directory keyed by their sizes and seed, and each run links their
index files into a fresh kiosk.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import numpy as np

from appliance.bench import machine
from appliance.bench.rig import HQ, OFFICER_PIN, KioskProcess, LocalBroker, MRZ_OF_DEMO, outbox_rows, quantiles
from appliance.bench.screening import STATES, _numbers, default_cache
from appliance.errors import UplinkError
from appliance.lists import apply as list_apply
from appliance.lists import indexes as list_indexes
from appliance.storage.store import Store
from appliance.uplink import status
from hq import lists as hq_lists

PERSONS_LIST, DOCUMENTS_LIST = "bench-persons", "bench-documents"
LIST_TABLES = ("lists", "watchlist_persons", "watchlist_person_names", "list_bundles")
GOALS = {"rss_mb": 150, "idle_cpu_percent": 1.0, "ready_s": 10.0, "record_p99_ms": 50.0}
# Pi 4 (Cortex-A72 at 1.5 GHz) against this kind of development machine: a single core is
# about 3-4 times slower on this Python work; memory use is about the same. An estimate.
PI4_SLOWDOWN = (3.0, 4.0)


@dataclass
class Settings:
    persons: int = 100_000
    documents: int = 10_000_000
    faces: int = 100_000
    dim: int = 128
    crossings: int = 1000
    idle_s: float = 60.0
    seed: int = 20261202
    cache: Path | None = None


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (from /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- Lists --------------------------------------------------------------------------------

def _persons(settings: Settings) -> Iterator[dict[str, Any]]:
    rng = np.random.default_rng(settings.seed)
    letters = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)
    words = letters[rng.integers(0, 26, (settings.persons * 3, 7))].view("S7").reshape(-1)
    faces = rng.standard_normal((min(settings.faces, settings.persons), settings.dim), dtype=np.float32)
    faces /= np.linalg.norm(faces, axis=1, keepdims=True)
    for i in range(settings.persons):
        surname, given, alias = (w.decode() for w in words[3 * i:3 * i + 3])
        record: dict[str, Any] = {
            "id": f"P{i:07d}", "surname": surname, "given_names": given,
            "aliases": f"{alias}, {given}" + (f"|{surname}, {alias}" if i % 3 == 0 else "") if i % 2 == 0 else "",
            "birth_date": f"{1940 + i % 60}-{1 + i % 12:02d}-{1 + i % 28:02d}", "sex": "MF"[i % 2],
            "nationality": STATES[i % len(STATES)], "document_issuer": "", "document_number": "",
            "reason": "bench"}
        if i < len(faces):
            record["face"] = [round(float(x), 5) for x in faces[i]]
        yield record


def _documents(settings: Settings) -> Iterator[dict[str, Any]]:
    rng = np.random.default_rng(settings.seed + 1)
    chunk = 1_000_000
    for start in range(0, settings.documents, chunk):
        numbers = _numbers(rng, min(chunk, settings.documents - start))
        states = rng.integers(0, len(STATES), len(numbers))
        for number, state in zip(numbers.tolist(), states.tolist()):
            yield {"issuing_state": STATES[state], "document_type": "P", "document_number": number.decode(),
                   "reason": "stolen"}


def cached_lists(settings: Settings, say: Callable[[str], None]) -> tuple[Path, bool]:
    """A kiosk directory with the bench's lists applied (as signed bundles), built once under
    the cache and reused; returns it and whether this call built it."""
    root = (settings.cache or default_cache()) / (f"footprint-p{settings.persons}-d{settings.documents}-"
                                                 f"f{settings.faces}x{settings.dim}-seed{settings.seed}")
    if (root / "ready").exists():
        return root, False
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    say(f"building the lists once into {root} (persons {settings.persons:,}, documents {settings.documents:,})")
    private, public = root / "hq-list.key", root / "hq-list.pub"
    hq_lists.keygen(private, public)
    key = hq_lists.load_private_key(private)
    template = KioskProcess(root / "kiosk", None, None)
    config = template.config.model_copy(
        update={"screening": template.config.screening.model_copy(update={"trusted_key": public})})
    with Store(config.db_path) as store:
        for kind, name, records in (("persons", PERSONS_LIST, _persons(settings)),
                                    ("documents", DOCUMENTS_LIST, _documents(settings))):
            bundle = hq_lists.publish(kind, name, "1", records, key)
            list_apply.apply_bundle(store, config, bundle, actor="bench")
    (root / "ready").write_text(json.dumps({**settings.__dict__, "db_path": str(config.db_path),
                                           "index_root": str(list_indexes.root_for(config))}, default=str))
    return root, True


def adopt_lists(template: Path, kiosk: KioskProcess) -> None:
    """Give ``kiosk`` the template's lists: their SQLite rows copied, their index files
    hard-linked (read-only once built) into the kiosk's own index root."""
    source_root = Path(json.loads((template / "ready").read_text())["index_root"])
    target_root = list_indexes.root_for(kiosk.config)
    for name in (PERSONS_LIST, DOCUMENTS_LIST):
        shutil.copytree(source_root / name, target_root / name, copy_function=_link_or_copy, dirs_exist_ok=True)
    template_db = json.loads((template / "ready").read_text())["db_path"]
    with Store(kiosk.config.db_path) as store:
        # ATTACH cannot run inside a transaction: attach first, copy in one transaction.
        store.conn.execute("ATTACH DATABASE ? AS template", (template_db,))
        try:
            with store.transaction():
                for table in LIST_TABLES:
                    column = "name" if table == "lists" else "list"
                    columns = ", ".join(row[1] for row in store.conn.execute(f"PRAGMA template.table_info({table})")
                                        if row[1] != "seq")
                    store.conn.execute(f"INSERT INTO main.{table} ({columns}) SELECT {columns} FROM template.{table} "
                                       f"WHERE {column} IN (?, ?)", (PERSONS_LIST, DOCUMENTS_LIST))
                store.conn.execute("UPDATE lists SET index_dir = replace(index_dir, ?, ?) WHERE name IN (?, ?)",
                                   (str(source_root), str(target_root), PERSONS_LIST, DOCUMENTS_LIST))
        finally:
            store.conn.execute("DETACH DATABASE template")


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


# -- One kiosk ------------------------------------------------------------------------------

def _login(base_url: str, officer_id: str) -> dict[str, str]:
    response = httpx.post(f"{base_url}/api/login", json={"officer_id": officer_id, "pin": OFFICER_PIN}, timeout=30)
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['token']}"}


def _record(kiosk: KioskProcess, count: int, dim: int, seed: int) -> tuple[list[float], list[str]]:
    """``count`` crossings recorded one after another by one officer: latencies (ms) and refusals."""
    rng = np.random.default_rng(seed)
    headers = _login(kiosk.base_url, kiosk.officer_ids[0])
    latencies, refused = [], []
    with httpx.Client(base_url=kiosk.base_url, timeout=30.0) as client:
        for i in range(count):
            face = rng.standard_normal(dim)
            body = {"direction": "entry" if i % 2 else "exit", "mrz": MRZ_OF_DEMO,
                    "face_embedding": (face / np.linalg.norm(face)).round(5).tolist()}
            started = time.perf_counter()
            response = client.post("/api/crossings", json=body, headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code == 201:
                latencies.append(elapsed)
            else:
                refused.append(f"{response.status_code}: {response.text[:200]}")
    return latencies, refused


def _measure(kiosk: KioskProcess, settings: Settings, with_lists: bool, say: Callable[[str], None]) -> dict[str, Any]:
    kiosk.start()
    start = kiosk.wait_ready(120)
    assert kiosk.process is not None
    pid = kiosk.process.pid
    store = Store(kiosk.config.db_path)
    try:
        deadline = time.monotonic() + 30
        while not status.snapshot(store)["connected"]:
            if time.monotonic() > deadline:
                raise UplinkError("the uplink did not connect within 30 s")
            time.sleep(0.1)
        time.sleep(2)  # past the start-up's own work (integrity check, first connect)
        idle = kiosk.memory()
        figures: dict[str, Any] = {"lists": with_lists, "ready_s": round(start.ready_s or 0, 2),
                                   "health_s": round(start.health_s or 0, 2), "rss_idle_mb": round(idle["rss_kb"] / 1024, 1)}
        if not with_lists:
            return figures
        say(f"idle for {settings.idle_s:.0f} s (CPU)")
        cpu_before, wall_before = _cpu_seconds(pid), time.monotonic()
        time.sleep(settings.idle_s)
        cpu = _cpu_seconds(pid) - cpu_before
        figures["idle_cpu_percent"] = round(100 * cpu / (time.monotonic() - wall_before), 2)
        figures["idle_seconds"] = settings.idle_s
        say(f"recording {settings.crossings} crossings while the uplink drains them")
        latencies, refused = _record(kiosk, settings.crossings, settings.dim, settings.seed)
        backlog_after_recording = outbox_rows(store)
        deadline = time.monotonic() + 300
        while outbox_rows(store) and time.monotonic() < deadline:
            time.sleep(0.2)
        after = kiosk.memory()
        figures.update({
            "record_ms": quantiles(latencies), "first_record_ms": round(latencies[0], 1) if latencies else None,
            "refused": refused[:5], "refused_count": len(refused),
            "outbox_when_recording_ended": backlog_after_recording, "outbox_drained": outbox_rows(store) == 0,
            "rss_after_crossings_mb": round(after["rss_kb"] / 1024, 1),
            "peak_rss_mb": round(after["peak_rss_kb"] / 1024, 1)})
        return figures
    finally:
        store.close()
        kiosk.stop()


def run(settings: Settings, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    say = progress or (lambda _text: None)
    figures: dict[str, Any] = {"machine": machine.describe(), "settings": {
        "persons": settings.persons, "documents": settings.documents, "faces": settings.faces, "dim": settings.dim,
        "crossings": settings.crossings, "idle_s": settings.idle_s}}
    template, built = cached_lists(settings, say)
    figures["lists_cached"] = not built
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-footprint-") as tmp:
        root = Path(tmp)
        broker = LocalBroker(root / "broker").start()
        hq = HQ(root / "hq", broker.url)
        try:
            for name, with_lists in (("demo_lists_only", False), ("with_lists", True)):
                kiosk = KioskProcess(root / name, broker.url, hq.public_key)
                assert kiosk.public_key is not None
                if with_lists:
                    # Only this kiosk records crossings: HQ ingest starts once it is enrolled.
                    hq.enrol(kiosk.config.kiosk.post_id, kiosk.config.kiosk.kiosk_id, kiosk.public_key)
                    hq.start()
                    adopt_lists(template, kiosk)
                say(f"kiosk run ({name.replace('_', ' ')})")
                figures[name] = _measure(kiosk, settings, with_lists, say)
        finally:
            hq.stop()
            broker.stop()
    ours, peer = figures["with_lists"], figures["demo_lists_only"]
    figures["lists_cost_rss_mb"] = round(ours["rss_idle_mb"] - peer["rss_idle_mb"], 1)
    figures["lists_cost_ready_s"] = round(ours["ready_s"] - peer["ready_s"], 2)
    record = ours["record_ms"]
    figures["goals"] = GOALS
    figures["targets"] = {
        "rss_le_150_mb": max(ours["rss_idle_mb"], ours["rss_after_crossings_mb"]) <= GOALS["rss_mb"],
        "idle_cpu_le_1_percent": ours["idle_cpu_percent"] <= GOALS["idle_cpu_percent"],
        "ready_le_10_s": ours["ready_s"] <= GOALS["ready_s"],
        "record_p99_le_50_ms": record["p99"] is not None and record["p99"] <= GOALS["record_p99_ms"],
        "every_crossing_recorded": ours["refused_count"] == 0 and record["n"] == settings.crossings,
    }
    low, high = PI4_SLOWDOWN
    figures["pi4_estimate"] = {
        "note": "an estimate, not a measurement: CPU-bound times x3-4, memory as measured",
        "ready_s": [round(ours["ready_s"] * low, 1), round(ours["ready_s"] * high, 1)],
        "record_p99_ms": None if record["p99"] is None else [round(record["p99"] * low), round(record["p99"] * high)],
        "rss_mb": ours["rss_after_crossings_mb"]}
    figures["machine"]["load_average_at_end"] = machine.load_average()
    return figures
