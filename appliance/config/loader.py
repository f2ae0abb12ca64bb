"""Reading the kiosk config: where the file is, the secret environment overlay, masking and TOML output."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from appliance.config.common import (
    mask_secrets,
    read_toml,
    validate,
)
from appliance.config.root import Config
from appliance.domain import clock

DEFAULT_CONFIG_PATH = Path("/etc/kiosk/kiosk.toml")
ENV_CONFIG_PATH = "KIOSK_CONFIG"
# A secret at [a.b] c comes from $KIOSK_A_B_C (common.secret_env_name).
ENV_PREFIX = "KIOSK_"


def resolve_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The config file to use: explicit path, else $KIOSK_CONFIG, else the system default."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(ENV_CONFIG_PATH)
    if from_env:
        return Path(from_env)
    return DEFAULT_CONFIG_PATH


def load(path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read, override from the environment and validate the config.

    Raises ConfigError naming the file and, for an invalid or unknown key, the key.
    """
    source = resolve_path(path)
    raw = read_toml(source, missing_hint=f" (give --config PATH or set ${ENV_CONFIG_PATH})")
    clock.offset()  # a rehearsal's calendar that is not a number stops the start, not a thread later
    return from_mapping(raw, source=source, environ=environ)


def from_mapping(raw: dict[str, Any], source: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Validate an already-parsed mapping (used by ``load`` and by ``kiosk demo``).

    Secrets given in ``environ`` (default: the process environment) are set into ``raw`` first.
    Raises ConfigError naming the source and, for an invalid or unknown key, the key.
    """
    return validate(Config, raw, source, ENV_PREFIX, os.environ if environ is None else environ)


def masked(config: Config) -> dict[str, Any]:
    """The effective config as plain data, every secret replaced by '********' (or None if unset)."""
    return mask_secrets(config.model_dump(mode="json"), Config)


def to_toml(data: dict[str, Any]) -> str:
    """Render nested plain data as TOML (enough for config: tables, strings, numbers, bools)."""
    lines: list[str] = []

    def scalar(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return repr(value)
        if isinstance(value, list):
            return "[" + ", ".join(scalar(v) for v in value) + "]"
        text = str(value).replace("\\", "\\\\").replace('"', '\\"')
        return f'"{text}"'

    def table(prefix: str, mapping: dict[str, Any]) -> None:
        scalars = {k: v for k, v in mapping.items() if not isinstance(v, dict) and v is not None}
        if prefix:
            lines.append(f"[{prefix}]")
        for key, value in scalars.items():
            lines.append(f"{key} = {scalar(value)}")
        if prefix or scalars:
            lines.append("")
        for key, value in mapping.items():
            if isinstance(value, dict):
                table(f"{prefix}.{key}" if prefix else key, value)

    table("", data)
    return "\n".join(lines).rstrip() + "\n"
