"""``kiosk-hq web`` (the console) and ``kiosk-hq users`` (its accounts)."""

from __future__ import annotations

import sys

import click

from hq.cli.common import HQCommand, load, open_db, print_json


@click.command("web", cls=HQCommand)
@click.option("--host", default=None, help="Address to listen on (default: web.host, 127.0.0.1).")
@click.option("--port", default=None, type=click.IntRange(1, 65535), help="Port (default: web.port, 8090).")
def web(config_path: str | None, host: str | None, port: int | None) -> None:
    """Serve the HQ console: fleet, kiosks, alerts, crossings, statistics, lists, /metrics."""
    import uvicorn

    from hq.web.app import create_app

    config = load(config_path)
    with open_db(config) as db:
        app = create_app(config, db)
        # An open Alerts page holds its event stream for ever: stopping must not wait for it.
        uvicorn.run(app, host=host or config.web.host, port=port or config.web.port, log_level="info",
                    timeout_graceful_shutdown=3)


@click.group("users")
def users_group() -> None:
    """HQ console accounts: add (viewer, analyst, admin), list, unlock."""


@users_group.command("add", cls=HQCommand)
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "analyst", "admin"]), required=True, help="What the user may do.")
@click.option("--generate", is_flag=True, help="Make a random password and print it, instead of reading one.")
def users_add(config_path: str | None, name: str, role: str, generate: bool) -> None:
    """Add an HQ user; the password comes from stdin (one line, at least 12 characters) or --generate."""
    from hq import users

    if generate:
        password = users.generate_password()
    else:
        password = sys.stdin.readline().rstrip("\n")
    with open_db(load(config_path)) as db:
        users.add(db, name.strip().lower(), role, password)
    click.echo(f"added {name} ({role})")
    if generate:
        click.echo(f"password: {password}")


@users_group.command("list", cls=HQCommand)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def users_list(config_path: str | None, as_json: bool) -> None:
    """HQ users with their role and lockout."""
    from hq import users

    with open_db(load(config_path)) as db:
        rows = users.users(db)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        locked = f" locked until {row['locked_until']}" if row["locked_until"] else ""
        click.echo(f"{row['name']:<20} {row['role']:<8}{locked}")


@users_group.command("unlock", cls=HQCommand)
@click.argument("name")
def users_unlock(config_path: str | None, name: str) -> None:
    """End a user's lockout after too many wrong passwords."""
    from hq import users

    with open_db(load(config_path)) as db:
        users.unlock(db, name)
    click.echo(f"unlocked {name}")
