"""`kiosk bench outage`, small: the broker down while crossings with photos are recorded, then the drain."""

from __future__ import annotations

import json

from click.testing import CliRunner

from appliance.bench import outage
from appliance.bench.rig import HQ, KioskProcess, LocalBroker
from appliance.cli import cli
from appliance.storage.store import Store
from hq.db import HQDatabase


def test_outage_backlog_drains_exactly_once_in_order_with_photos(tmp_path):
    kept = tmp_path / "run"
    result = CliRunner().invoke(cli, ["bench", "outage", "--crossings", "60", "--officers", "2", "--json",
                                      "--keep", str(kept)], catch_exceptions=False)
    figures = json.loads(result.output)
    assert result.exit_code == 0, figures
    assert figures["recorded_offline"] >= 60
    # Each crossing queued itself and its photo: the backlog is at least twice the crossings.
    assert figures["backlog_rows"] >= 2 * figures["recorded_offline"]
    assert 0 < figures["first_receipt_s"] <= figures["drain_s"]
    hq = figures["hq"]
    assert hq["exactly_once_in_order"] and hq["missing"] == 0
    assert hq["held"] >= figures["recorded_offline"] + figures["record_ms_idle"]["n"]
    assert hq["photos_complete"] == hq["photos_on_kiosk"] == hq["held"]
    assert figures["acknowledged_present"]
    assert figures["record_ms_while_draining"]["n"] > 0 and figures["record_ms_while_draining"]["p99"] > 0
    memory = figures["memory_kb"]
    assert 0 < memory["idle"] <= memory["peak"] and memory["after_drain"] <= memory["peak"]
    assert figures["ok"] is True
    assert figures["inflight_captures"] == 3  # the kiosk's default
    # --keep leaves both ends for a post-mortem: the kiosk's database and HQ's, with what they hold.
    with Store(kept / "kiosk" / "data" / "kiosk.sqlite3") as store:
        assert store.conn.execute("SELECT count(*) FROM crossings").fetchone()[0] == hq["held"]
    with HQDatabase(str(kept / "hq" / "hq.sqlite3")) as db:
        assert len(db.crossings()) == hq["held"]


def test_outage_keeps_its_run_only_in_a_folder_of_its_own(tmp_path):
    (tmp_path / "notes.txt").write_text("a technician's notes", encoding="utf-8")
    result = CliRunner().invoke(cli, ["bench", "outage", "--crossings", "10", "--keep", str(tmp_path)],
                                catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and "the folder is not empty" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_outage_refuses_photos_in_flight_that_would_take_the_whole_window():
    # Four batches in flight at most: three photos leave one for crossings, four would not.
    result = CliRunner().invoke(cli, ["bench", "outage", "--crossings", "10", "--inflight-captures", "4"],
                                catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and "max_inflight_captures (4) must be at most 3" in result.stderr


def test_a_timed_out_wait_says_what_each_end_was_doing(tmp_path):
    # HQ ingest gone while the kiosk and broker run: the post-mortem names who is down,
    # the kiosk's view of its uplink, and each process's last log lines.
    broker = LocalBroker(tmp_path / "broker").start()
    hq = HQ(tmp_path / "hq", broker.url)
    kiosk = KioskProcess(tmp_path / "kiosk", broker.url, hq.public_key)
    try:
        hq.start()
        kiosk.start()
        kiosk.wait_ready(90)
        hq.stop()
        with Store(kiosk.config.db_path) as store:
            text = outage._post_mortem(store, kiosk, hq, broker)
    finally:
        kiosk.stop()
        hq.stop()
        broker.stop()
    assert "processes alive: {'kiosk': True, 'hq': False, 'broker': True}" in text
    uplink = json.loads(text.split("kiosk uplink status: ", 1)[1].split("\n", 1)[0])
    assert uplink["broker"] == broker.url.removeprefix("mqtt://") and "queued" in uplink
    assert "HQ ingest's last lines:\n" in text and "ingest ready" in text.split("HQ ingest's last lines:\n", 1)[1]
