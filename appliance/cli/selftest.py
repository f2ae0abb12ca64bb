"""``kiosk selftest``: the field technician's check of every configured device."""

from __future__ import annotations

import logging
import sys

import click

from appliance.cli.common import KioskCommand, load_config, print_json
from appliance.workflow import selftest

COLUMNS = ("device", "backend", "port", "result", "hint")


def render(rows: list[dict]) -> str:
    """A plain table: PASS/FAIL, device, back-end, port, result, then the hint on failures."""
    lines = []
    widths = {name: max(len(name), *(len(str(row[name])) for row in rows)) for name in ("device", "backend", "port")}
    header = f"{'':4}  {'device':{widths['device']}}  {'backend':{widths['backend']}}  {'port':{widths['port']}}  result"
    lines.append(header)
    for row in rows:
        mark = "PASS" if row["ok"] else "FAIL"
        lines.append(f"{mark:4}  {row['device']:{widths['device']}}  {row['backend']:{widths['backend']}}  "
                     f"{row['port']:{widths['port']}}  {row['result']}")
        if not row["ok"] and row["hint"]:
            lines.append(f"{'':4}  {'':{widths['device']}}  hint: {row['hint']}")
    failed = sum(not row["ok"] for row in rows)
    lines.append("")
    lines.append(f"{len(rows) - failed} passed, {failed} failed" if failed else f"all {len(rows)} devices passed")
    return "\n".join(lines)


@click.command("selftest", cls=KioskCommand)
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON (for scripts).")
def command(as_json: bool) -> None:
    """Probe every configured device; print PASS/FAIL per device with hints; exit 1 if any failed.

    Stop the service first (systemctl stop kiosk): it holds the serial ports.
    """
    # Each failure is in its row, with a hint; the same warnings on stderr would only repeat it.
    logging.getLogger("appliance").setLevel(logging.ERROR)
    rows = selftest.run(load_config())
    if as_json:
        print_json(rows)
    else:
        click.echo(render(rows))
    if not all(row["ok"] for row in rows):
        sys.exit(1)
