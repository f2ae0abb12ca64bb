"""`kiosk bench soak`, small: three days at a post without an RTC, the uplink on two, a shutdown each night."""

from __future__ import annotations

import json

from click.testing import CliRunner

from appliance.cli import cli


def test_a_short_soak_ends_with_every_crossing_at_hq_once_with_right_or_reanchored_times():
    result = CliRunner().invoke(cli, ["bench", "soak", "--days", "3", "--per-day", "12", "--uplink-every", "2",
                                      "--json"], catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    figures = json.loads(result.stdout)
    assert figures["acknowledged"] == 36 and figures["uplink_days"] == 2
    assert figures["hq"] == {"held": 36, "exactly_once_in_order": True, "missing": 0, "duplicates": 0,
                             "photos_complete": 36}
    times = figures["times"]
    # Day one had no trusted time until the supervisor set it, day two none until HQ's first receipt:
    # those runs were recorded under the board's clock (a day behind on day two) and HQ re-anchored them.
    assert times["recorded_untrusted"] > 0 and times["reanchored"] == times["recorded_untrusted"]
    assert times["as_sent"] == 0 and times["wrong"] == 0 and times["right"] + times["reanchored"] == 36
    assert times["clock_behind_at_last_boot_h"] > 40
    nights = figures["nights"]
    assert nights["clean_exits"] == 3 and nights["notices_at_hq"] == 3
    assert 0 < figures["partition"]["max_fill_percent"] < 100
    assert figures["audit_verify"] is True and figures["ok"] is True
    assert result.exit_code == 0
    assert "day 3/3: uplink" in result.stderr
