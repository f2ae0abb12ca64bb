"""Photos and templates to HQ against a real mosquitto broker: several captures in flight, each
one chunk at a time, behind crossings, resumed after lost receipts, each complete once at HQ."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from appliance import config as config_module
from appliance.errors import ConfigError
from appliance.hw import open_devices
from appliance.storage.store import Store
from appliance.uplink import outbox, protocol
from appliance.uplink.client import Uplink
from appliance.uplink.telemetry import collect

from .broker import Mosquitto
from .uplink_env import IngestThread, add_officer, enrol, hq_setup, kiosk_setup, record_many, wait_until

CHUNK = 1024


@pytest.fixture
def world(tmp_path):
    broker = Mosquitto(tmp_path / "broker").start()
    hq_config, _hq_path, hq_public = hq_setup(tmp_path / "hq", broker.url)
    config, _path, kiosk_public = kiosk_setup(tmp_path / "kiosk", broker.url, hq_public)
    config.uplink.capture_chunk_bytes = CHUNK
    enrol(hq_config, config, kiosk_public)
    store = Store(config.db_path)
    world: dict[str, Any] = {"broker": broker, "hq": hq_config, "config": config, "store": store,
                             "officer": add_officer(store, config), "uplinks": [], "ingests": [],
                             "devices": open_devices(config.hardware)}
    world["wire"] = Wire(broker, config, protocol.load_public_key(kiosk_public))
    yield world
    for uplink in world["uplinks"]:
        uplink.stop(timeout=2)
    for ingest in world["ingests"]:
        ingest.stop()
    world["wire"].close()
    world["devices"].close()
    store.close()
    broker.kill()


class Wire:
    """What the kiosk publishes, as the broker hands it on: (leaf, payload) in arrival order."""

    def __init__(self, broker: Mosquitto, config, kiosk_key) -> None:
        self.key, self.messages, self.lock = kiosk_key, [], threading.Lock()
        self.prefix = protocol.topic(config.kiosk.post_id, config.kiosk.kiosk_id, "")
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="wire-watch")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port)
        for leaf in ("captures", "crossings"):
            self.client.subscribe(self.prefix + leaf, qos=1)
        self.client.loop_start()
        time.sleep(0.3)  # the subscriptions in place before anything is sent

    def _on_message(self, _client, _userdata, message) -> None:
        received = protocol.open_message(message.payload, message.topic, self.key)
        with self.lock:
            self.messages.append((message.topic.removeprefix(self.prefix), received.payload))

    def chunks(self) -> list[dict[str, Any]]:
        with self.lock:
            return [payload for leaf, payload in self.messages if leaf == "captures"]

    def leaves(self) -> list[str]:
        with self.lock:
            return [leaf for leaf, _ in self.messages]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _queue_captures(store, count: int, size: int) -> dict[str, bytes]:
    blobs = {f"cap-{n}": os.urandom(size + n) for n in range(count)}
    with store.transaction():
        for capture_id in blobs:
            outbox.enqueue(store, "capture", capture_id,
                           {"capture_id": capture_id, "crossing_id": f"crossing-of-{capture_id}", "kind": "face",
                            "format": "jpeg"})
    return blobs


def _uplink(world, blobs: dict[str, bytes]) -> Uplink:
    devices = world["devices"]
    uplink = Uplink(world["config"], world["store"],
                    health=lambda: collect(world["store"], world["config"], devices),
                    capture_bytes=lambda capture_id: (blobs[capture_id], "jpeg"))
    world["uplinks"].append(uplink)
    return uplink


def _ingest(world) -> IngestThread:
    ingest = IngestThread(world["hq"]).start()
    world["ingests"].append(ingest)
    return ingest


def _assert_complete_once(ingest: IngestThread, blobs: dict[str, bytes]) -> None:
    held = ingest.db.captures()
    assert sorted(c["id"] for c in held) == sorted(blobs)  # one row each, none missing
    assert all(c["complete"] and c["data"] == blobs[c["id"]] for c in held)


def test_several_captures_are_in_flight_each_one_chunk_at_a_time(world):
    store, wire = world["store"], world["wire"]
    assert world["config"].uplink.capture_slots == 3
    blobs = _queue_captures(store, 6, 5 * CHUNK)
    uplink = _uplink(world, blobs)
    uplink.start()
    # HQ is down: nothing answers, so what is out is exactly what the window allows.
    wait_until(lambda: len({c["id"] for c in wire.chunks()}) >= 3, 10, what="three captures on the wire")
    time.sleep(4)  # past receipt_timeout_s (3 s): the resend is the same three, from the start
    assert {c["id"] for c in wire.chunks()} == {"cap-0", "cap-1", "cap-2"}
    assert {c["offset"] for c in wire.chunks()} == {0}
    assert uplink.sender.stats.resends >= 3

    ingest = _ingest(world)
    wait_until(lambda: outbox.depth(store) == 0, 60, what="every capture receipted")
    _assert_complete_once(ingest, blobs)
    chunks = wire.chunks()
    for capture_id, data in blobs.items():
        offsets = [c["offset"] for c in chunks if c["id"] == capture_id]
        # Each capture in its own order: a chunk's offset is where HQ's answer left it.
        assert offsets == sorted(offsets) and set(offsets) == set(range(0, len(data), CHUNK))
    # Interleaved: another capture's chunk went out between two chunks of cap-0.
    ids = [c["id"] for c in chunks]
    first, last = ids.index("cap-0"), len(ids) - 1 - ids[::-1].index("cap-0")
    assert set(ids[first:last]) - {"cap-0"}


def test_crossings_are_not_starved_behind_captures_in_flight(world):
    store, config, wire = world["store"], world["config"], world["wire"]
    blobs = _queue_captures(store, 6, 3 * CHUNK)
    _uplink(world, blobs).start()
    wait_until(lambda: len({c["id"] for c in wire.chunks()}) >= 3, 10, what="three captures in flight")
    # Captures hold three of the four slots and HQ answers none: the fourth is the crossings'.
    recorded = record_many(store, config, world["officer"], 5)
    wait_until(lambda: "crossings" in wire.leaves(), 2.5, what="the crossings sent beside the captures")
    assert len({c["id"] for c in wire.chunks()}) == 3

    ingest = _ingest(world)
    wait_until(lambda: outbox.depth(store) == 0, 60, what="crossings and captures receipted")
    assert [c["id"] for c in ingest.crossings()] == [c["id"] for c in recorded]
    _assert_complete_once(ingest, blobs)


def test_lost_receipts_of_captures_in_flight_end_complete_once(world):
    store = world["store"]
    blobs = _queue_captures(store, 5, 4 * CHUNK)
    ingest = _ingest(world)
    uplink = _uplink(world, blobs)
    lost: list[dict[str, Any]] = []
    hear = uplink.sender.on_receipt

    def lossy_link(payload: dict[str, Any]) -> int:
        # HQ stored the chunks and answered; the first three answers about captures never arrive.
        if payload.get("progress") and len(lost) < 3:
            lost.append(payload)
            return 0
        return hear(payload)

    uplink.sender.on_receipt = lossy_link  # type: ignore[method-assign]
    uplink.start()
    wait_until(lambda: outbox.depth(store) == 0, 60, what="every capture receipted after the resend")
    # The three lost answers were about three captures in flight together.
    assert len({p["progress"][0][1] for p in lost}) == 3
    assert uplink.sender.stats.resends >= 3
    _assert_complete_once(ingest, blobs)
    # The resent chunks were ones HQ held already: it appended nothing twice.
    assert all(c["bytes"] == c["total"] for c in ingest.db.captures())


def test_captures_in_flight_leave_a_slot_of_the_window(tmp_path):
    def load(lines: str):
        path = tmp_path / "kiosk.toml"
        path.write_text(f'[kiosk]\npost_id = "P"\nkiosk_id = "K"\ndata_dir = "{tmp_path}"\n\n[uplink]\n{lines}\n')
        return config_module.load(path, environ={})

    assert load("max_inflight_batches = 8\nmax_inflight_captures = 7").uplink.capture_slots == 7
    # The default adapts to a smaller window; with a window of one, one capture may hold it.
    assert load("max_inflight_batches = 2").uplink.capture_slots == 1
    assert load("max_inflight_batches = 1").uplink.capture_slots == 1
    with pytest.raises(ConfigError, match=r"max_inflight_captures \(4\) must be at most 3"):
        load("max_inflight_captures = 4")
    with pytest.raises(ConfigError, match="max_inflight_captures"):
        load("max_inflight_captures = 0")
