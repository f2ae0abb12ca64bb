"""Provisioning from the technician's set: check every file, install them at once or not at all, enrol, report."""

from __future__ import annotations

import copy
import json
import logging
import os
import pwd
import secrets
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from appliance.config import Config, loader
from appliance.config.common import secret_paths
from appliance.config.kiosk import KioskSection
from appliance.domain import clock
from appliance.errors import ConfigError, KioskError, ProvisionError
from appliance.storage import audit
from appliance.storage.officers import Officers, check_officer, check_pin_hash, hash_pin, validate_pin
from appliance.storage.store import Store
from appliance.uplink import protocol
from appliance.uplink.client import signing_key_path

log = logging.getLogger(__name__)

SET_CONFIG = "kiosk.toml"
SET_PINHASH = "supervisor.pinhash"
# Left on the boot partition: what was applied when, and (on a refusal) why, for the technician's laptop.
PROVISIONED_NOTE = "PROVISIONED.txt"
FAILED_NOTE = "PROVISION-FAILED.txt"
# A kiosk.toml without secrets is kept, renamed, for the technician to read back; the
# rename also stops first boot from running again on a set whose private files are gone.
APPLIED_CONFIG = "kiosk.toml.applied"
STATUS_FILE = "provision.json"
# Certificates are installed beside the config (on the data partition: /etc/kiosk links there).
TLS_DIR = "tls"
# The biometric key a kiosk makes for itself: its own file beside the config, never in it.
KEYS_DIR, BIOMETRIC_KEY_FILE = "keys", "biometric.key"
KIOSK_USER = "kiosk"
ACTOR = "provision"

# The [uplink] keys that name files of the set, and whether the file is a private key.
SET_FILES: dict[str, bool] = {"ca_file": False, "cert_file": False, "key_file": True}

CONFIG_MODE, PRIVATE_MODE, DIR_MODE = 0o640, 0o600, 0o750

State = Literal["applied", "unchanged", "refused"]


@dataclass(frozen=True)
class SetFile:
    """A certificate or key file of the set, read and checked (or the biometric key the kiosk made), and where it goes."""

    key: str  # its config key, e.g. "uplink.ca_file"
    name: str  # its name in the set ("" for a file the kiosk made)
    target: Path
    data: bytes
    private: bool


@dataclass(frozen=True)
class ProvisioningSet:
    """A checked set: the config to install (certificate paths already pointing at their targets), its files, the supervisor."""

    folder: Path
    raw: dict[str, Any]
    config: Config
    files: tuple[SetFile, ...]
    supervisor: tuple[str, str] | None  # (officer id, PIN hash)
    toml_has_secrets: bool


@dataclass
class Outcome:
    """What a run did (``applied``) or found already done (``unchanged``), step by step."""

    state: State
    config_path: Path
    steps: list[str]
    public_key: str
    post_id: str
    kiosk_id: str
    warnings: list[str] = field(default_factory=list)


# -- The supervisor's PIN hash file, made on the technician's laptop --------------------------

def pinhash_text(officer_id: str, pin: str, rules: Any) -> str:
    """The ``supervisor.pinhash`` file for ``officer_id`` with ``pin`` (checked against ``rules``, a SecuritySection).

    A small TOML file: ``officer_id`` and ``pin_hash`` (scrypt, as the kiosk stores it), so the
    PIN itself never travels on the card. Raises KioskError for a bad id and InvalidPin.
    """
    check_officer(officer_id, "supervisor")
    validate_pin(pin, rules)
    return ("# The first supervisor of a kiosk, for `kiosk provision`; made by `kiosk officers pinhash`.\n"
            f'officer_id = "{officer_id}"\npin_hash = "{hash_pin(pin)}"\n')


def read_pinhash(path: Path) -> tuple[str, str]:
    """(officer id, PIN hash) of a ``supervisor.pinhash`` file.

    Raises ProvisionError naming the file for a file that is not TOML, has other keys than
    ``officer_id`` and ``pin_hash``, a bad id or a malformed hash.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ProvisionError(f"cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProvisionError(f"{path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"officer_id", "pin_hash"})
    if unknown:
        raise ProvisionError(f"{path}: unknown key(s) {', '.join(unknown)}; expected officer_id and pin_hash")
    officer_id, pin_hash = data.get("officer_id"), data.get("pin_hash")
    if not isinstance(officer_id, str) or not isinstance(pin_hash, str):
        raise ProvisionError(f"{path}: officer_id and pin_hash must both be given, as strings")
    try:
        check_officer(officer_id, "supervisor")
        check_pin_hash(pin_hash)
    except KioskError as exc:
        raise ProvisionError(f"{path}: {exc}") from None
    return officer_id, pin_hash


# -- Reading and checking the set -------------------------------------------------------------

def _set_file_name(folder: Path, key: str, value: Any) -> tuple[str | None, str | None]:
    """(name, None) for a value naming a file in the set, else (None, the problem)."""
    if not isinstance(value, str) or not value:
        return None, f"{SET_CONFIG}: uplink.{key} must be the name of a file in {folder}"
    pure = PurePosixPath(value)
    if pure.is_absolute() or len(pure.parts) != 1 or value in (".", ".."):
        return None, (f"{SET_CONFIG}: uplink.{key} = {value!r} must be a file name in the set's folder "
                      f"(like \"ca.pem\"), not a path")
    return value, None


def _check_pem(key: str, path: Path, private: bool) -> str | None:
    """The problem with a certificate or key file, or None when it parses."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return f"uplink.{key} names {path.name}, which is not in {path.parent}"
    except OSError as exc:
        return f"cannot read {path}: {exc}"
    try:
        if private:
            serialization.load_pem_private_key(data, password=None)
        else:
            x509.load_pem_x509_certificates(data)
    except (ValueError, TypeError) as exc:
        what = "an unencrypted PEM private key" if private else "a PEM certificate"
        return f"uplink.{key}: {path.name} is not {what} ({exc})"
    return None


def read_set(folder: Path, config_path: Path, installed: Config | None = None) -> ProvisioningSet:
    """Read and check every file of the set in ``folder``, for a kiosk whose config lives at ``config_path``.

    Nothing is written. ``installed`` is the kiosk's current config, whose biometric key is
    kept when the set gives none (so captures already taken stay readable). Raises
    ProvisionError listing every problem found (missing kiosk.toml, TOML or config errors,
    missing or non-PEM certificates, a malformed PIN hash).
    """
    source = folder / SET_CONFIG
    if not folder.is_dir():
        raise _refused(folder, [f"the folder {folder} does not exist"])
    if not source.is_file():
        done = " (it was applied already: see PROVISIONED.txt)" if (folder / PROVISIONED_NOTE).exists() else ""
        raise _refused(folder, [f"{folder} holds no {SET_CONFIG}{done}: copy the post's kiosk.toml there"])
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise _refused(folder, [f"cannot read {source}: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise _refused(folder, [f"{source} is not valid TOML: {exc}"]) from None

    problems: list[str] = []
    toml_has_secrets = _has_secrets(raw)
    raw = copy.deepcopy(raw)
    files: list[SetFile] = []
    uplink = raw.get("uplink")
    tls_dir = config_path.parent / TLS_DIR
    if isinstance(uplink, dict):
        for key, private in SET_FILES.items():
            if key not in uplink:
                continue
            name, problem = _set_file_name(folder, key, uplink[key])
            if problem or name is None:
                problems.append(problem or key)
                continue
            problem = _check_pem(key, folder / name, private)
            if problem:
                problems.append(problem)
                continue
            files.append(SetFile(f"uplink.{key}", name, tls_dir / name, (folder / name).read_bytes(), private))
            uplink[key] = str(tls_dir / name)
    generated = _keep_biometric_key(raw, installed, config_path.parent / KEYS_DIR / BIOMETRIC_KEY_FILE)
    if generated is not None:
        files.append(generated)

    config = None
    try:
        # No environment: a secret of this shell must not be written into the kiosk's config.
        config = loader.from_mapping(copy.deepcopy(raw), source=source, environ={})
    except ConfigError as exc:
        problems.extend(str(exc).splitlines())
    if config is not None and not config.kiosk.data_dir.is_absolute():
        problems.append(f"config file {source}: key 'kiosk.data_dir' must be an absolute path")

    supervisor = None
    if (folder / SET_PINHASH).exists():
        try:
            supervisor = read_pinhash(folder / SET_PINHASH)
        except ProvisionError as exc:
            problems.append(str(exc))
    if problems or config is None:
        raise _refused(folder, problems)
    return ProvisioningSet(folder, raw, config, tuple(files), supervisor, toml_has_secrets)


def _refused(folder: Path, problems: list[str]) -> ProvisionError:
    return ProvisionError(f"the provisioning set in {folder} is refused, nothing was changed:\n  "
                          + "\n  ".join(problems))


def _has_secrets(raw: dict[str, Any]) -> bool:
    for path in secret_paths(Config):
        table: Any = raw
        for key in path:
            table = table.get(key) if isinstance(table, dict) else None
        if table is not None:
            return True
    return False


def _keep_biometric_key(raw: dict[str, Any], installed: Config | None, key_path: Path) -> SetFile | None:
    """Give the config a biometric key: the set's, else the installed one, else a new one in ``key_path``.

    Without one the kiosk refuses every photo and fingerprint. A new key goes in its own
    file (mode 0600, named by ``security.biometric_key_file``), not in the config (0640):
    returned as a file to install. A key file already at ``key_path`` is kept, so captures
    made with it still decrypt. The key never goes on the card.
    """
    security = raw.get("security")
    if security is not None and not isinstance(security, dict):
        return None  # validation names the key
    security = raw.setdefault("security", {})
    if "biometric_key" in security or "biometric_key_file" in security:
        return None
    if installed is not None and installed.security.biometric_key_file is not None:
        security["biometric_key_file"] = str(installed.security.biometric_key_file)
        return None
    if installed is not None and installed.security.biometric_key is not None:
        security["biometric_key"] = installed.security.biometric_key.get_secret_value()
        return None
    security["biometric_key_file"] = str(key_path)
    if key_path.exists():
        return None
    return SetFile("security.biometric_key_file", "", key_path, (secrets.token_hex(32) + "\n").encode(), True)


# -- What a set would change ------------------------------------------------------------------

def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _config_changes(new: dict[str, Any], old: dict[str, Any]) -> list[str]:
    secret = {".".join(path) for path in secret_paths(Config)}
    new_flat, old_flat = _flatten(new), _flatten(old)
    changes = []
    for key in sorted(set(new_flat) | set(old_flat)):
        if new_flat.get(key) == old_flat.get(key):
            continue
        if key in secret:
            changes.append(f"config {key} (a secret) would change")
        elif key not in new_flat:
            changes.append(f"config {key} = {old_flat[key]!r} would be removed")
        elif key not in old_flat:
            changes.append(f"config {key} = {new_flat[key]!r} would be added")
        else:
            changes.append(f"config {key} would change from {old_flat[key]!r} to {new_flat[key]!r}")
    return changes


def planned_changes(pset: ProvisioningSet, config_path: Path) -> list[str]:
    """What applying the set would overwrite or add on this kiosk; empty when it is applied already.

    The kiosk's signing key is not counted: it is made on the kiosk whenever it is missing.
    Raises ProvisionError when the set's supervisor id belongs to an officer of another role.
    """
    changes: list[str] = []
    if config_path.exists():
        try:
            installed_raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            installed_raw = {}
            changes.append(f"the unreadable config {config_path} would be replaced ({exc})")
        changes.extend(_config_changes(pset.raw, installed_raw))
    else:
        changes.append(f"install the config at {config_path}")
    for item in pset.files:
        if not item.target.exists():
            changes.append(f"install {item.key} at {item.target}")
        elif item.target.read_bytes() != item.data:
            changes.append(f"{item.target} ({item.key}) would be replaced")
    if pset.supervisor is not None:
        officer_id, pin_hash = pset.supervisor
        if not pset.config.db_path.exists():
            changes.append(f"enrol supervisor {officer_id}")
        else:
            with Store(pset.config.db_path) as store:
                changes.extend(_supervisor_changes(Officers(store, pset.config.security), officer_id, pin_hash))
    return changes


def _supervisor_changes(officers: Officers, officer_id: str, pin_hash: str) -> list[str]:
    existing = {officer.id: officer for officer in officers.list()}.get(officer_id)
    if existing is None:
        return [f"enrol supervisor {officer_id}"]
    if existing.role != "supervisor":
        raise ProvisionError(f"{SET_PINHASH} names {officer_id}, who is enrolled on this kiosk as {existing.role}: "
                             "give the first supervisor an id of their own")
    if officers.pin_hash(officer_id) != pin_hash:
        return [f"the PIN of supervisor {officer_id} would be replaced"]
    return []


# -- Installing it ----------------------------------------------------------------------------

class _Undo:
    """What puts back the changes of an apply that did not finish, run newest first."""

    def __init__(self) -> None:
        self._steps: list[tuple[str, Callable[[], None]]] = []

    def add(self, what: str, step: Callable[[], None]) -> None:
        self._steps.append((what, step))

    def run(self) -> None:
        for what, step in reversed(self._steps):
            try:
                step()
            except OSError as exc:  # keep undoing the rest; the journal names what is left
                log.error("provisioning could not undo %s: %s", what, exc)


Owner = tuple[int, int] | None


def kiosk_owner(user: str = KIOSK_USER) -> Owner:
    """(uid, gid) of the kiosk's user when running as root, else None (files stay the current user's).

    Raises ProvisionError when running as root and the user does not exist.
    """
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise ProvisionError(f"the kiosk's user {user!r} does not exist on this system") from None
    return entry.pw_uid, entry.pw_gid


def _chown(path: Path, owner: Owner) -> None:
    if owner is not None:
        os.chown(path, *owner, follow_symlinks=False)


def _make_dirs(path: Path, owner: Owner, undo: _Undo) -> None:
    # Through symlinks: on the image /etc/kiosk links to the data partition, and the link
    # exists before the folder it names.
    path = path.resolve()
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        directory.mkdir(mode=DIR_MODE)
        _chown(directory, owner)
        undo.add(f"the folder {directory}", directory.rmdir)


def _stage(target: Path, data: bytes, mode: int, owner: Owner, undo: _Undo) -> Path:
    """``data`` written and synced beside ``target`` under a temporary name, with its final mode and owner."""
    staged = target.with_name(f".{target.name}.provision-new")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    undo.add(f"the staged {staged}", lambda: staged.unlink(missing_ok=True))
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fchmod(out.fileno(), mode)  # the umask must not loosen or tighten it
        os.fsync(out.fileno())
    _chown(staged, owner)
    return staged


def _put_in_place(staged: Path, target: Path, undo: _Undo, backups: list[Path]) -> None:
    """Rename ``staged`` over ``target``; the old file stays hard-linked aside until the whole apply succeeds."""
    if target.exists():
        backup = target.with_name(f".{target.name}.provision-old")
        backup.unlink(missing_ok=True)
        os.link(target, backup)
        backups.append(backup)
        undo.add(f"the replaced {target}", lambda: os.replace(backup, target))
    else:
        undo.add(f"the new {target}", lambda: target.unlink(missing_ok=True))
    os.replace(staged, target)


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _config_text(pset: ProvisioningSet) -> bytes:
    header = (f"# Installed by `kiosk provision` from {pset.folder} at {clock.iso(clock.utcnow())}.\n"
              "# Certificate paths point where the files were installed; edit with care, or provision again.\n")
    return (header + loader.to_toml(pset.raw)).encode("utf-8")


def public_key(config: Config) -> str | None:
    """The kiosk's signing public key (base64, as `kiosk-hq enrol` takes it); None while there is no key.

    Raises UplinkError naming the file if it exists but is not an Ed25519 key.
    """
    path = signing_key_path(config)
    if not path.exists():
        return None
    return protocol.public_key_text(protocol.load_private_key(path).public_key())


def _apply(pset: ProvisioningSet, config_path: Path, changes: list[str], owner: Owner) -> list[str]:
    """Install the set; on any failure put everything back and raise ProvisionError. Returns the steps done."""
    config = pset.config
    key_path = signing_key_path(config)
    undo, backups, steps = _Undo(), list[Path](), list[str]()
    try:
        _make_dirs(config_path.parent, owner, undo)
        _make_dirs(config.kiosk.data_dir, owner, undo)
        staged = [(_stage(config_path, _config_text(pset), CONFIG_MODE, owner, undo), config_path, "the config")]
        for item in pset.files:
            _make_dirs(item.target.parent, owner, undo)
            mode = PRIVATE_MODE if item.private else CONFIG_MODE
            staged.append((_stage(item.target, item.data, mode, owner, undo), item.target, item.key))
        new_key = None
        if not key_path.exists():
            # The same call as `kiosk uplink keygen`: one place makes a kiosk key.
            _make_dirs(key_path.parent, owner, undo)
            new_key = protocol.generate_key_file(key_path)
            undo.add(f"the new signing key {key_path}", lambda: key_path.unlink(missing_ok=True))
            _chown(key_path, owner)
        for staged_path, target, what in staged:
            _put_in_place(staged_path, target, undo, backups)
            steps.append(f"installed {what} at {target}")
        for directory in {target.parent for _staged, target, _what in staged}:
            _sync_dir(directory)
        if new_key is not None:
            steps.append(f"created the kiosk's signing key {key_path}")
        if not config.db_path.exists():
            undo.add(f"the new database {config.db_path}", lambda: _remove_database(config.db_path))
        steps.extend(_record(pset, changes, new_key, owner))
    except (OSError, KioskError) as exc:
        undo.run()
        raise ProvisionError(f"provisioning from {pset.folder} failed and was undone, nothing was changed: {exc}") from None
    except BaseException:
        undo.run()
        raise
    for backup in backups:
        backup.unlink(missing_ok=True)
    return steps


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _record(pset: ProvisioningSet, changes: list[str], new_key: str | None, owner: Owner) -> list[str]:
    """Enrol the set's supervisor and write the audit trail of the apply; returns the steps done."""
    config, steps = pset.config, []
    with Store(config.db_path) as store:
        officers = Officers(store, config.security)
        if pset.supervisor is not None:
            officer_id, pin_hash = pset.supervisor
            known = {officer.id for officer in officers.list()}
            if officer_id not in known:
                officers.add_hashed(officer_id, "supervisor", pin_hash, actor=ACTOR)
                steps.append(f"enrolled supervisor {officer_id}")
            elif officers.pin_hash(officer_id) != pin_hash:
                officers.set_pin_hash(officer_id, pin_hash, actor=ACTOR)
                steps.append(f"replaced the PIN of supervisor {officer_id}")
        with store.transaction():
            audit.append(store, ACTOR, "provision.config", f"{config.kiosk.post_id}/{config.kiosk.kiosk_id}",
                         {"source": str(pset.folder), "changes": changes})
            for item in pset.files:
                audit.append(store, ACTOR, "provision.file", item.key, {"path": str(item.target)})
            if new_key is not None:
                audit.append(store, ACTOR, "provision.signing_key", config.kiosk.kiosk_id, {"public_key": new_key})
    for suffix in ("", "-wal", "-shm"):
        path = config.db_path.with_name(config.db_path.name + suffix)
        if path.exists():
            _chown(path, owner)
    return steps


# -- The boot partition and the status file ---------------------------------------------------

def _clear_set(pset: ProvisioningSet, note: str) -> tuple[list[str], list[str]]:
    """Remove the set's secrets from its folder and leave the note; returns (steps, warnings).

    Best effort: the kiosk is provisioned by now, so a boot partition that cannot be written
    is a warning (the technician must then wipe it by hand), not a failure.
    """
    steps, warnings = [], []
    # A file the kiosk made itself (the biometric key) has no name in the set.
    secret_names = [SET_PINHASH] + [item.name for item in pset.files if item.private and item.name]
    if pset.toml_has_secrets:
        secret_names.append(SET_CONFIG)
    try:
        for name in secret_names:
            path = pset.folder / name
            if path.exists():
                path.unlink()
                steps.append(f"removed {name} from {pset.folder}")
        if not pset.toml_has_secrets and (pset.folder / SET_CONFIG).exists():
            os.replace(pset.folder / SET_CONFIG, pset.folder / APPLIED_CONFIG)
            steps.append(f"renamed {SET_CONFIG} to {APPLIED_CONFIG} in {pset.folder}")
        (pset.folder / FAILED_NOTE).unlink(missing_ok=True)
        (pset.folder / PROVISIONED_NOTE).write_text(note, encoding="utf-8")
    except OSError as exc:
        warnings.append(f"could not clear {pset.folder}: {exc}; remove {', '.join(secret_names)} from it by hand")
    return steps, warnings


def status_path(config: Config) -> Path:
    """Where the last provisioning run's outcome is kept for the touchscreen: <data_dir>/provision.json."""
    return config.kiosk.data_dir / STATUS_FILE


def default_status_path(folder: Path, config_path: Path) -> Path:
    """The status file of a run: the installed kiosk's, else the one the set's data_dir implies, else the default."""
    installed = _installed_config(config_path)
    if installed is not None:
        return status_path(installed)
    try:
        raw = tomllib.loads((folder / SET_CONFIG).read_text(encoding="utf-8"))
        data_dir = Path(raw["kiosk"]["data_dir"])
        if data_dir.is_absolute():
            return data_dir / STATUS_FILE
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError):
        pass
    return Path(KioskSection.model_fields["data_dir"].default) / STATUS_FILE


def status_file_for(config_path: Path) -> Path:
    """The status file a kiosk whose config cannot be loaded reads: its raw data_dir's, else the default's."""
    try:
        data_dir = Path(tomllib.loads(config_path.read_text(encoding="utf-8"))["kiosk"]["data_dir"])
        if data_dir.is_absolute():
            return data_dir / STATUS_FILE
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError):
        pass
    return Path(KioskSection.model_fields["data_dir"].default) / STATUS_FILE


def read_status_file(path: Path) -> dict[str, Any] | None:
    """The provisioning outcome kept in ``path``, None when there is none or it is unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("provisioning status %s unreadable: %s", path, exc)
        return None
    return data if isinstance(data, dict) else None


def read_status(config: Config) -> dict[str, Any] | None:
    """The last provisioning run's outcome (state, at, message, ...), None when there was none or it is unreadable."""
    return read_status_file(status_path(config))


def _write_status(path: Path, report: dict[str, Any], owner: Owner) -> str | None:
    """Write the status file atomically; returns a warning instead of raising (the run's outcome stands)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_name(f".{path.name}.new")
        staged.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.chmod(staged, CONFIG_MODE)
        _chown(staged, owner)
        os.replace(staged, path)
    except OSError as exc:
        return f"could not write the status file {path}: {exc}"
    return None


def _installed_config(config_path: Path) -> Config | None:
    if not config_path.exists():
        return None
    try:
        return loader.load(config_path, environ={})
    except ConfigError:
        return None


# -- The whole run ----------------------------------------------------------------------------

def provision(folder: Path, config_path: Path, *, force: bool = False, status_file: Path | None = None,
              user: str = KIOSK_USER) -> Outcome:
    """Check the set in ``folder`` and install it for the kiosk whose config is ``config_path``.

    All or nothing: every file is checked first, then written under temporary names and
    renamed into place; any failure puts back what was there. A set that is installed
    already changes nothing (``state`` "unchanged"); a different set on a kiosk that has a
    config is refused unless ``force``, naming what it would overwrite. The kiosk's
    signing key is made when missing, the set's supervisor enrolled, every step audited,
    the secrets removed from ``folder``. Each run writes its outcome to the status file
    (``status_file``, default ``default_status_path``), a refusal also a note in ``folder``.
    Files belong to ``user`` when running as root. Raises ProvisionError saying why.
    """
    report_path = status_file or default_status_path(folder, config_path)
    owner: Owner = None
    try:
        owner = kiosk_owner(user)
        installed = _installed_config(config_path)
        pset = read_set(folder, config_path, installed)
        changes = planned_changes(pset, config_path)
        if changes and config_path.exists() and not force:
            raise ProvisionError(
                f"this kiosk is provisioned already ({config_path}) and the set in {folder} differs; "
                "nothing was changed. Run `kiosk provision --force` to overwrite:\n  " + "\n  ".join(changes))
        key_missing = not signing_key_path(pset.config).exists()
        steps = _apply(pset, config_path, changes, owner) if changes or key_missing else []
    except ProvisionError as exc:
        _report_refusal(folder, report_path, str(exc), owner)
        raise
    except KioskError as exc:  # the kiosk's own database or key could not be read to compare with
        refusal = _refused(folder, [str(exc)])
        _report_refusal(folder, report_path, str(refusal), owner)
        raise refusal from None
    state: State = "applied" if steps else "unchanged"
    if not steps:
        steps = ["this set is installed already: nothing changed"]
    key = public_key(pset.config) or ""
    config = pset.config
    note = (f"Provisioned at {clock.iso(clock.utcnow())} as post {config.kiosk.post_id}, kiosk {config.kiosk.kiosk_id}.\n"
            f"Enrol it at HQ with: kiosk-hq enrol {config.kiosk.post_id} {config.kiosk.kiosk_id} {key}\n"
            "The secrets of the set (PIN hash, private keys, a kiosk.toml holding secrets) were removed from here.\n")
    cleared, warnings = _clear_set(pset, note)
    outcome = Outcome(state, config_path, steps + cleared, key, config.kiosk.post_id, config.kiosk.kiosk_id, warnings)
    warning = _write_status(status_path(config) if status_file is None else status_file, {
        "state": state, "at": clock.iso(clock.utcnow()), "folder": str(folder), "config": str(config_path),
        "post_id": config.kiosk.post_id, "kiosk_id": config.kiosk.kiosk_id, "public_key": key,
        "message": "; ".join(steps), "steps": outcome.steps, "warnings": warnings,
    }, owner)
    if warning:
        warnings.append(warning)
    return outcome


def _report_refusal(folder: Path, report_path: Path, message: str, owner: Owner) -> None:
    """Leave the refusal where the technician looks: the status file (the touchscreen) and the set's folder."""
    warning = _write_status(report_path, {"state": "refused", "at": clock.iso(clock.utcnow()),
                                          "folder": str(folder), "message": message}, owner)
    if warning:
        log.warning("%s", warning)
    try:
        if folder.is_dir():
            (folder / FAILED_NOTE).write_text(
                f"Provisioning refused at {clock.iso(clock.utcnow())}:\n{message}\n", encoding="utf-8")
    except OSError as exc:
        log.warning("could not leave %s in %s: %s", FAILED_NOTE, folder, exc)

