"""`kiosk bench powercut` at process depth, a short campaign: kill -9 of `kiosk run` under officers' load."""

from __future__ import annotations

import json

from click.testing import CliRunner

from appliance.cli import cli


def test_ten_power_cuts_lose_and_duplicate_nothing():
    result = CliRunner().invoke(cli, ["bench", "powercut", "--cuts", "10", "--max-uptime", "1.0", "--json"],
                                catch_exceptions=False)
    figures = json.loads(result.output)
    assert result.exit_code == 0, figures
    assert figures["depth"] == "process"
    assert figures["cuts"] == 10
    # The officers did record through the cuts, and every acknowledged crossing is there, once.
    assert figures["acknowledged"] > 50
    assert figures["present"] == figures["acknowledged"]
    assert figures["lost"] == 0 and figures["duplicated"] == 0 and figures["refused"] == 0
    # HQ holds exactly what the kiosk holds (acknowledged or not), once each, in the kiosk's order.
    hq = figures["hq"]
    assert hq["held"] == figures["acknowledged"] + figures["stored_unacknowledged"]
    assert hq["missing"] == hq["duplicated"] == hq["foreign"] == 0 and hq["in_kiosk_order"] and hq["drained"]
    assert figures["checks"] == {"db_check": True, "audit_verify": True, "config_open": True, "lists_open": True,
                                 "keys_open": True}
    # Every start (the first and one after each cut) reached READY and a healthy API.
    assert figures["recovery_s"]["to_ready"]["n"] == 11
    assert figures["recovery_s"]["to_health"]["n"] == 11
    assert 0 < figures["recovery_s"]["to_ready"]["p50"] <= figures["recovery_s"]["to_ready"]["max"]
    assert figures["ok"] is True
