"""Inputs the fuzzing campaign (tests/fuzz/, docs/reliability.md) showed to crash a decoder, now refused cleanly."""

from __future__ import annotations

import json

import pytest

from appliance.errors import BundleError
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
