"""`kiosk bench uplink` runs end to end (tiny backlog) and prints the figures the issue names."""

from __future__ import annotations

import json

from click.testing import CliRunner

from appliance.cli import cli


def test_bench_uplink_json_has_both_sides_and_ratios():
    result = CliRunner().invoke(cli, ["bench", "uplink", "--crossings", "60", "--rounds", "1", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["crossings"] == 60
    for side in ("kiosk", "baseline"):
        assert figures[side]["crossings_per_s"] > 0
        assert figures[side]["bytes_per_crossing"] > 0
    assert figures["speed_ratio"] == figures["kiosk"]["crossings_per_s"] / figures["baseline"]["crossings_per_s"]
    # Batching and compression must show even on a tiny backlog.
    assert figures["bytes_ratio"] < 0.5
    assert "QoS 1" in figures["baseline"]["name"]
    # The officer kept recording while the backlog drained, and each of those was timed.
    assert figures["kiosk"]["record_ms_idle"]["n"] > 0 and figures["kiosk"]["record_ms_idle"]["p99"] > 0
    assert set(figures["kiosk"]["record_ms_while_draining"]) == {"n", "p50", "p99"}
