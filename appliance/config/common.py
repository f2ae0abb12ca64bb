"""What the kiosk's and HQ's config share: the strict model, TOML reading, error wording, secrets, broker URLs."""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from appliance.errors import ConfigError

MASK = "********"
BROKER_SCHEMES = ("mqtt://", "mqtts://", "ws://", "wss://")

# Device settings share these: serial character framing, and the BCM pin numbers of a Pi header.
SerialFraming = Literal["8N1", "8E1", "8O1", "8N2", "7E1", "7O1"]
BCM_PIN_MAX = 53


class StrictModel(BaseModel):
    """Base of every config model: an unknown key is an error, and so is assigning a bad value later."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def check_broker_url(value: str, key: str) -> str:
    """The URL unchanged if its scheme is one the MQTT client speaks.

    Raises ValueError naming ``key`` (the config key, e.g. ``broker_url`` or ``url``) and the value.
    """
    if not value.startswith(BROKER_SCHEMES):
        raise ValueError(f"{key} {value!r} must start with mqtt://, mqtts://, ws:// or wss://")
    return value


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names this machine only (``localhost``, 127.0.0.0/8, ``::1``): traffic never leaves it."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_plaintext_broker(url: str, allow_plaintext: bool, key: str, flag: str) -> None:
    """Refuse a broker URL without TLS (mqtt://, ws://) to a host other than loopback, unless ``flag`` allows it.

    A plain connection carries the MQTT password and the crossings' metadata in clear over
    whatever link the post has, so it must be asked for by name, never fall out of a typo.
    Raises ValueError naming ``key``, the URL's host and ``flag``.
    """
    if not url or allow_plaintext:
        return
    parts = urlsplit(url)
    if parts.scheme in ("mqtts", "wss") or not parts.hostname or is_loopback_host(parts.hostname):
        return
    raise ValueError(
        f"{key} {url!r} is plain {parts.scheme}:// to {parts.hostname}, which is not this machine: use "
        f"mqtts:// (or wss://), or set {flag} = true to send in clear on purpose"
    )


def read_toml(source: Path, missing_hint: str = "") -> dict[str, Any]:
    """The parsed file; ``missing_hint`` follows the message when the file does not exist.

    Raises ConfigError naming the file when it is missing, unreadable or not TOML.
    """
    try:
        return tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {source} does not exist{missing_hint}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {source}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {source} is not valid TOML: {exc}") from None


def describe_validation_error(exc: ValidationError, source: Path | None) -> str:
    """One line per problem, each naming the file and the dotted key."""
    where = f"config file {source}" if source else "config"
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        if error["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown key {key!r}")
        elif error["type"] == "missing":
            lines.append(f"{where}: required key {key!r} is missing")
        else:
            lines.append(f"{where}: key {key!r}: {error['msg']}")
    return "\n".join(lines)


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or any(_is_secret(arg) for arg in get_args(annotation))


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]


def secret_paths(model: type[BaseModel]) -> list[tuple[str, ...]]:
    """The key path of every ``SecretStr`` field, however deeply nested, found from the model.

    A new secret field thus needs no code here: it gets its environment variable and its mask.
    """
    paths: list[tuple[str, ...]] = []
    for name, field in model.model_fields.items():
        if _is_secret(field.annotation):
            paths.append((name,))
        for nested in _models_in(field.annotation):
            paths.extend((name, *path) for path in secret_paths(nested))
    return paths


def secret_env_name(prefix: str, path: tuple[str, ...]) -> str:
    """``KIOSK_`` + ``("hardware", "fingerprint_r30x", "password")`` -> ``KIOSK_HARDWARE_FINGERPRINT_R30X_PASSWORD``."""
    return prefix + "_".join(path).upper()


def apply_secret_env(raw: dict[str, Any], model: type[BaseModel], prefix: str, environ: Mapping[str, str]) -> None:
    """Set each secret given in the environment into the parsed file; the environment wins."""
    for path in secret_paths(model):
        value = environ.get(secret_env_name(prefix, path))
        if value is None:
            continue
        table: Any = raw
        for key in path[:-1]:
            table = table.setdefault(key, {})
            if not isinstance(table, dict):
                break  # the file has a non-table here: validation names that key
        else:
            table[path[-1]] = value


ConfigModel = TypeVar("ConfigModel", bound=BaseModel)


def validate(model: type[ConfigModel], raw: dict[str, Any], source: Path | None, prefix: str,
             environ: Mapping[str, str]) -> ConfigModel:
    """``raw`` with its secrets from ``environ`` set in, validated as ``model`` and stamped with ``source``.

    Raises ConfigError naming the source and, for an invalid or unknown key, the key.
    """
    apply_secret_env(raw, model, prefix, environ)
    try:
        config = model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, source)) from None
    config.source = source  # type: ignore[attr-defined]  # both config roots declare it, excluded from dumps
    return config


def mask_secrets(data: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """``data`` (a dump of ``model``) with every set secret replaced by MASK, in place and returned."""
    for path in secret_paths(model):
        table: Any = data
        for key in path[:-1]:
            table = table.get(key) if isinstance(table, dict) else None
        if isinstance(table, dict) and table.get(path[-1]) is not None:
            table[path[-1]] = MASK
    return data
