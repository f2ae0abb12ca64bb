"""The signed envelope, the outbox's priorities and the sender's window, without a broker."""

from __future__ import annotations

import json

import cbor2
import pytest
import zstandard
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.errors import ProtocolError, UplinkError
from appliance.uplink import outbox, protocol
from appliance.uplink.mqtt import Backoff, Broker
from appliance.uplink.sender import Sender

TOPIC = protocol.topic("POST-T", "K9", "receipts")


@pytest.fixture
def key():
    return Ed25519PrivateKey.generate()


def test_seal_and_open_round_trip_with_and_without_compression(key):
    small = {"items": [[1, "a"]]}
    big = {"items": [[i, f"crossing-{i}"] for i in range(500)]}
    for payload in (small, big):
        data = protocol.seal(key, TOPIC, "receipt", payload)
        message = protocol.open_message(data, TOPIC, key.public_key())
        assert message.payload == payload and message.kind == "receipt"
    assert cbor2.loads(protocol.seal(key, TOPIC, "receipt", big))[0]["z"] is True
    assert cbor2.loads(protocol.seal(key, TOPIC, "receipt", small))[0]["z"] is False


@pytest.mark.parametrize("tamper, reason", [
    (lambda env: [env[0], env[1], b"\x00" * 64], "bad signature"),
    (lambda env: [{**env[0], "v": 2}, env[1], env[2]], "schema version"),
    (lambda env: [{**env[0], "kind": "command"}, env[1], env[2]], "bad signature"),
    (lambda env: [env[0], env[1][:-1] + b"\x00", env[2]], "bad signature"),
    (lambda env: [env[0], env[1]], "not an envelope"),
    (lambda env: {"header": env[0]}, "not an envelope"),
    (lambda env: [env[0], "text", env[2]], "wrong types"),
])
def test_tampered_envelopes_are_refused(key, tamper, reason):
    envelope = cbor2.loads(protocol.seal(key, TOPIC, "receipt", {"items": []}))
    with pytest.raises(ProtocolError, match=reason):
        protocol.open_message(cbor2.dumps(tamper(envelope)), TOPIC, key.public_key())


def test_other_bad_messages(key):
    other_key = Ed25519PrivateKey.generate()
    data = protocol.seal(key, TOPIC, "receipt", {"items": []})
    with pytest.raises(ProtocolError, match="bad signature"):
        protocol.open_message(data, TOPIC, other_key.public_key())
    with pytest.raises(ProtocolError, match="signed for topic"):
        protocol.open_message(data, protocol.topic("POST-T", "K8", "receipts"), key.public_key())
    with pytest.raises(ProtocolError, match="not a CBOR envelope"):
        protocol.open_message(b"\xff\xfe garbage", TOPIC, key.public_key())
    with pytest.raises(ProtocolError, match="empty"):
        protocol.open_message(b"", TOPIC, key.public_key())
    with pytest.raises(ProtocolError, match="envelope"):  # plain JSON, as a naive client would send
        protocol.open_message(json.dumps({"items": []}).encode(), TOPIC, key.public_key())


def test_a_decompression_bomb_is_refused(key):
    body = zstandard.ZstdCompressor().compress(cbor2.dumps({"x": "a" * (protocol.MAX_BODY_BYTES + 10)}))
    header = {"v": 1, "kind": "receipt", "topic": TOPIC, "sent_at": "", "z": True}
    data = cbor2.dumps([header, body, key.sign(cbor2.dumps([header, body]))])
    with pytest.raises(ProtocolError, match="decompress to"):
        protocol.open_message(data, TOPIC, key.public_key())
    # The same without a declared size: stopped by the output bound instead.
    streamed = zstandard.ZstdCompressor(write_content_size=False).compress(
        cbor2.dumps({"x": "a" * (protocol.MAX_BODY_BYTES + 10)}))
    data = cbor2.dumps([header, streamed, key.sign(cbor2.dumps([header, streamed]))])
    with pytest.raises(ProtocolError, match="decompress"):
        protocol.open_message(data, TOPIC, key.public_key())


def test_topics_parse_and_refuse_strangers():
    parts = protocol.parse_topic("kiosk/v1/POST-T/K9/lists/persons")
    assert (parts.post_id, parts.kiosk_id, parts.leaf) == ("POST-T", "K9", "lists/persons")
    for bad in ("kiosk/v2/P/K/status", "kiosk/v1/P/status", "kiosk/v1/P/K/unknown", "kiosk/v1//K/status"):
        with pytest.raises(ProtocolError):
            protocol.parse_topic(bad)


def test_key_files(tmp_path):
    public = protocol.generate_key_file(tmp_path / "k.key")
    assert (tmp_path / "k.key").stat().st_mode & 0o777 == 0o600
    assert protocol.public_key_text(protocol.load_private_key(tmp_path / "k.key").public_key()) == public
    with pytest.raises(UplinkError, match="already exists"):
        protocol.generate_key_file(tmp_path / "k.key")
    (tmp_path / "bad.key").write_text("nonsense")
    with pytest.raises(UplinkError, match="cannot read signing key"):
        protocol.load_private_key(tmp_path / "bad.key")
    with pytest.raises(ProtocolError, match="Ed25519 public key"):
        protocol.load_public_key("c2hvcnQ=")


def test_broker_urls():
    assert Broker.from_url("mqtts://hq.example").port == 8883
    assert Broker.from_url("ws://hq.example:9001/mqtt").transport == "websockets"
    for bad in ("", "http://hq", "mqtt://", "mqtt://host:99999"):
        with pytest.raises(UplinkError):
            Broker.from_url(bad)


def test_backoff_grows_with_jitter_and_caps():
    backoff = Backoff(1.0, 8.0)
    delays = [backoff.next() for _ in range(8)]
    assert 0.5 <= delays[0] <= 1.0 and 1.0 <= delays[1] <= 2.0
    assert all(4.0 <= d <= 8.0 for d in delays[4:])
    backoff.reset()
    assert backoff.next() <= 1.0


def _queue(store, kinds):
    with store.transaction():
        return [outbox.enqueue(store, kind, f"id-{i}", {"n": i}) for i, kind in enumerate(kinds)]


class FakeLink:
    """Records what the sender hands to the client (the broker is tested elsewhere)."""

    def __init__(self):
        self.sent, self.up = [], True

    def __call__(self, leaf, kind, payload):
        if self.up:
            self.sent.append((leaf, payload))
        return self.up


def test_sender_sends_alerts_first_and_releases_rows_only_on_receipt(store, config):
    config.uplink.batch_max_items = 2
    config.uplink.max_inflight_batches = 2
    _queue(store, ["crossing", "crossing", "crossing", "alert", "crossing_outcome"])
    link = FakeLink()
    sender = Sender(store, config.uplink, link)
    assert sender.pump(now=0) == 2
    assert [leaf for leaf, _ in link.sent] == ["alerts", "crossings"]
    assert [item["kind"] for item in link.sent[0][1]["items"]] == ["alert"]
    assert sender.pump(now=1) == 0  # window full
    assert outbox.depth(store) == 5  # sent is not receipted
    first = link.sent[1][1]
    assert sender.on_receipt({"batch": first["batch"], "items": [[i["seq"], i["id"]] for i in first["items"]]}) == 2
    assert outbox.depth(store) == 3
    assert sender.pump(now=2) == 1
    assert [i["id"] for i in link.sent[2][1]["items"]] == ["id-2", "id-4"]


def test_sender_resends_after_the_receipt_timeout(store, config):
    config.uplink.receipt_timeout_s = 10
    _queue(store, ["crossing"] * 3)
    link = FakeLink()
    sender = Sender(store, config.uplink, link)
    sender.pump(now=0)
    sender.pump(now=5)
    assert len(link.sent) == 1
    sender.pump(now=11)
    assert len(link.sent) == 2 and link.sent[1][1]["items"] == link.sent[0][1]["items"]
    assert sender.stats.resends == 1


def test_bad_or_mismatched_receipts_delete_nothing(store, config):
    seqs = _queue(store, ["crossing"] * 2)
    sender = Sender(store, config.uplink, FakeLink())
    sender.pump(now=0)
    for bad in ({"items": "all"}, {"items": [[seqs[0]]]}, {"items": [["1", "id-0"]]},
                {"items": [], "progress": [[1, "id-0", -5]]}):
        with pytest.raises(ProtocolError):
            sender.on_receipt(bad)
    assert sender.on_receipt({"items": [[seqs[0], "id-1"], [seqs[1], "id-0"]]}) == 0  # ids swapped
    assert outbox.depth(store) == 2


def test_link_down_keeps_everything_queued(store, config):
    _queue(store, ["crossing"])
    link = FakeLink()
    link.up = False
    sender = Sender(store, config.uplink, link)
    assert sender.pump(now=0) == 0 and sender.idle()
    link.up = True
    assert sender.pump(now=1) == 1


def test_unknown_outbox_kind_is_refused(store):
    with pytest.raises(KeyError):
        with store.transaction():
            outbox.enqueue(store, "selfie", "x", {})
    assert outbox.depth(store) == 0


def test_photos_wait_while_the_power_policy_defers_heavy_work(store, config):
    with store.transaction():
        outbox.enqueue(store, "capture", "cap-1", {"capture_id": "cap-1", "kind": "face"})
    allowed = [False]
    link = FakeLink()
    sender = Sender(store, config.uplink, link, capture_bytes=lambda _id: (b"jpeg", "jpeg"),
                    heavy_work_allowed=lambda: allowed[0])
    assert sender.pump(now=0) == 0
    allowed[0] = True
    assert sender.pump(now=1) == 1 and link.sent[0][0] == "captures"


def test_list_apply_waits_for_the_power_policy():
    import threading
    import time

    from appliance.uplink.list_sync import ListAssembler

    allowed, applied = threading.Event(), []
    assembler = ListAssembler(lambda data: applied.append(data) or {}, lambda name: None,
                              heavy_work_allowed=allowed.is_set, recheck_s=0.01)
    import hashlib

    data = b"bundle"
    assembler.on_message("lists/persons/0", {"list": "persons", "version": "v1", "index": 0, "count": 1,
                                             "sha256": hashlib.sha256(data).hexdigest(), "data": data})
    time.sleep(0.2)
    assert applied == []
    allowed.set()
    deadline = time.monotonic() + 5
    while not applied and time.monotonic() < deadline:
        time.sleep(0.01)
    assert applied == [data]
