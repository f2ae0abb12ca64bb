"""A kiosk cannot speak for another: HQ checks each message's signer against the kiosk in its topic, and the
broker's ACL (docs/examples/mosquitto-acl, per-kiosk users) keeps each kiosk to its own topics."""

from __future__ import annotations

import threading
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from appliance.storage.store import Store
from appliance.uplink import outbox, protocol
from appliance.uplink.client import Uplink, signing_key_path
from hq.db import HQDatabase

from .broker import Mosquitto
from .uplink_env import IngestThread, add_officer, enrol, hq_setup, kiosk_setup, record_many, wait_until

ACL_EXAMPLE = Path(__file__).parents[1] / "docs" / "examples" / "mosquitto-acl"
PASSWORDS = {"hq-ingest": "hq-s3cret", "kiosk-post-u-k1": "k1-s3cret", "kiosk-post-u-k2": "k2-s3cret"}
NOT_AUTHORIZED = 135  # MQTT 5 reason code


def _world(tmp_path: Path, url: str, credentials: bool):
    hq_extra = f'username = "hq-ingest"\npassword = "{PASSWORDS["hq-ingest"]}"\n' if credentials else ""
    hq_config, _, hq_public = hq_setup(tmp_path / "hq", url, extra_broker=hq_extra)
    kiosks = {}
    for kiosk_id in ("K1", "K2"):
        user = f"kiosk-post-u-{kiosk_id.lower()}"
        config, _, public = kiosk_setup(tmp_path / kiosk_id, url, hq_public, kiosk_id=kiosk_id,
                                        extra_uplink=f'username = "{user}"\n' if credentials else "")
        if credentials:
            config.uplink.password = PASSWORDS[user]  # type: ignore[assignment]  # validated into a SecretStr
        enrol(hq_config, config, public)
        kiosks[kiosk_id] = config
    return hq_config, kiosks


def _batch(seq: int, crossing_id: str) -> dict:
    data = '{"id":"%s","recorded_at":"2026-01-01T00:00:00.000000Z","seq":%d}' % (crossing_id, seq)
    return {"batch": f"b-{crossing_id}", "items": [{"seq": seq, "kind": "crossing", "id": crossing_id,
                                                     "created_at": "2026-01-01T00:00:00.000000Z", "data": data}]}


class RawKiosk:
    """A paho client logged in with a kiosk's credentials, recording each PUBACK's and SUBACK's reason code."""

    def __init__(self, port: int, username: str | None, password: str | None) -> None:
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"raw-{username}",
                                  protocol=MQTTProtocolVersion.MQTTv5)
        if username:
            self.client.username_pw_set(username, password)
        self.pubacks: dict[int, int] = {}
        self.subacks: dict[int, list[int]] = {}
        self.connected = threading.Event()
        self.client.on_connect = lambda _c, _u, _f, code, _p: self.connected.set() if not code.is_failure else None
        self.client.on_publish = lambda _c, _u, mid, code, _p: self.pubacks.__setitem__(mid, code.value)
        self.client.on_subscribe = lambda _c, _u, mid, codes, _p: self.subacks.__setitem__(
            mid, [code.value for code in codes])
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.connected.wait(10), f"{username} could not connect"

    def publish(self, topic: str, payload: bytes) -> int:
        mid = self.client.publish(topic, payload, qos=1).mid
        wait_until(lambda: mid in self.pubacks, 10, what=f"PUBACK of {topic}")
        return self.pubacks[mid]

    def subscribe(self, topic: str) -> list[int]:
        mid = self.client.subscribe(topic, qos=1)[1]
        wait_until(lambda: mid in self.subacks, 10, what=f"SUBACK of {topic}")
        return self.subacks[mid]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _crossing_ids(db_path: str, kiosk_id: str) -> list[str]:
    db = HQDatabase(db_path)
    try:
        return [row["id"] for row in db.crossings(post_id="POST-U", kiosk_id=kiosk_id)]
    finally:
        db.close()


@pytest.fixture
def open_broker(tmp_path):
    broker = Mosquitto(tmp_path / "broker").start()
    yield broker
    broker.kill()


def test_an_enrolled_kiosk_publishing_under_another_kiosks_topic_is_rejected_by_hq(tmp_path, open_broker):
    # The broker lets anyone publish anywhere here: HQ's own check is what is tested.
    hq_config, kiosks = _world(tmp_path, open_broker.url, credentials=False)
    k2_key = protocol.load_private_key(signing_key_path(kiosks["K2"]))
    k1_topic = protocol.topic("POST-U", "K1", "crossings")
    k2_topic = protocol.topic("POST-U", "K2", "crossings")
    ingest = IngestThread(hq_config).start()
    raw = RawKiosk(open_broker.port, None, None)
    try:
        # K2's own key, K1's topic in the signed header: signed by the wrong kiosk for that topic.
        raw.publish(k1_topic, protocol.seal(k2_key, k1_topic, "batch", _batch(1, "forged-1")))
        # K2's genuine message for its own topic, replayed onto K1's: the signed topic does not match.
        genuine = protocol.seal(k2_key, k2_topic, "batch", _batch(2, "replayed-2"))
        raw.publish(k1_topic, genuine)
        wait_until(lambda: ingest.worker.rejected >= 2, 10, what="HQ to reject both")
        # The same genuine message on its own topic is K2's and is stored.
        raw.publish(k2_topic, genuine)
        wait_until(lambda: _crossing_ids(hq_config.hq.database, "K2") == ["replayed-2"], 10, what="K2's own")
    finally:
        raw.close()
        ingest.stop()
    assert _crossing_ids(hq_config.hq.database, "K1") == []
    assert ingest.worker.rejected == 2  # the two on K1's topic, not K2's own


@pytest.fixture
def acl_broker(tmp_path):
    passwords = Mosquitto.password_file_for(tmp_path / "passwd", PASSWORDS)
    broker = Mosquitto(tmp_path / "broker", password_file=passwords, acl_file=ACL_EXAMPLE).start()
    yield broker
    broker.kill()


def test_the_example_acl_keeps_each_kiosk_to_its_own_topics_on_a_real_broker(tmp_path, acl_broker):
    hq_config, kiosks = _world(tmp_path, acl_broker.url, credentials=True)
    ingest = IngestThread(hq_config).start()  # HQ's subscriptions (shared and plain) are granted
    stores = {kiosk_id: Store(config.db_path) for kiosk_id, config in kiosks.items()}
    uplinks = []
    raw = None
    try:
        # Each kiosk's whole protocol works under the ACL: publish, receipts back, outbox emptied.
        for kiosk_id, config in kiosks.items():
            record_many(stores[kiosk_id], config, add_officer(stores[kiosk_id], config), 2)
            uplinks.append(Uplink(config, stores[kiosk_id]))
            uplinks[-1].start()
        wait_until(lambda: all(outbox.depth(store) == 0 for store in stores.values()), 30, what="both drained")
        assert len(_crossing_ids(hq_config.hq.database, "K1")) == 2

        # K2's password used to listen in: the subscription is taken, but the broker delivers
        # only what K2 may read (mosquitto checks read access per message).
        raw = RawKiosk(acl_broker.port, "kiosk-post-u-k2", PASSWORDS["kiosk-post-u-k2"])
        heard: list[str] = []
        raw.client.on_message = lambda _c, _u, message: heard.append(message.topic)
        raw.subscribe("kiosk/v1/#")
        raw.subscribe(protocol.topic("POST-U", "K1", "receipts"))
        hq = RawKiosk(acl_broker.port, "hq-ingest", PASSWORDS["hq-ingest"])
        try:
            assert hq.publish(protocol.topic("POST-U", "K1", "receipts"), b"probe") == 0
            assert hq.publish(protocol.topic("POST-U", "K2", "receipts"), b"probe") == 0
            wait_until(lambda: protocol.topic("POST-U", "K2", "receipts") in heard, 10, what="K2's own receipt")
        finally:
            hq.close()
        assert not [topic for topic in heard if "/K1/" in topic], heard
        raw.close()

        # K2's password used to publish under K1's topics: the broker refuses (and drops the
        # connection), HQ never sees it. A fresh connection for each try.
        k2_key = protocol.load_private_key(signing_key_path(kiosks["K2"]))
        k1_topic = protocol.topic("POST-U", "K1", "crossings")
        forged = protocol.seal(k2_key, k1_topic, "batch", _batch(90, "forged-90"))
        for topic, payload in ((k1_topic, forged), (protocol.topic("POST-U", "K1", "status"), forged),
                               # nor may a kiosk play HQ, to itself or to another
                               (protocol.topic("POST-U", "K2", "receipts"), b"x"),
                               (protocol.topic("POST-U", "K1", "commands"), b"x")):
            raw = RawKiosk(acl_broker.port, "kiosk-post-u-k2", PASSWORDS["kiosk-post-u-k2"])
            assert raw.publish(topic, payload) == NOT_AUTHORIZED, topic
            raw.close()
        # What K2 may do, it still can: its own crossings topic, after the refused ones.
        raw = RawKiosk(acl_broker.port, "kiosk-post-u-k2", PASSWORDS["kiosk-post-u-k2"])
        k2_topic = protocol.topic("POST-U", "K2", "crossings")
        assert raw.publish(k2_topic, protocol.seal(k2_key, k2_topic, "batch", _batch(91, "own-91"))) == 0
        wait_until(lambda: "own-91" in _crossing_ids(hq_config.hq.database, "K2"), 10, what="K2's own batch")
        assert ingest.worker.rejected == 0  # the forged batch never reached HQ
        assert "forged-90" not in _crossing_ids(hq_config.hq.database, "K1")
        assert len(_crossing_ids(hq_config.hq.database, "K1")) == 2
    finally:
        if raw is not None:
            raw.close()
        for uplink in uplinks:
            uplink.stop(timeout=2)
        ingest.stop()
        for store in stores.values():
            store.close()


def test_without_a_password_the_acl_broker_lets_nobody_in(tmp_path, acl_broker):
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="anonymous", protocol=MQTTProtocolVersion.MQTTv5)
    codes: list[int] = []
    client.on_connect = lambda _c, _u, _f, code, _p: codes.append(code.value)
    client.connect("127.0.0.1", acl_broker.port)
    client.loop_start()
    try:
        wait_until(lambda: codes, 10, what="CONNACK")
    finally:
        client.loop_stop()
    assert codes[0] != 0  # refused: not authorised / bad credentials
