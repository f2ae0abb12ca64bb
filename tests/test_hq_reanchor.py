"""HQ re-anchors the crossings a kiosk recorded under an untrusted clock from the next trusted one of the boot."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from appliance.config.time import SimulatedTimeSources, TimeSection
from appliance.domain import clock
from appliance.workflow import crossings, timekeeping
from appliance.workflow.crossings import CrossingRequest
from hq.reanchor import reanchor

from .samples import CLEAR_OKAFOR, import_demo_lists

MONTH = timedelta(days=30)


def _real() -> datetime:
    return datetime.now(timezone.utc)


def test_an_untrusted_run_is_carried_back_from_the_next_trusted_crossing(store, config, officers, monkeypatch):
    import_demo_lists(store)
    config = config.model_copy(update={"time": TimeSection(simulated=SimulatedTimeSources(ntp_synchronized=False))})
    monkeypatch.setattr(clock, "utcnow", lambda: _real() - MONTH)  # booted with the clock a month behind

    def record():
        request = CrossingRequest(direction="entry", mrz=CLEAR_OKAFOR)
        return crossings.record(store, config, officers.get("alice"), request).to_dict()

    untrusted = [record(), record()]
    assert {c["time_source"] for c in untrusted} == {"system"}
    timekeeping.set_by_supervisor(store, config, officers.get("sam"), _real())
    trusted = record()
    assert trusted["time_source"] == "supervisor"
    sent = [trusted, *untrusted]  # HQ may hold them in any order
    fixed = reanchor(sent)
    assert [item.seq for item in fixed] == [c["seq"] for c in untrusted]
    for item, crossing in zip(fixed, untrusted):
        # The sent time was a month off; the re-anchored one is within seconds of the real time.
        assert clock.parse_iso(crossing["recorded_at"]) < _real() - MONTH + timedelta(minutes=1)
        assert abs((clock.parse_iso(item.reanchored_at) - _real()).total_seconds()) < 30
        assert item.anchored_by == trusted["seq"] and item.uncertainty_s >= 60.0
    assert fixed[0].reanchored_at <= fixed[1].reanchored_at <= trusted["recorded_at"]


def test_a_run_with_no_later_trusted_crossing_in_its_boot_stays_as_sent():
    base = {"recorded_at": "2026-11-01T10:00:00.000000Z", "time_source": "system", "time_uncertainty_s": None}
    held = [{**base, "seq": 1, "id": "a", "boot_id": "boot-1", "boot_s": 100.0},
            # trusted, but in the next boot: the boot clock restarted, nothing to carry back
            {**base, "seq": 2, "id": "b", "boot_id": "boot-2", "boot_s": 50.0, "time_source": "ntp",
             "time_uncertainty_s": 0.05},
            # sent before kiosks recorded the boot reference
            {**base, "seq": 3, "id": "c"}]
    assert reanchor(held) == []
    held.append({**base, "seq": 4, "id": "d", "boot_id": "boot-1", "boot_s": 40.0, "time_source": "rtc",
                 "time_uncertainty_s": 2.0})
    assert reanchor(held) == []  # a boot clock earlier than the untrusted crossing's is not a later point


# --- wired into HQ's ingest: batches re-anchor as they arrive --------------------------------

from hq import reanchor as hq_reanchor  # noqa: E402
from hq.ingest import store_batch  # noqa: E402

from .test_hq import _hq, hq_config_file, hq_db  # noqa: E402,F401  (fixtures)

TRUE_START = datetime(2026, 11, 3, 7, 0, tzinfo=timezone.utc)
BEHIND = timedelta(hours=14)  # the board's clock restarted from last night's saved time


def _crossing(seq: int, boot_s: float, source: str = "system", uncertainty: float | None = None,
              boot: str = "boot-a") -> dict:
    true_at = TRUE_START + timedelta(seconds=boot_s)
    at = true_at if source != "system" else true_at - BEHIND
    return {"id": f"x-{seq}", "seq": seq, "post_id": "P", "kiosk_id": "K1", "recorded_at": clock.iso(at),
            "direction": "entry", "decision": "cleared",
            "time_source": source, "time_uncertainty_s": uncertainty, "boot_id": boot, "boot_s": boot_s}


def _wire(*crossings: dict) -> dict:
    import json

    return {"batch": "b", "items": [{"seq": c["seq"], "kind": "crossing", "id": c["id"], "created_at": c["recorded_at"],
                                     "data": json.dumps(c)} for c in crossings]}


def test_a_run_sent_before_its_anchor_is_reanchored_when_the_anchor_arrives(hq_db):
    hq_db.enrol("P", "K1", "key")
    store_batch(hq_db, "P", "K1", _wire(_crossing(1, 100.0), _crossing(2, 160.0)))
    assert hq_reanchor.times(hq_db) == {}  # nothing trusted in that boot yet: left as sent
    store_batch(hq_db, "P", "K1", _wire(_crossing(3, 400.0, "hq", 5.0), _crossing(4, 500.0, "hq", 5.0)))
    fixed = hq_reanchor.times(hq_db, "P", "K1")
    assert sorted(fixed) == ["x-1", "x-2"]
    for seq, boot_s in ((1, 100.0), (2, 160.0)):
        at = clock.parse_iso(fixed[f"x-{seq}"]["reanchored_at"])
        assert abs((at - (TRUE_START + timedelta(seconds=boot_s))).total_seconds()) < 0.01
        assert fixed[f"x-{seq}"]["anchored_by"] == 3 and fixed[f"x-{seq}"]["reanchored_uncertainty_s"] >= 5.0
    # A resend of every batch changes nothing; the records themselves stay as the kiosk signed them.
    store_batch(hq_db, "P", "K1", _wire(_crossing(1, 100.0), _crossing(2, 160.0), _crossing(3, 400.0, "hq", 5.0)))
    assert hq_reanchor.times(hq_db, "P", "K1") == fixed
    held = hq_reanchor.with_times(hq_db, hq_db.crossings("P", "K1"))
    assert [c["seq"] for c in held] == [1, 2, 3, 4]
    assert held[0]["recorded_at"] == _crossing(1, 100.0)["recorded_at"]
    assert held[0]["reanchored_at"] == fixed["x-1"]["reanchored_at"] and "reanchored_at" not in held[2]


def test_other_boots_and_kiosks_are_not_carried_across(hq_db):
    hq_db.enrol("P", "K1", "key")
    hq_db.enrol("P", "K2", "key")
    store_batch(hq_db, "P", "K1", _wire(_crossing(1, 100.0, boot="monday")))
    store_batch(hq_db, "P", "K1", _wire(_crossing(2, 200.0, "supervisor", 60.0, boot="tuesday")))
    store_batch(hq_db, "P", "K2", _wire(_crossing(1, 50.0, boot="monday"), _crossing(2, 90.0, "ntp", 0.05,
                                                                                     boot="monday")))
    assert list(hq_reanchor.times(hq_db, "P", "K1")) == []
    assert list(hq_reanchor.times(hq_db, "P", "K2")) == ["x-1"]


def test_a_crossing_with_damaged_time_fields_is_stored_and_left_as_sent(hq_db):
    hq_db.enrol("P", "K1", "key")
    damaged = [{**_crossing(1, 10.0), "boot_s": "soon"}, {**_crossing(2, 20.0), "time_uncertainty_s": -1},
               {**_crossing(3, 30.0), "recorded_at": "yesterday"}, {**_crossing(4, 40.0), "boot_id": 7}]
    pairs = store_batch(hq_db, "P", "K1", _wire(*damaged, _crossing(5, 50.0, "gps", 0.5)))
    assert [seq for seq, _ in pairs] == [1, 2, 3, 4, 5]  # receipted: the kiosk must not resend them for ever
    assert [c["seq"] for c in hq_db.crossings("P", "K1")] == [1, 2, 3, 4, 5]
    assert hq_reanchor.times(hq_db, "P", "K1") == {}


def test_the_reanchor_command_recomputes_and_the_crossings_command_shows_the_time(hq_config_file, tmp_path):
    import json

    from hq.db import HQDatabase

    with HQDatabase(str(tmp_path / "hq.sqlite3")) as db:
        db.enrol("P", "K1", "key")
        # Stored as an older HQ did, without the times table: the command fills it from the crossings held.
        db.store_items("P", "K1", [{"seq": c["seq"], "kind": "crossing", "id": c["id"], "created_at": c["recorded_at"],
                                    "data": c} for c in (_crossing(1, 100.0), _crossing(2, 130.0, "rtc", 2.0),
                                                         _crossing(3, 10.0, boot="later"))])
    result = _hq("reanchor", "--json", config=hq_config_file)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{"post_id": "P", "kiosk_id": "K1", "crossings": 3, "untrusted": 2,
                                          "reanchored": 1, "as_sent": 1}]
    text = _hq("reanchor", config=hq_config_file).output
    assert "P/K1: 3 crossing(s), 2 under an untrusted clock, 1 re-anchored, 1 left as sent" in text
    listed = json.loads(_hq("crossings", "--json", config=hq_config_file).output)
    assert listed[0]["reanchored_at"] == clock.iso(TRUE_START + timedelta(seconds=100))
    assert "reanchored_at" not in listed[1] and "reanchored_at" not in listed[2]
    lines = _hq("crossings", config=hq_config_file).output.splitlines()
    assert lines[0].startswith("P/K1 #1     ~2026-11-03T07:01:40") and "~" not in lines[1]


def test_each_untrusted_crossing_takes_the_nearest_later_anchor_whatever_the_arrival_order(hq_db):
    hq_db.enrol("P", "K1", "key")
    # The second anchor arrives first (a stick carried before the uplink came back), then the run
    # and the first anchor in one batch, then a late straggler of the first run.
    store_batch(hq_db, "P", "K1", _wire(_crossing(6, 600.0, "supervisor", 60.0)))
    store_batch(hq_db, "P", "K1", _wire(_crossing(1, 100.0), _crossing(3, 300.0, "hq", 5.0),
                                        _crossing(4, 400.0), _crossing(5, 500.0)))
    store_batch(hq_db, "P", "K1", _wire(_crossing(2, 200.0)))
    fixed = hq_reanchor.times(hq_db, "P", "K1")
    assert {crossing: fixed[crossing]["anchored_by"] for crossing in fixed} == {
        "x-1": 3, "x-2": 3, "x-4": 6, "x-5": 6}
    # The same answer as recomputing everything from the crossings held.
    assert hq_reanchor.rebuild(hq_db, "P", "K1")[0]["reanchored"] == 4
    assert hq_reanchor.times(hq_db, "P", "K1") == fixed
