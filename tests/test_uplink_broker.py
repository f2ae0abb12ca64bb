"""The uplink against a real mosquitto broker: receipts, presence, health, outages, bad messages."""

from __future__ import annotations

import json

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from appliance.config.time import SimulatedTimeSources, TimeSection
from appliance.hw import open_devices
from appliance.storage.store import Store
from appliance.uplink import outbox, protocol, status
from appliance.uplink.client import Uplink
from appliance.uplink.telemetry import collect
from appliance.workflow import timekeeping
from hq.fleet import fleet_rows

from .broker import Mosquitto
from .samples import PERSON_HIT_DOE, import_demo_lists
from .uplink_env import IngestThread, add_officer, enrol, hq_setup, kiosk_setup, record_many, wait_until


@pytest.fixture
def broker(tmp_path):
    mosquitto = Mosquitto(tmp_path / "broker").start()
    yield mosquitto
    mosquitto.kill()


@pytest.fixture
def world(tmp_path, broker):
    """A broker, an HQ (not yet ingesting) and one enrolled kiosk with a store and an officer."""
    hq_config, hq_path, hq_public = hq_setup(tmp_path / "hq", broker.url)
    config, config_path, kiosk_public = kiosk_setup(tmp_path / "kiosk", broker.url, hq_public)
    enrol(hq_config, config, kiosk_public)
    store = Store(config.db_path)
    officer = add_officer(store, config)
    world = {"hq": hq_config, "hq_path": hq_path, "config": config, "config_path": config_path,
             "store": store, "officer": officer, "uplinks": [], "ingests": []}
    yield world
    for uplink in world["uplinks"]:
        uplink.stop(timeout=2)
    for ingest in world["ingests"]:
        ingest.stop()
    if "devices" in world:
        world["devices"].close()
    store.close()


def start_uplink(world, **kwargs) -> Uplink:
    devices = world.setdefault("devices", open_devices(world["config"].hardware))
    uplink = Uplink(world["config"], world["store"], health=lambda: collect(world["store"], world["config"], devices),
                    **kwargs)
    uplink.start()
    world["uplinks"].append(uplink)
    return uplink


def start_ingest(world) -> IngestThread:
    ingest = IngestThread(world["hq"]).start()
    world["ingests"].append(ingest)
    return ingest


def test_crossings_reach_hq_once_and_leave_the_outbox_only_on_receipt(world):
    store, config = world["store"], world["config"]
    recorded = record_many(store, config, world["officer"], 25)
    uplink = start_uplink(world)
    wait_until(lambda: uplink.connected, 15, what="kiosk connected")
    # HQ is not ingesting yet: the broker has everything (PUBACK), yet nothing is receipted.
    wait_until(lambda: uplink.sender.stats.batches_sent > 0, 10, what="a batch sent")
    assert outbox.depth(store, "crossing") == 25
    assert status.snapshot(store)["last_receipt_at"] is None

    ingest = start_ingest(world)
    wait_until(lambda: outbox.depth(store) == 0, 30, what="outbox drained by receipts")
    held = ingest.crossings()
    assert [c["id"] for c in held] == [c["id"] for c in recorded]
    assert [c["seq"] for c in held] == list(range(1, 26))
    snapshot = status.snapshot(store)
    assert snapshot["connected"] is True and snapshot["pending"] == 0 and snapshot["last_receipt_at"]


def test_uplink_status_command_reports_connected_pending_and_last_receipt(world, tmp_path):
    from click.testing import CliRunner

    from appliance.cli import cli

    def uplink_status():
        result = CliRunner().invoke(cli, ["--config", str(world["config_path"]), "uplink", "status", "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    record_many(world["store"], world["config"], world["officer"], 3)
    before = uplink_status()
    assert before["connected"] is False and before["pending"] == 3 and before["last_receipt_at"] is None
    start_uplink(world)
    start_ingest(world)
    wait_until(lambda: uplink_status()["pending"] == 0, 30, what="pending to reach 0")
    after = uplink_status()
    assert after["connected"] is True and after["last_receipt_at"] is not None


def test_alerts_overtake_a_backlog_and_are_stored_at_hq(world):
    store, config, officer = world["store"], world["config"], world["officer"]
    import_demo_lists(store)
    record_many(store, config, officer, 30)
    hit = record_many(store, config, officer, 1, mrz=PERSON_HIT_DOE)[0]
    assert hit["decision"] == "referred"
    ingest = start_ingest(world)
    # One item per batch and one batch in flight: the order HQ stores in is the send order.
    world["config"].uplink.batch_max_items = 1
    world["config"].uplink.max_inflight_batches = 1
    start_uplink(world)
    wait_until(lambda: outbox.depth(store) == 0, 60, what="outbox drained")
    alerts = ingest.db.events("alert")
    assert [a["id"] for a in alerts] == [hit["id"]]
    assert alerts[0]["data"]["hits"][0]["entry_id"] == "P-0001"
    first_received = min(c["received_at"] for c in ingest.crossings())
    received = ingest.db._rows("SELECT received_at FROM events WHERE kind = 'alert'")[0][0]
    assert received <= first_received, "the alert must reach HQ before the backlog of older crossings"


def test_presence_birth_will_and_health_in_the_fleet_view(world, broker):
    ingest = start_ingest(world)
    uplink = start_uplink(world)
    config = world["config"]

    def row():
        rows = fleet_rows(ingest.db, 60)
        return rows[0] if rows and rows[0]["state"] == "online" and rows[0]["battery_percent"] is not None else None

    online = wait_until(row, 20, what="kiosk online with health at HQ")
    assert online["kiosk_id"] == config.kiosk.kiosk_id and online["outbox_depth"] == 0
    # The audit chain's head reaches HQ, where a rewrite of the kiosk's file cannot follow.
    from appliance.storage import audit

    assert online["audit_head"] == audit.head(world["store"]) and online["audit_head"]["seq"] >= 1
    uplink.stop()
    world["uplinks"].remove(uplink)
    wait_until(lambda: fleet_rows(ingest.db, 60)[0]["state"] == "offline", 20, what="kiosk offline at HQ")


def test_broker_outage_mid_backlog_loses_and_duplicates_nothing(world, broker):
    store, config = world["store"], world["config"]
    config.uplink.batch_max_items = 5
    recorded = record_many(store, config, world["officer"], 200)
    ingest = start_ingest(world)
    start_uplink(world)
    wait_until(lambda: 0 < len(ingest.crossings()), 30, what="the first crossings at HQ")
    broker.stop()
    assert outbox.depth(store, "crossing") > 0, "the backlog should not have drained before the outage"
    more = record_many(store, config, world["officer"], 20)  # recorded while the broker is down
    broker.start()
    wait_until(lambda: outbox.depth(store) == 0, 90, what="outbox drained after the outage")
    held = ingest.crossings()
    assert [c["id"] for c in held] == [c["id"] for c in recorded + more]
    assert len({c["id"] for c in held}) == len(held) == 220


def test_hq_down_while_the_kiosk_records(world):
    store, config = world["store"], world["config"]
    ingest = start_ingest(world)
    start_uplink(world)
    first = record_many(store, config, world["officer"], 10)
    wait_until(lambda: outbox.depth(store) == 0, 30, what="first crossings receipted")
    ingest.stop()
    world["ingests"].remove(ingest)
    second = record_many(store, config, world["officer"], 15)
    wait_until(lambda: status.snapshot(store)["pending"] == 15, 5, what="crossings waiting while HQ is down")
    ingest = start_ingest(world)
    wait_until(lambda: outbox.depth(store) == 0, 60, what="drained after HQ came back")
    assert [c["id"] for c in ingest.crossings()] == [c["id"] for c in first + second]


def _raw_client(broker) -> paho.Client:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="intruder")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    return client


def test_bad_messages_are_dropped_and_change_nothing(world, broker):
    store, config = world["store"], world["config"]
    ingest = start_ingest(world)
    uplink = start_uplink(world)
    wait_until(lambda: uplink.connected, 15, what="kiosk connected")
    ingest.stop()  # HQ down, so the outbox keeps its rows while we attack the receipts topic
    world["ingests"].remove(ingest)
    record_many(store, config, world["officer"], 4)
    rows = outbox.next_rows(store, 2, 0, 10)
    receipts = protocol.topic(config.kiosk.post_id, config.kiosk.kiosk_id, "receipts")
    commands = protocol.topic(config.kiosk.post_id, config.kiosk.kiosk_id, "commands")
    crossings_topic = protocol.topic(config.kiosk.post_id, config.kiosk.kiosk_id, "crossings")
    forged_key = protocol.Ed25519PrivateKey.generate()
    forged = {"items": [[row.seq, row.ref_id] for row in rows]}
    attacks = [
        (receipts, b"not cbor at all \xff"),
        (receipts, json.dumps(forged).encode()),  # unsigned
        (receipts, protocol.seal(forged_key, receipts, "receipt", forged)),  # signed by someone else
        (commands, protocol.seal(forged_key, commands, "command", {"command": "rebirth", "expires_at": "x"})),
        (crossings_topic, b"\x00\x01garbage"),  # to HQ: not even an envelope
    ]
    client = _raw_client(broker)
    try:
        for topic, payload in attacks:
            client.publish(topic, payload, qos=1).wait_for_publish(5)
        wait_until(lambda: uplink.dropped_messages >= 4, 10, what="the kiosk to drop the forged messages")
    finally:
        client.loop_stop()
        client.disconnect()
    assert outbox.depth(store, "crossing") == 4  # no forged receipt released anything
    assert uplink.connected
    # ... and both ends still work.
    ingest = start_ingest(world)
    wait_until(lambda: outbox.depth(store) == 0, 30, what="drained after the attack")
    assert len(ingest.crossings()) == 4


def test_hq_rejects_messages_from_unknown_or_impostor_kiosks(world, broker, tmp_path):
    ingest = start_ingest(world)
    config = world["config"]
    topic = protocol.topic(config.kiosk.post_id, config.kiosk.kiosk_id, "crossings")
    impostor = protocol.Ed25519PrivateKey.generate()
    item = {"seq": 1, "kind": "crossing", "id": "x-1", "created_at": "2026-01-01T00:00:00.000000Z",
            "data": {"seq": 1, "recorded_at": "2026-01-01T00:00:00.000000Z"}}
    stranger = protocol.topic("POST-X", "K7", "crossings")
    client = _raw_client(broker)
    try:
        client.publish(topic, protocol.seal(impostor, topic, "batch", {"items": [item]}), qos=1).wait_for_publish(5)
        client.publish(stranger, protocol.seal(impostor, stranger, "batch", {"items": [item]}), qos=1).wait_for_publish(5)
        client.publish(topic, protocol.seal(impostor, stranger, "batch", {"items": [item]}), qos=1).wait_for_publish(5)
        wait_until(lambda: ingest.worker.rejected >= 3, 10, what="HQ to reject the messages")
    finally:
        client.loop_stop()
        client.disconnect()
    assert ingest.crossings() == []


def test_health_on_demand_through_a_signed_hq_command(world):
    from hq.ingest import send_command

    ingest = start_ingest(world)
    config = world["config"]
    config.uplink.health_interval_s = 3600
    start_uplink(world)
    first = wait_until(lambda: fleet_rows(ingest.db, 60)[0]["health_at"], 20, what="first health")
    send_command(world["hq"], config.kiosk.post_id, config.kiosk.kiosk_id, "health")
    wait_until(lambda: fleet_rows(ingest.db, 60)[0]["health_at"] != first, 20, what="health on demand")


def test_mqtt_3_1_1_works_too(world):
    world["config"].uplink.protocol = "3.1.1"
    record_many(world["store"], world["config"], world["officer"], 3)
    ingest = start_ingest(world)
    start_uplink(world)
    wait_until(lambda: outbox.depth(world["store"]) == 0, 30, what="drained over MQTT 3.1.1")
    assert len(ingest.crossings()) == 3
    assert status.snapshot(world["store"])["protocol"] == "3.1.1"


def _queue_captures(store, blobs: dict[str, bytes]) -> None:
    with store.transaction():
        for capture_id in blobs:
            outbox.enqueue(store, "capture", capture_id,
                           {"capture_id": capture_id, "crossing_id": f"crossing-of-{capture_id}", "kind": "face",
                            "format": "jpeg"})


def test_captures_go_last_in_resumable_chunks(world, broker):
    import os

    store, config = world["store"], world["config"]
    config.uplink.capture_chunk_bytes = 4096
    blobs = {"cap-a": os.urandom(50_000), "cap-b": os.urandom(9_000)}
    _queue_captures(store, blobs)
    recorded = record_many(store, config, world["officer"], 5)
    ingest = start_ingest(world)
    uplink = start_uplink(world, capture_bytes=lambda capture_id: (blobs[capture_id], "jpeg"))
    wait_until(lambda: len(ingest.db.captures()) >= 1, 30, what="the first capture chunk at HQ")
    # The crossings, queued after the photos, were at HQ before any photo chunk.
    first_chunk_at = ingest.db._rows("SELECT min(received_at) FROM captures")[0][0]
    assert max(c["received_at"] for c in ingest.crossings()) <= first_chunk_at
    assert len(ingest.crossings()) == len(recorded)
    # Cut the link in the middle of the photos; they resume, not restart.
    broker.stop()
    held_before = {c["id"]: c["bytes"] for c in ingest.db.captures()}
    broker.start()
    wait_until(lambda: outbox.depth(store) == 0, 60, what="all captures receipted")
    held = {c["id"]: c for c in ingest.db.captures()}
    assert {k: held[k]["data"] for k in blobs} == blobs
    assert all(held[k]["complete"] for k in blobs)
    assert uplink.sender.stats.items_sent < len(recorded) + 2 * (50_000 // 4096 + 2) + 10
    assert held_before  # some progress was kept across the outage


def test_captures_can_be_switched_off(world):
    store, config = world["store"], world["config"]
    config.uplink.send_captures = False
    _queue_captures(store, {"cap-a": b"x" * 100})
    record_many(store, config, world["officer"], 2)
    ingest = start_ingest(world)
    start_uplink(world, capture_bytes=lambda capture_id: (b"x" * 100, "jpeg"))
    wait_until(lambda: outbox.depth(store, "crossing") == 0, 30, what="crossings receipted")
    assert ingest.db.captures() == [] and outbox.depth(store, "capture") == 1


def _fake_bundle(name: str, version: str, size: int) -> bytes:
    import os
    import struct

    from hq.list_push import MAGIC

    header = json.dumps({"list": name, "version": version}).encode()
    return MAGIC + struct.pack(">I", len(header)) + header + os.urandom(size)


def test_list_bundles_travel_as_retained_chunks_and_apply_once(world, tmp_path):
    from appliance.uplink.list_sync import ListAssembler
    from hq.db import HQDatabase
    from hq.list_push import push

    applied: list[bytes] = []
    in_force: dict[str, str] = {}

    def apply(data: bytes) -> dict:
        from hq.list_push import bundle_identity

        name, version = bundle_identity(data)
        applied.append(data)
        in_force[name] = version
        return {"list": name, "version": version}

    assembler = ListAssembler(apply, in_force.get)
    hq_db = HQDatabase(world["hq"].hq.database)
    try:
        # Pushed while the kiosk is offline: retained, so it arrives when the kiosk connects.
        big = _fake_bundle("persons", "v1", 700_000)
        sent = push(world["hq"], hq_db, big)
        assert sent["chunks"] == 3 and sent["kiosks"] == ["POST-U/K1"]
        uplink = start_uplink(world, on_list_message=assembler.on_message)
        wait_until(lambda: applied == [big], 20, what="v1 applied")
        small = _fake_bundle("persons", "v2", 10)
        push(world["hq"], hq_db, small)
        wait_until(lambda: applied == [big, small], 20, what="v2 applied")
        assert hq_db.list_chunk_count("POST-U", "K1", "persons") == 1
        # Reconnect: the retained chunks come again, but v2 is already in force.
        uplink.stop()
        world["uplinks"].remove(uplink)
        uplink = start_uplink(world, on_list_message=assembler.on_message)
        wait_until(lambda: uplink.connected, 10, what="reconnected")
        import time
        time.sleep(1.0)
        assert applied == [big, small]
        assert uplink.dropped_messages == 0  # the cleared chunks are not counted as bad messages
    finally:
        hq_db.close()


def test_list_chunks_that_do_not_fit_are_refused(world):
    from appliance.errors import ProtocolError
    from appliance.uplink.list_sync import ListAssembler

    applied = []
    assembler = ListAssembler(lambda data: applied.append(data) or {}, lambda name: None)
    good = {"list": "persons", "version": "v1", "index": 0, "count": 1, "sha256": "0" * 64, "data": b"abc"}
    for leaf, payload, reason in [
        ("lists/persons", good, "lists/<list>/<index>"),
        ("lists/documents/0", good, "arrived on"),
        ("lists/persons/0", {**good, "index": 3}, "arrived on"),
        ("lists/persons/0", {**good, "data": "text"}, "needs"),
        ("lists/persons/0", good, "SHA-256"),
    ]:
        with pytest.raises(ProtocolError, match=reason):
            assembler.on_message(leaf, payload)
    assert applied == []


def test_two_ingest_workers_share_the_load_through_a_shared_subscription(world):
    store, config = world["store"], world["config"]
    config.uplink.batch_max_items = 5
    recorded = record_many(store, config, world["officer"], 100)
    workers = []
    for name in ("hq-worker-1", "hq-worker-2"):
        hq = world["hq"].model_copy(deep=True)
        hq.broker.client_id = name
        workers.append(IngestThread(hq).start())
        world["ingests"].append(workers[-1])
    start_uplink(world)
    wait_until(lambda: outbox.depth(store) == 0, 60, what="drained by two workers")
    assert all(worker.worker.stored > 0 for worker in workers), "each worker should have taken some batches"
    held = workers[0].crossings()
    assert [c["id"] for c in held] == [c["id"] for c in recorded]


def test_hq_signed_receipt_time_becomes_the_kiosk_trusted_time(world):
    store = world["store"]
    # No NTP, no RTC, no GPS: until HQ answers, nothing vouches for the clock.
    config = world["config"].model_copy(
        update={"time": TimeSection(simulated=SimulatedTimeSources(ntp_synchronized=False))})
    [before] = record_many(store, config, world["officer"], 1)
    assert before["time_source"] == "system"
    uplink = start_uplink(world, on_hq_time=lambda at: timekeeping.offer_hq(store, config, at))
    start_ingest(world)
    wait_until(lambda: outbox.depth(store) == 0, 30, what="outbox drained by receipts")
    assert uplink.connected
    wait_until(lambda: timekeeping.status(store, config)["source"] == "hq", 5, what="HQ's time taken")
    anchored = store.conn.execute("SELECT subject FROM audit WHERE action = 'time.anchor'").fetchall()
    assert anchored == [("hq",)]
    [after] = record_many(store, config, world["officer"], 1)
    assert after["time_source"] == "hq" and after["time_uncertainty_s"] >= config.time.hq_uncertainty_s
