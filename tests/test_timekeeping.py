"""Trusted time: each crossing's time source and uncertainty, clock jumps audited, a boot with the clock
in the past, a supervisor setting the time, HQ's signed receipt time, the seq whatever the clock does."""

from __future__ import annotations

import json
import re
import socket
import threading
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from appliance.cli import cli
from appliance.config.time import SimulatedTimeSources, TimeSection
from appliance.domain import clock
from appliance.errors import Forbidden, WorkflowError
from appliance.hw import timesource
from appliance.hw.timesource_system import GpsdSource, SysfsRtcSource
from appliance.service.daemon import KioskService
from appliance.storage import clock_state
from appliance.storage.clock_state import BootPoint
from appliance.web.app import create_app
from appliance.workflow import crossings, selftest, timekeeping
from appliance.workflow.crossings import CrossingRequest

from .conftest import OFFICER_PIN, SUPERVISOR_PIN
from .samples import CLEAR_OKAFOR, import_demo_lists
from .web_client import BrowserClient

MONTH = timedelta(days=30)


def _real() -> datetime:
    return datetime.now(timezone.utc)


def _with_time(config, **simulated):
    return config.model_copy(update={"time": TimeSection(simulated=SimulatedTimeSources(**simulated))})


def _record(store, config, officers, officer="alice"):
    return crossings.record(store, config, officers.get(officer), CrossingRequest(direction="entry", mrz=CLEAR_OKAFOR))


def _audit(store, action):
    rows = store.conn.execute("SELECT subject, details FROM audit WHERE action = ? ORDER BY seq", (action,)).fetchall()
    return [(subject, json.loads(details)) for subject, details in rows]


def _clock_at(monkeypatch, moment_of):
    monkeypatch.setattr(clock, "utcnow", moment_of)


@pytest.fixture
def lists(store):
    import_demo_lists(store)


def test_a_synchronised_clock_is_vouched_for_by_ntp(store, config, officers, lists):
    recorded = _record(store, config, officers).to_dict()
    assert recorded["time_source"] == "ntp" and recorded["time_uncertainty_s"] == 0.05
    assert recorded["boot_id"] == timesource.boot_id() and recorded["boot_s"] > 0
    stored = crossings.get(store, recorded["id"])
    assert (stored.time_source, stored.time_uncertainty_s, stored.boot_id) == ("ntp", 0.05, recorded["boot_id"])
    # The uplink's payload is the recorded crossing's JSON: the fields travel to HQ.
    payload = json.loads(store.conn.execute("SELECT payload FROM outbox WHERE kind = 'crossing'").fetchone()[0])
    assert payload["time_source"] == "ntp" and payload["boot_s"] == recorded["boot_s"]


def test_boot_with_the_clock_in_the_past_is_audited_and_crossings_carry_the_rtc_time(
        store, config, officers, lists, monkeypatch):
    config = _with_time(config, ntp_synchronized=False, rtc_offset_s=0.0)
    # The kiosk last saw the real time in an earlier boot, then the battery ran flat.
    clock_state.save_last_seen(store, BootPoint(utc=clock.iso(_real() - timedelta(minutes=5)),
                                                boot_id="an-earlier-boot", boot_s=86_000.0))
    _clock_at(monkeypatch, lambda: _real() - MONTH)
    service = KioskService(config)
    service.store = store
    service.start_clock_watch()
    try:
        [(direction, jump)] = _audit(store, "time.jump")
        assert direction == "backwards" and jump["across_boot"] is True and jump["seconds"] < -MONTH.total_seconds() + 600
        [(source, anchored)] = _audit(store, "time.anchor")
        assert source == "rtc" and anchored["uncertainty_s"] == 2.0
        recorded = _record(store, config, officers)
    finally:
        service.clock_watch.stop()
    crossing = recorded.crossing
    # Recorded at the RTC's time carried on the boot clock, not the month-old system clock.
    assert abs((clock.parse_iso(crossing.recorded_at) - _real()).total_seconds()) < 10
    assert crossing.time_source == "rtc" and 2.0 <= crossing.time_uncertainty_s < 2.1
    assert timekeeping.status(store, config)["trusted"] is True


def test_an_rtc_behind_the_last_time_seen_is_not_trusted(store, config, officers, lists):
    config = _with_time(config, ntp_synchronized=False, rtc_offset_s=-MONTH.total_seconds())
    clock_state.save_last_seen(store, BootPoint(utc=clock.iso(_real()), boot_id="an-earlier-boot", boot_s=10.0))
    assert timekeeping.refresh(store, config) is None
    assert _audit(store, "time.anchor") == []
    assert _record(store, config, officers).crossing.time_source == "system"


def test_no_trusted_source_records_the_system_clock_as_untrusted_and_warns(store, config, officers, lists):
    config = _with_time(config, ntp_synchronized=False)
    crossing = _record(store, config, officers).crossing
    assert crossing.time_source == "system" and crossing.time_uncertainty_s is None
    assert timekeeping.status(store, config)["trusted"] is False


def test_a_jump_forwards_beyond_the_bound_and_one_backwards_are_audited(store, config, monkeypatch):
    start = _real()
    _clock_at(monkeypatch, lambda: start)
    assert timekeeping.check(store, config) is None
    assert timekeeping.check(store, config) is None  # the clock moved with the boot clock: no jump
    _clock_at(monkeypatch, lambda: start + timedelta(seconds=config.time.max_forward_jump_s + 60))
    forwards = timekeeping.check(store, config)
    assert forwards is not None and forwards["direction"] == "forwards" and forwards["across_boot"] is False
    _clock_at(monkeypatch, lambda: start - timedelta(hours=1))
    backwards = timekeeping.check(store, config)
    assert backwards is not None and backwards["direction"] == "backwards"
    assert [subject for subject, _ in _audit(store, "time.jump")] == ["forwards", "backwards"]


def test_a_small_step_is_no_jump(store, config, monkeypatch):
    start = _real()
    _clock_at(monkeypatch, lambda: start)
    timekeeping.check(store, config)
    _clock_at(monkeypatch, lambda: start + timedelta(seconds=config.time.max_forward_jump_s - 30))
    assert timekeeping.check(store, config) is None
    assert _audit(store, "time.jump") == []


def test_the_seq_stays_monotonic_across_a_backwards_jump(store, config, officers, lists, monkeypatch):
    config = _with_time(config, ntp_synchronized=False)
    start = _real()
    _clock_at(monkeypatch, lambda: start)
    timekeeping.check(store, config)
    first = _record(store, config, officers).crossing
    _clock_at(monkeypatch, lambda: start - timedelta(days=2))
    assert timekeeping.check(store, config)["direction"] == "backwards"
    second = _record(store, config, officers).crossing
    assert second.recorded_at < first.recorded_at and second.seq == first.seq + 1


def test_a_supervisor_sets_the_time_from_the_cli_audited(store, config, config_path, officers, lists, monkeypatch):
    monkeypatch.setenv("KIOSK_CONFIG", str(config_path))
    config_path.write_text(config_path.read_text() + "\n[time.simulated]\nntp_synchronized = false\n")
    untrusted = _with_time(config, ntp_synchronized=False)
    _clock_at(monkeypatch, lambda: _real() - MONTH)
    runner = CliRunner()
    given = _real().replace(microsecond=0)
    result = runner.invoke(cli, ["time", "set", "--supervisor", "sam", given.strftime("%Y-%m-%dT%H:%M:%SZ")],
                           input=SUPERVISOR_PIN + "\n")
    assert result.exit_code == 0, result.output
    [(_, details)] = _audit(store, "time.set")
    assert details["utc"] == clock.iso(given)
    crossing = _record(store, untrusted, officers).crossing
    assert crossing.time_source == "supervisor"
    assert abs((clock.parse_iso(crossing.recorded_at) - given).total_seconds()) < 10
    status = json.loads(runner.invoke(cli, ["time", "status"]).output)
    assert status["trusted"] is True and status["source"] == "supervisor"


def test_setting_the_time_refuses_a_wrong_pin_an_officer_and_a_bad_time(store, config, config_path, officers,
                                                                         monkeypatch):
    monkeypatch.setenv("KIOSK_CONFIG", str(config_path))
    runner = CliRunner()
    wrong = runner.invoke(cli, ["time", "set", "--supervisor", "sam", "2026-12-02T10:00:00Z"], input="000000\n")
    assert wrong.exit_code == 1
    no_zone = runner.invoke(cli, ["time", "set", "--supervisor", "sam", "2026-12-02T10:00:00"],
                            input=SUPERVISOR_PIN + "\n")
    assert no_zone.exit_code == 1 and "zone" in no_zone.output
    garbage = runner.invoke(cli, ["time", "set", "--supervisor", "sam", "yesterday"], input=SUPERVISOR_PIN + "\n")
    assert garbage.exit_code == 1 and "is not a time" in garbage.output
    with pytest.raises(Forbidden):
        timekeeping.set_by_supervisor(store, config, officers.get("alice"), _real())
    with pytest.raises(WorkflowError):
        timekeeping.set_by_supervisor(store, config, officers.get("sam"), datetime(2026, 12, 2, 10))
    assert clock_state.anchor(store, timesource.boot_id()) is None and _audit(store, "time.set") == []


def test_hq_receipt_time_anchors_the_clock(store, config, officers, lists, monkeypatch):
    config = _with_time(config, ntp_synchronized=False)
    _clock_at(monkeypatch, lambda: _real() - MONTH)
    assert timekeeping.offer_hq(store, config, "not a time") is None
    hq_time = _real()
    assert timekeeping.offer_hq(store, config, clock.iso(hq_time)) is not None
    crossing = _record(store, config, officers).crossing
    assert crossing.time_source == "hq" and 5.0 <= crossing.time_uncertainty_s < 5.1
    assert abs((clock.parse_iso(crossing.recorded_at) - hq_time).total_seconds()) < 10
    # A source left out of [time] sources is not taken.
    ignoring = config.model_copy(update={"time": config.time.model_copy(update={"sources": ["ntp"]})})
    assert timekeeping.offer_hq(store, ignoring, clock.iso(hq_time)) is None


def test_the_system_rtc_reads_the_kernels_sysfs_file(tmp_path):
    since_epoch = tmp_path / "since_epoch"
    since_epoch.write_text("1764633600\n")
    reading = SysfsRtcSource(since_epoch, 2.0).read(_real())
    assert reading is not None and reading.utc == datetime(2025, 12, 2, tzinfo=timezone.utc)
    since_epoch.write_text("")  # a driver that lost the time
    assert SysfsRtcSource(since_epoch, 2.0).read(_real()) is None
    assert SysfsRtcSource(tmp_path / "missing", 2.0).read(_real()) is None


def _gpsd(lines):
    """A gpsd stand-in on a free loopback port: answers ?WATCH with ``lines``."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve():
        conn, _ = server.accept()
        with conn:
            conn.recv(256)
            conn.sendall("".join(line + "\n" for line in lines).encode())
        server.close()

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1]


def test_gpsd_time_is_the_first_tpv_with_a_fix():
    port = _gpsd(['{"class":"VERSION","release":"3.25"}', '{"class":"TPV","mode":1}',
                  '{"class":"TPV","mode":3,"time":"2026-12-02T01:50:00.250Z","ept":0.005}'])
    reading = GpsdSource("127.0.0.1", port, 0.5).read(_real())
    assert reading is not None and reading.source == "gps"
    assert reading.utc == datetime(2026, 12, 2, 1, 50, 0, 250000, tzinfo=timezone.utc)
    assert reading.uncertainty_s == pytest.approx(0.505)
    no_fix = _gpsd(['{"class":"TPV","mode":1}'])
    assert GpsdSource("127.0.0.1", no_fix, 0.5).read(_real()) is None


def test_the_status_bar_warns_of_an_unverified_time_in_both_languages(store, config, officers, lists):
    trusted = BrowserClient(create_app(config, store))
    assert 'id="clock-untrusted"' not in trusted.get("/login").text
    client = BrowserClient(create_app(_with_time(config, ntp_synchronized=False), store))
    response = client.post("/login", data={"officer_id": "alice", "pin": OFFICER_PIN}, follow_redirects=False)
    assert response.status_code == 303
    home = client.get("/").text
    assert 'id="clock-untrusted"' in home and "Time not verified" in home
    client.cookies.set("kiosk_lang", "fr")
    assert "Heure non vérifiée" in client.get("/").text


def test_the_selftest_says_what_each_time_source_answers(config):
    row = selftest.check_time(_with_time(config, ntp_synchronized=False, rtc_offset_s=0.0))
    assert row["device"] == "time" and row["ok"] is True and row["hint"] == ""
    assert row["result"].startswith("ntp: no answer; rtc: ") and "(±2 s)" in row["result"]
    assert re.search(r"rtc: [+-]\d+\.\d s from the system clock", row["result"]), row["result"]
    assert "gps: no answer" in row["result"]
    silent = selftest.check_time(_with_time(config, ntp_synchronized=False))
    assert silent["ok"] is False and "kiosk time set" in silent["hint"]


# --- a rehearsal's calendar and a simulated board's boot ---------------------------------------

def _time_status(config_path, offset: str | None):
    import os
    import subprocess
    import sys

    env = {key: value for key, value in os.environ.items() if key != clock.OFFSET_VARIABLE}
    if offset is not None:
        env[clock.OFFSET_VARIABLE] = offset
    return subprocess.run([sys.executable, "-m", "appliance", "--config", str(config_path), "time", "status"],
                          env=env, capture_output=True, text=True, timeout=120)


def test_a_rehearsal_calendar_shifts_every_reading_of_the_clock(config_path):
    shifted = _time_status(config_path, "-86400")
    assert shifted.returncode == 0, shifted.stderr
    at = clock.parse_iso(json.loads(shifted.stdout)["at"])
    assert abs((at - (_real() - timedelta(days=1))).total_seconds()) < 60
    plain = _time_status(config_path, None)
    assert abs((clock.parse_iso(json.loads(plain.stdout)["at"]) - _real()).total_seconds()) < 60


@pytest.mark.parametrize("bad", ["soon", "nan", "1e12"])
def test_a_rehearsal_calendar_that_is_not_seconds_stops_the_command(config_path, bad):
    result = _time_status(config_path, bad)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"KIOSK_CLOCK_OFFSET_S={bad!r}" in result.stderr


def test_a_simulated_board_has_its_own_boot_and_its_anchor_is_its_own(store, config, officers):
    monday = config.model_copy(update={"time": TimeSection(simulated=SimulatedTimeSources(
        ntp_synchronized=False, boot_id="board-boot-monday"))})
    tuesday = config.model_copy(update={"time": TimeSection(simulated=SimulatedTimeSources(
        ntp_synchronized=False, boot_id="board-boot-tuesday"))})
    assert timesource.boot_id(monday.time) == "board-boot-monday" != timesource.boot_id()
    assert timesource.boot_id(TimeSection(backend="system", simulated=SimulatedTimeSources(boot_id="x"))) \
        == timesource.boot_id()  # only the simulated back-end plays a board
    timekeeping.set_by_supervisor(store, monday, officers.get("sam"), _real())
    assert timekeeping.stamp(store, monday).source == "supervisor"
    assert timekeeping.stamp(store, tuesday).source == "system"  # the next boot starts untrusted
