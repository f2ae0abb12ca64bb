"""Inputs the fuzzing campaign (tests/fuzz/, docs/reliability.md) showed to crash a decoder, now refused cleanly."""

from __future__ import annotations

import json

import pytest

from appliance.errors import BundleError, ProtocolError
from appliance.lists import bundle as bundle_format
from appliance.lists.apply import apply_bundle
from tests.fuzz import targets

from .test_lists import PERSONS, keys, kiosk, state  # noqa: F401  (fixtures)

HUGE = int("9" * 400)  # a JSON number with no float: OverflowError in numpy before the fix


def _persons_bundle(keys, face) -> bytes:  # noqa: F811
    header = {"list": "persons", "kind": "persons", "type": "full", "version": "p1", "base_version": None,
              "published_at": "2026-11-23T19:03:00.000000Z"}
    # Signed as HQ would (HQ's own publisher checks faces too; the kiosk must not rely on it).
    return bundle_format.encode(header, [dict(PERSONS[0], face=face)], keys[0])


@pytest.mark.parametrize("face", [[HUGE, 1.0, 0.5, 0.25], [1.0, -HUGE, 0.5, 0.25]])
def test_a_face_with_an_integer_too_large_for_a_float_is_refused(kiosk, keys, face):  # noqa: F811
    store, config = kiosk
    before = state(store)
    with pytest.raises(BundleError, match="face: a number too large"):
        apply_bundle(store, config, _persons_bundle(keys, face))
    assert state(store) == before


def test_the_bundle_harness_replays_it_without_a_crash():
    record = json.dumps(dict(PERSONS[0], face=[HUGE, 1.0])).encode()
    header = json.dumps({"format": 1, "list": "persons", "kind": "persons", "type": "full", "version": "p1",
                         "base_version": None, "published_at": "2026-11-23T19:03:00.000000Z"}).encode()
    targets.list_bundle(b"\x01" + len(header).to_bytes(2, "big") + header + record)


# -- The uplink: values that pass the type checks but cannot be stored ---------------------

def _item(data: dict, seq: int = 1, kind: str = "crossing") -> dict:
    return {"seq": seq, "kind": kind, "id": "c-1", "created_at": "2026-12-01T00:00:00.000000Z",
            "data": json.dumps(data)}


@pytest.mark.parametrize("item, message", [
    (_item({"seq": 1 << 63}), "seq .* is not a 64-bit integer"),
    (_item({"seq": "12"}), "seq '12' is not a 64-bit integer"),
    (_item({"seq": [1]}), "seq .* is not a 64-bit integer"),
    (_item({"seq": 1, "recorded_at": 5}), "recorded_at is not text"),
    (_item({"seq": 1, "direction": {"a": 1}}), "direction is not text"),
    (_item({"outcome": ["cleared"]}, kind="crossing_outcome"), "outcome is not text"),
    (_item({"seq": 1}, seq=1 << 64), "seq .* does not fit 64 bits"),
])
def test_hq_refuses_a_batch_item_its_columns_cannot_hold(tmp_path, item, message):
    """Before: the checks passed and the insert failed (OverflowError, ValueError, sqlite's
    ProgrammingError), so the batch was never receipted and the kiosk sent it again for ever."""
    from hq.db import HQDatabase
    from hq.ingest import _checked_items

    with pytest.raises(ProtocolError, match=message):
        _checked_items({"items": [item]})
    with HQDatabase(str(tmp_path / "hq.sqlite3")) as db:
        assert db.crossings() == [] and db.events() == []
        # A good item next to none of these stores as ever.
        db.store_items("P", "K", _checked_items({"items": [_item({"seq": 7, "direction": "entry"})]}))
        assert [c["seq"] for c in db.crossings()] == [7]


@pytest.mark.parametrize("receipt", [
    {"items": [[1 << 63, "c-1"]]},
    {"items": [], "progress": [[1, "c-1", 1 << 63]]},
    {"items": [], "progress": [[-(1 << 64), "c-1", 0]]},
])
def test_the_kiosk_refuses_a_receipt_naming_a_seq_no_row_can_have(store, receipt):
    """Before: the DELETE/UPDATE itself raised OverflowError inside the receipt's transaction."""
    from appliance.config import UplinkSection
    from appliance.uplink import outbox
    from appliance.uplink.sender import Sender

    with store.transaction():
        outbox.enqueue(store, "crossing", "c-1", {"seq": 1})
    sender = Sender(store, UplinkSection(), lambda *_args: False)
    with pytest.raises(ProtocolError, match="receipt"):
        sender.on_receipt(receipt)
    assert outbox.depth(store) == 1
