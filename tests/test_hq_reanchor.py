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
