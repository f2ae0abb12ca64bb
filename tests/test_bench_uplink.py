"""`kiosk bench uplink` end to end on a tiny backlog: HQ receives every crossing once; the figures are measured."""

from __future__ import annotations

import json
from collections import Counter

from click.testing import CliRunner

from appliance.bench import uplink as bench
from appliance.cli import cli
from hq.db import HQDatabase

BACKLOG = 60


def test_bench_uplink_json_has_both_sides_measured():
    result = CliRunner().invoke(cli, ["bench", "uplink", "--crossings", str(BACKLOG), "--rounds", "1", "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["crossings"] == BACKLOG and figures["rounds"] == 1
    kiosk, baseline = figures["kiosk"], figures["baseline"]
    assert "QoS 1" in baseline["name"]
    for side in (kiosk, baseline):
        assert side["seconds"] > 0 and side["crossings_per_s"] > 0 and side["bytes_per_crossing"] > 0
    # The relay counted at least every JSON message the baseline published.
    published = sum(len(json.dumps(crossing)) for crossing in bench.synthetic_crossings(BACKLOG, "BENCH", "K1"))
    assert baseline["bytes"] >= published
    # Batching and compression must show even on a tiny backlog, the officer's few crossings included.
    assert kiosk["bytes"] < baseline["bytes"] and figures["bytes_ratio"] < 0.5
    assert 1 <= kiosk["batches"] < BACKLOG
    # The officer kept recording while the backlog drained, and each of those was timed.
    idle = kiosk["record_ms_idle"]
    assert idle["n"] > 0 and 0 < idle["p50"] <= idle["p99"]
    assert set(kiosk["record_ms_while_draining"]) == {"n", "p50", "p99", "max"}


def test_hq_receives_every_crossing_of_the_backlog_exactly_once(tmp_path):
    backlog = bench.synthetic_crossings(BACKLOG, "BENCH", "K1")
    workdir = tmp_path / "round"
    workdir.mkdir()
    with bench.local_broker(tmp_path) as port:
        figures = bench.run_kiosk(port, backlog, workdir)
    with HQDatabase(str(workdir / "hq" / "hq.sqlite3")) as hq:
        held = hq.crossings()
    received = Counter(crossing["id"] for crossing in held)
    assert all(count == 1 for count in received.values())
    assert {crossing["id"] for crossing in backlog} <= set(received)
    # Everything else HQ holds is what the officer recorded meanwhile, through the workflow.
    recorded = [crossing for crossing in held if crossing["id"] not in {c["id"] for c in backlog}]
    timed = figures["record_ms_idle"]["n"] + figures["record_ms_while_draining"]["n"]
    assert len(recorded) == timed > 0
    assert all(crossing["officer_id"] == "bench" and crossing["decision_reason"] for crossing in recorded)
    assert {(crossing["post_id"], crossing["kiosk_id"]) for crossing in held} == {("BENCH", "K1")}
