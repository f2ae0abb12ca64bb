"""`kiosk bench uplink`: drain a backlog through a real broker, beside plain one-JSON-per-crossing paho QoS 1.

Both runs send the same crossings through the same local mosquitto, each through a
byte-counting TCP relay, so "bytes on the wire" is what really crossed the socket in
both directions (MQTT headers, acknowledgements and receipts included). The kiosk run
only counts as drained when HQ's receipts have emptied the outbox; the baseline is done
at its last PUBACK, which flatters the baseline (it proves nothing reached HQ's database).
HQ ingest runs as its own process, as it would on another machine.
"""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Iterator

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from appliance import config as config_module
from appliance.bench.rig import LocalBroker, quantiles, wait_for_line
from appliance.domain import clock
from appliance.errors import UplinkError
from appliance.storage.officers import Officers
from appliance.storage.store import Store
from appliance.uplink import outbox, protocol
from appliance.uplink.client import Uplink
from appliance.workflow import crossings as workflow
from hq.db import HQDatabase

SURNAMES = ["OKAFOR", "DIALLO", "TRAORE", "NDAYISHIMIYE", "KONE", "MUSA", "IBRAHIM", "ASANOV", "BAKIROV",
            "OUEDRAOGO", "NIYONZIMA", "SAWADOGO", "COULIBALY", "ABDULLAHI", "MAMADOU", "TOURE"]
GIVEN = ["AMINATA", "IBRAHIM", "JEAN PIERRE", "FATOUMATA", "AIBEK", "GULNARA", "MOUSSA", "CHIDI", "ALINE"]
STATES = ["BDI", "MLI", "NER", "KGZ", "NGA", "BFA", "CIV", "SEN", "UTO"]


def synthetic_crossings(count: int, post_id: str, kiosk_id: str, seed: int = 7) -> list[dict[str, Any]]:
    """Crossing records shaped exactly like crossings.record's, with varied travellers."""
    rng = random.Random(seed)
    start = clock.utcnow() - timedelta(days=3)
    rows = []
    for seq in range(1, count + 1):
        state = rng.choice(STATES)
        birth = f"{rng.randint(1940, 2010)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        rows.append({
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "seq": seq, "post_id": post_id,
            "kiosk_id": kiosk_id, "officer_id": f"officer{rng.randint(1, 6)}",
            "direction": rng.choice(["entry", "exit"]),
            "recorded_at": clock.iso(start + timedelta(seconds=seq * 25 + rng.randint(0, 20))),
            "training": False, "document_source": "mrz", "document_code": "P", "issuing_state": state,
            "document_number": f"{rng.choice('ABCDEFGHJK')}{rng.randint(10_000_000, 99_999_999)}",
            "surname": rng.choice(SURNAMES), "given_names": rng.choice(GIVEN), "nationality": state,
            "birth_date": birth, "sex": rng.choice("MF"), "expiry_date": f"{rng.randint(2027, 2036)}-06-30",
            "document_checks": {"document_number": True, "birth_date": True, "expiry_date": True, "composite": True},
            "screening": {"hits": [], "lists": {"persons": "2026-11-01", "documents": "2026-11-20"}},
            "decision": "cleared", "decision_reason": "no hits", "note": "",
            "outcome": None, "outcome_by": None, "outcome_at": None, "outcome_note": None,
        })
    return rows


class CountingRelay:
    """A TCP relay to the broker that counts every byte in both directions."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.bytes = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="bench-relay", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                with self._lock:
                    self.bytes += len(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.server.close()


@contextmanager
def local_broker(directory: Path) -> Iterator[int]:
    broker = LocalBroker(directory).start()
    try:
        yield broker.port
    finally:
        broker.stop()


def run_baseline(port: int, crossings: list[dict[str, Any]], topic_name: str) -> dict[str, float]:
    """Plain paho, one JSON message per crossing, QoS 1; done at the last PUBACK."""
    relay = CountingRelay(port)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-json-{uuid.uuid4().hex[:8]}",
                         protocol=paho.MQTTv311)
    client.connect("127.0.0.1", relay.port)
    client.loop_start()
    payloads = [json.dumps(c).encode() for c in crossings]
    started = time.perf_counter()
    infos = [client.publish(topic_name, payload, qos=1) for payload in payloads]
    for info in infos:
        info.wait_for_publish(120)
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    time.sleep(0.2)
    relay.close()
    return {"seconds": elapsed, "crossings_per_s": len(crossings) / elapsed, "bytes": relay.bytes,
            "bytes_per_crossing": relay.bytes / len(crossings)}


def run_kiosk(port: int, crossings: list[dict[str, Any]], workdir: Path) -> dict[str, Any]:
    """The kiosk's uplink draining the outbox to a real HQ ingest process, done at the last receipt."""
    relay = CountingRelay(port)
    hq_dir = workdir / "hq"
    hq_dir.mkdir()
    hq_public = protocol.generate_key_file(hq_dir / "hq.key")
    (hq_dir / "hq.toml").write_text(textwrap.dedent(f"""
        [hq]
        database = "{hq_dir / 'hq.sqlite3'}"
        signing_key_file = "{hq_dir / 'hq.key'}"
        [broker]
        url = "mqtt://127.0.0.1:{port}"
        client_id = "bench-hq"
    """), encoding="utf-8")
    config = config_module.from_mapping({
        "kiosk": {"post_id": "BENCH", "kiosk_id": "K1", "data_dir": str(workdir / "kiosk")},
        "uplink": {"broker_url": f"mqtt://127.0.0.1:{relay.port}", "hq_public_key": hq_public,
                   "health_interval_s": 3600},
    }, environ={})
    kiosk_public = protocol.generate_key_file(config.kiosk.data_dir / "uplink" / "kiosk_ed25519.key")
    with HQDatabase(str(hq_dir / "hq.sqlite3")) as hq_db:
        hq_db.enrol("BENCH", "K1", kiosk_public)
    with Store(config.db_path) as store:
        hq = subprocess.Popen([sys.executable, "-m", "hq", "ingest", "--config", str(hq_dir / "hq.toml"),
                               "--log-level", "WARNING"], stderr=subprocess.PIPE)
        try:
            wait_for_line(hq, "ingest ready")
            uplink = Uplink(config, store)
            uplink.start()
            deadline = time.monotonic() + 20
            while not uplink.connected and time.monotonic() < deadline:
                time.sleep(0.01)
            officer_desk = _OfficerDesk(store, config)
            idle_ms = officer_desk.record_for(seconds=1.0)
            # The backlog appears at once, as after days offline; the clock starts at its commit,
            # like the baseline's, which starts once its client is connected.
            with store.transaction():
                for crossing in crossings:
                    last_seq = outbox.enqueue(store, "crossing", crossing["id"], crossing)
            started = time.perf_counter()
            # Meanwhile the officer goes on recording travellers: draining must not starve that.
            busy = threading.Thread(target=officer_desk.record_until_stopped, name="bench-officer", daemon=True)
            busy.start()
            while _left(store, last_seq) > 0:
                if hq.poll() is not None:
                    raise UplinkError("HQ ingest died during the benchmark")
                time.sleep(0.005)
            elapsed = time.perf_counter() - started
            officer_desk.stop.set()
            busy.join(10)
            while outbox.depth(store) > 0:  # the officer's own crossings follow the backlog
                if hq.poll() is not None:
                    raise UplinkError("HQ ingest died during the benchmark")
                time.sleep(0.01)
            stats = uplink.sender.stats
            uplink.stop()
        finally:
            hq.terminate()
            hq.wait(10)
    relay.close()
    with HQDatabase(str(hq_dir / "hq.sqlite3")) as held:
        at_hq = len(held.crossings())
    expected = len(crossings) + len(idle_ms) + len(officer_desk.busy_ms)
    if at_hq != expected:
        raise UplinkError(f"HQ holds {at_hq} crossings, expected {expected}")
    # Bytes are counted over everything sent, the officer's few crossings included.
    return {"seconds": elapsed, "crossings_per_s": len(crossings) / elapsed, "bytes": relay.bytes,
            "bytes_per_crossing": relay.bytes / expected, "batches": stats.batches_sent,
            "resent_batches": stats.resends,
            "record_ms_idle": quantiles(idle_ms), "record_ms_while_draining": quantiles(officer_desk.busy_ms)}


def _left(store: Store, last_seq: int) -> int:
    with store.lock:
        return store.conn.execute("SELECT count(*) FROM outbox WHERE seq <= ?", (last_seq,)).fetchone()[0]


PACE_S = 0.1


class _OfficerDesk:
    """Records real crossings through the workflow and times each one, as the touchscreen would."""

    def __init__(self, store: Store, config: config_module.Config) -> None:
        officers = Officers(store, config.security)
        officers.add("bench", "officer", str(random.SystemRandom().randint(10**7, 10**8 - 1)))
        self.officer = officers.get("bench")
        mrz = resources.files("appliance").joinpath("demo_data/specimens.mrz").read_text().split("\n\n")[1]
        self.request = workflow.CrossingRequest(direction="entry", mrz=mrz.strip())
        self.store, self.config = store, config
        self.stop = threading.Event()
        self.busy_ms: list[float] = []

    def _record_one(self) -> float:
        started = time.perf_counter()
        workflow.record(self.store, self.config, self.officer, self.request)
        return (time.perf_counter() - started) * 1000

    def record_for(self, seconds: float) -> list[float]:
        deadline = time.monotonic() + seconds
        samples = []
        while time.monotonic() < deadline:
            samples.append(self._record_one())
            time.sleep(PACE_S)
        return samples

    def record_until_stopped(self) -> None:
        # Ten travellers a second: far busier than any post, yet a pace, not a tight loop
        # that would only measure lock contention.
        while not self.stop.wait(PACE_S):
            self.busy_ms.append(self._record_one())


def run(count: int = 10_000, rounds: int = 3) -> dict[str, Any]:
    """Alternate baseline and kiosk runs ``rounds`` times; figures are each side's median round.

    Alternating, on a shared machine, exposes both sides to the same background load.
    """
    baselines, kiosks = [], []
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-uplink-") as tmp:
        crossings = synthetic_crossings(count, "BENCH", "K1")
        with local_broker(Path(tmp)) as port:
            for number in range(rounds):
                workdir = Path(tmp) / f"round-{number}"
                workdir.mkdir()
                baselines.append(run_baseline(port, crossings, protocol.topic("BENCH", f"J{number}", "crossings-json")))
                kiosks.append(run_kiosk(port, crossings, workdir))
    baseline = _median_round(baselines)
    kiosk = _median_round(kiosks)
    speed = kiosk["crossings_per_s"] / baseline["crossings_per_s"]
    size = kiosk["bytes_per_crossing"] / baseline["bytes_per_crossing"]
    return {
        "crossings": count,
        "rounds": rounds,
        "kiosk": kiosk,
        "baseline": {"name": "paho-mqtt QoS 1, one JSON message per crossing", **baseline},
        "speed_ratio": speed,
        "bytes_ratio": size,
        "all_rounds": {"kiosk_crossings_per_s": [round(r["crossings_per_s"]) for r in kiosks],
                       "baseline_crossings_per_s": [round(r["crossings_per_s"]) for r in baselines]},
        "targets": {"speed_ratio_at_least": 1.0, "bytes_ratio_at_most": 0.5,
                    "met": speed >= 1.0 and size <= 0.5},
    }


def _median_round(results: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(results, key=lambda r: r["crossings_per_s"])[len(results) // 2]
