"""``kiosk bench footprint`` end to end on tiny lists: a real ``kiosk run``, mosquitto and HQ ingest;
the figures are present and sane (not timed asserts), and built lists are reused from the cache."""

from __future__ import annotations

import json


def test_bench_footprint_json_tiny(run_cli, tmp_path):
    args = ("bench", "footprint", "--json", "--persons", "300", "--faces", "200", "--dim", "32", "--documents", "3000",
            "--crossings", "12", "--idle-seconds", "2", "--cache-dir", str(tmp_path / "cache"))
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    ours, peer = figures["with_lists"], figures["demo_lists_only"]
    assert figures["settings"] == {"persons": 300, "documents": 3000, "faces": 200, "dim": 32, "crossings": 12,
                                   "idle_s": 2.0}
    assert figures["lists_cached"] is False
    for kiosk in (ours, peer):
        assert 0 < kiosk["ready_s"] <= kiosk["health_s"] < 120
        assert 20 < kiosk["rss_idle_mb"] < 2000
    assert ours["lists"] is True and peer["lists"] is False
    # Every crossing was recorded (screened against the lists) and reached HQ.
    assert ours["record_ms"]["n"] == 12 and ours["refused_count"] == 0 and ours["outbox_drained"] is True
    assert 0 < ours["record_ms"]["p50"] <= ours["record_ms"]["p99"] <= ours["record_ms"]["max"]
    assert ours["first_record_ms"] > 0
    assert 0 <= ours["idle_cpu_percent"] < 200 and ours["idle_seconds"] == 2.0
    assert ours["rss_after_crossings_mb"] > 20 and ours["peak_rss_mb"] >= ours["rss_after_crossings_mb"]
    assert set(figures["targets"]) == {"rss_le_150_mb", "idle_cpu_le_1_percent", "ready_le_10_s",
                                       "record_p99_le_50_ms", "every_crossing_recorded"}
    assert figures["targets"]["every_crossing_recorded"] is True
    assert "estimate" in figures["pi4_estimate"]["note"]
    assert len(figures["machine"]["load_average_at_start"]) == 3
    # The second run takes the lists from the cache.
    again = run_cli(*args[:-2], "--cache-dir", str(tmp_path / "cache"))
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["lists_cached"] is True


def test_bench_footprint_text_report(run_cli, tmp_path):
    result = run_cli("bench", "footprint", "--persons", "50", "--faces", "0", "--documents", "100", "--crossings", "3",
                     "--idle-seconds", "1", "--cache-dir", str(tmp_path / "cache"))
    assert result.exit_code == 0, result.output
    assert "start to READY (s)" in result.stdout and "demo lists only" in result.stdout
    assert "Pi 4, estimated (not measured)" in result.stdout
    assert "targets: rss_le_150_mb" in result.stdout
