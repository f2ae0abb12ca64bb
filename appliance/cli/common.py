"""What every ``kiosk`` command shares: the --config option, config loading, error reporting."""

from __future__ import annotations

import errno
import json
import socket
import sys
from pathlib import Path
from typing import Any

import click

from appliance import config as config_module
from appliance.errors import KioskError


def _remember_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value:
        ctx.ensure_object(dict)["config_path"] = value
    return value


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    expose_value=False,
    is_eager=True,
    callback=_remember_config,
    help="Config file (default: $KIOSK_CONFIG or /etc/kiosk/kiosk.toml).",
)


def config_path(ctx: click.Context | None = None) -> Path:
    """The config file named on the command line (at any level), else from the environment/default."""
    ctx = ctx or click.get_current_context()
    path = None
    while ctx is not None:
        if isinstance(ctx.obj, dict) and ctx.obj.get("config_path"):
            path = ctx.obj["config_path"]
            break
        ctx = ctx.parent
    return config_module.resolve_path(path)


def load_config(ctx: click.Context | None = None) -> config_module.Config:
    """The config named on the command line (at any level), else from the environment/default."""
    return config_module.load(config_path(ctx))


def check_port_free(host: str, port: int) -> None:
    """Raise KioskError when ``host:port`` cannot be listened on (another kiosk or program has it).

    Checked before anything is printed or started, so a second ``kiosk run`` or ``kiosk demo``
    says why at once instead of printing a fresh PIN and dying in the web server.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # As the web server binds: a port in TIME_WAIT after a clean stop is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise KioskError(f"port {port} is in use") from None
            raise KioskError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False, default=str))


class ReportingCommand(click.Command):
    """A command that turns KioskError into ``error: ...`` on stderr and exit 1 (no traceback)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KioskError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)


class KioskCommand(ReportingCommand):
    """A reporting command that also accepts --config."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        config_option(self)


class KioskGroup(click.Group):
    """A group whose commands (and sub-groups) are KioskCommands."""

    command_class = KioskCommand

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not any(p.name == "config_path" for p in self.params):
            config_option(self)


KioskGroup.group_class = KioskGroup
