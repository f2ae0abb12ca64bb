"""``kiosk-hq demo``: a local broker, HQ's ingest and console, and a simulated fleet, in one command."""

from __future__ import annotations

import logging
import secrets
import shutil
import signal
import tempfile
import threading
from pathlib import Path

import click

from appliance.cli.common import ReportingCommand
from appliance.errors import KioskError


@click.command("demo", cls=ReportingCommand)
@click.option("--kiosks", "count", default=5, show_default=True, type=click.IntRange(1, 40),
              help="Simulated kiosks (the 2nd goes offline, the 3rd keeps an old list, the 4th raises hits).")
@click.option("--port", default=8090, show_default=True, type=click.IntRange(1, 65535), help="Console port.")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Where the demo's broker, HQ and kiosks keep their files (default: a temporary folder, removed "
              "on exit).")
def command(count: int, port: int, directory: Path | None) -> None:
    """Run a throw-away HQ with a simulated fleet; prints the console's URL and an admin's password."""
    from hq.demo import scenario
    from hq.demo.hq_side import HQ, LocalBroker

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    temporary = directory is None
    root = directory or Path(tempfile.mkdtemp(prefix="kiosk-hq-demo-"))
    if directory is not None and directory.exists() and any(directory.iterdir()):
        raise KioskError(f"{directory} is not empty: give an empty --dir or none for a temporary one")
    broker = LocalBroker(root / "broker").start()
    hq = kiosks = None
    stop = threading.Event()
    try:
        token = secrets.token_urlsafe(24)
        hq = HQ(root / "hq", broker.url, web_port=port, metrics_token=token)
        kiosks = scenario.make_fleet(root, hq, broker.url, count)
        password = hq.add_user("hq-admin", "admin")
        hq.start()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        click.echo(f"""
HQ demo running ({count} simulated kiosks, broker {broker.url})
  console:  {hq.url}/
  user:     hq-admin (admin)   password: {password}
  metrics:  curl -H 'Authorization: Bearer {token}' {hq.url}/metrics
  files:    {root}{' (removed on exit)' if temporary else ''}
Kiosk 2 goes offline after {scenario.OFFLINE_AFTER_S} s, kiosk 3 holds an old list, kiosk 4 meets listed travellers.
Ctrl-C stops everything.
""")
        scenario.run(kiosks, stop)
    finally:
        for kiosk in kiosks or []:
            kiosk.close()
        if hq is not None:
            hq.stop()
        broker.stop()
        if temporary:
            shutil.rmtree(root, ignore_errors=True)
