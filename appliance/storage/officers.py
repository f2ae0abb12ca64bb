"""Officers: enrolment with a slow salted PIN hash, login with lockout, idle-timeout sessions.

PINs are short, so the hash alone cannot protect them against someone holding the
database file; what protects them at the kiosk is the lockout after a few wrong tries.
The hash is still slow (scrypt) so that a stolen SD card does not give every PIN away in
seconds, and each login costs the same whether or not the officer exists, so the
response time does not reveal which ids are enrolled.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from appliance.config import SecuritySection
from appliance.domain import clock
from appliance.errors import AuthError, Forbidden, KioskError, LockedOut, NotFound, WrongPin
from appliance.storage import audit
from appliance.storage.store import Store

Role = Literal["officer", "supervisor", "technician"]
ROLES: tuple[Role, ...] = ("officer", "supervisor", "technician")
OFFICER_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

# scrypt cost: about 50 ms on this class of x86 core, a few hundred on a Pi 4 — slow for
# an attacker guessing offline, still instant for an officer at the screen.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


class InvalidPin(KioskError, ValueError):
    """A PIN does not meet the PIN rules (digits only, long enough)."""


class InvalidPinHash(KioskError, ValueError):
    """A stored-form PIN hash is not one ``hash_pin`` writes (``scrypt$N$r$p$salt$digest``)."""


@dataclass(frozen=True)
class Officer:
    id: str
    role: Role
    active: bool
    failed_logins: int
    locked_until: str | None
    created_at: str

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "role": self.role,
            "active": self.active,
            "failed_logins": self.failed_logins,
            "locked_until": self.locked_until,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class Session:
    token: str
    officer: Officer


def hash_pin(pin: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    return "scrypt${}${}${}${}${}".format(
        _SCRYPT_N, _SCRYPT_R, _SCRYPT_P, base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    )


def check_pin(pin: str, stored: str) -> bool:
    scheme, n, r, p, salt, digest = stored.split("$")
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(
        pin.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(base64.b64decode(digest))
    )
    return hmac.compare_digest(candidate, base64.b64decode(digest))


def check_pin_hash(pin_hash: str) -> str:
    """``pin_hash`` unchanged if it has the shape ``hash_pin`` writes, at least this kiosk's scrypt cost.

    A hash made elsewhere (``kiosk officers pinhash`` on a technician's laptop) is checked
    before it is stored, so a truncated or hand-edited one is refused instead of locking
    its officer out for good. Raises InvalidPinHash saying what is wrong (never the hash).
    """
    parts = pin_hash.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise InvalidPinHash("a PIN hash must be 'scrypt$N$r$p$salt$digest' (as `kiosk officers pinhash` writes)")
    n, r, p = parts[1:4]
    if not (n.isdigit() and r.isdigit() and p.isdigit()):
        raise InvalidPinHash("a PIN hash's scrypt N, r and p must be whole numbers")
    if int(n) < _SCRYPT_N or int(n) & (int(n) - 1) or int(r) < 1 or int(p) < 1 or int(n) * int(r) > 2**22:
        raise InvalidPinHash(f"a PIN hash's scrypt cost must be a power of two N >= {_SCRYPT_N}, r >= 1, p >= 1 "
                             f"(and N*r small enough for the kiosk's memory), not N={n} r={r} p={p}")
    try:
        salt, digest = base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidPinHash("a PIN hash's salt and digest must be base64") from None
    if len(salt) < 16 or len(digest) < 32:
        raise InvalidPinHash(f"a PIN hash needs a salt of 16 bytes or more and a digest of 32 or more "
                             f"(got {len(salt)} and {len(digest)})")
    return pin_hash


# Used for unknown ids so that a failed login costs the same scrypt time either way.
_DUMMY_HASH = hash_pin("000000")


def validate_pin(pin: str, rules: SecuritySection) -> None:
    """Raises InvalidPin if the PIN is not all digits or shorter than the configured minimum."""
    if not pin.isascii() or not pin.isdigit():
        raise InvalidPin("a PIN must contain digits only (the touchscreen has a numeric keypad)")
    if len(pin) < rules.pin_min_length:
        raise InvalidPin(f"a PIN must have at least {rules.pin_min_length} digits (got {len(pin)})")
    if len(pin) > 32:
        raise InvalidPin("a PIN must have at most 32 digits")
    if len(set(pin)) == 1 or pin in "01234567890123456789" or pin in "98765432109876543210":
        raise InvalidPin("a PIN must not be a repeated or consecutive run of digits")


def check_officer(officer_id: str, role: str) -> None:
    """Raises KioskError for an officer id or role the kiosk does not accept."""
    if not OFFICER_ID_PATTERN.match(officer_id):
        raise KioskError(
            f"officer id {officer_id!r} is not valid: use 1-64 letters, digits, '.', '_' or '-'"
        )
    if role not in ROLES:
        raise KioskError(f"role {role!r} is not one of {', '.join(ROLES)}")


def _row_to_officer(row: dict) -> Officer:
    return Officer(
        id=row["id"],
        role=row["role"],
        active=bool(row["active"]),
        failed_logins=row["failed_logins"],
        locked_until=row["locked_until"],
        created_at=row["created_at"],
    )


class Officers:
    """Officer accounts and sessions in one store, under one set of security rules."""

    def __init__(self, store: Store, rules: SecuritySection) -> None:
        self.store = store
        self.rules = rules

    def add(self, officer_id: str, role: str, pin: str, actor: str = "cli") -> Officer:
        """Enrol an officer. Raises KioskError for a bad id or role, InvalidPin, or a taken id."""
        check_officer(officer_id, role)
        validate_pin(pin, self.rules)
        return self._insert(officer_id, role, hash_pin(pin), actor)

    def add_hashed(self, officer_id: str, role: str, pin_hash: str, actor: str = "cli") -> Officer:
        """Enrol an officer whose PIN was hashed elsewhere (``kiosk officers pinhash``), in the form ``hash_pin`` writes.

        The PIN itself never reaches the kiosk, so the PIN rules were applied where it was typed.
        Raises KioskError for a bad id or role, InvalidPinHash, or a taken id.
        """
        check_officer(officer_id, role)
        return self._insert(officer_id, role, check_pin_hash(pin_hash), actor)

    def add_first_supervisor(self, officer_id: str, pin: str, actor: str = "setup") -> Officer:
        """Enrol the kiosk's first supervisor; refused once any supervisor was ever enrolled.

        The check and the insert are one transaction, so two screens racing cannot both win.
        Raises KioskError for a bad id, a taken id or an existing supervisor, and InvalidPin.
        """
        check_officer(officer_id, "supervisor")
        validate_pin(pin, self.rules)
        return self._insert(officer_id, "supervisor", hash_pin(pin), actor, only_first_supervisor=True)

    def has_supervisor(self) -> bool:
        """Whether a supervisor was ever enrolled (a disabled one counts: setup must not come back)."""
        with self.store.lock:
            return bool(self.store.db["officers"].count_where("role = ?", ["supervisor"]))

    def set_pin_hash(self, officer_id: str, pin_hash: str, actor: str = "cli") -> Officer:
        """Replace an officer's PIN with one hashed elsewhere; clears a lockout and ends their sessions.

        Raises NotFound and InvalidPinHash.
        """
        self.get(officer_id)
        check_pin_hash(pin_hash)
        with self.store.transaction():
            self.store.conn.execute(
                "UPDATE officers SET pin_hash = ?, failed_logins = 0, locked_until = NULL WHERE id = ?",
                (pin_hash, officer_id),
            )
            self.store.conn.execute("DELETE FROM sessions WHERE officer_id = ?", (officer_id,))
            audit.append(self.store, actor, "officer.pin_reset", officer_id)
        return self.get(officer_id)

    def pin_hash(self, officer_id: str) -> str:
        """The stored PIN hash (for provisioning to tell a set it applied already); raises NotFound."""
        self.get(officer_id)
        with self.store.lock:
            return str(self.store.conn.execute("SELECT pin_hash FROM officers WHERE id = ?", (officer_id,)).fetchone()[0])

    def _insert(self, officer_id: str, role: str, pin_hash: str, actor: str,
                only_first_supervisor: bool = False) -> Officer:
        with self.store.transaction() as db:
            if only_first_supervisor and db["officers"].count_where("role = ?", ["supervisor"]):
                raise KioskError("this kiosk already has a supervisor: the first-supervisor setup is closed")
            if db["officers"].count_where("id = ?", [officer_id]):
                raise KioskError(f"officer {officer_id!r} already exists")
            db.table("officers").insert(
                {
                    "id": officer_id,
                    "role": role,
                    "pin_hash": pin_hash,
                    "active": 1,
                    "failed_logins": 0,
                    "locked_until": None,
                    "created_at": clock.iso(clock.utcnow()),
                }
            )
            audit.append(self.store, actor, "officer.add", officer_id, {"role": role})
        return self.get(officer_id)

    def get(self, officer_id: str) -> Officer:
        """Raises NotFound if there is no such officer."""
        with self.store.lock:
            rows = list(self.store.db.query("SELECT * FROM officers WHERE id = ?", [officer_id]))
        if not rows:
            raise NotFound(f"no officer {officer_id!r}")
        return _row_to_officer(rows[0])

    def list(self) -> list[Officer]:
        with self.store.lock:
            return [_row_to_officer(row) for row in self.store.db.query("SELECT * FROM officers ORDER BY id")]

    def unlock(self, officer_id: str, actor: str = "cli") -> Officer:
        """Clear a lockout. Raises NotFound."""
        self.get(officer_id)
        with self.store.transaction():
            self.store.conn.execute(
                "UPDATE officers SET failed_logins = 0, locked_until = NULL WHERE id = ?", (officer_id,)
            )
            audit.append(self.store, actor, "officer.unlock", officer_id)
        return self.get(officer_id)

    def set_active(self, officer_id: str, active: bool, actor: str = "cli") -> Officer:
        """Enable or disable an account; disabling also ends its sessions. Raises NotFound."""
        self.get(officer_id)
        with self.store.transaction():
            self.store.conn.execute("UPDATE officers SET active = ? WHERE id = ?", (int(active), officer_id))
            if not active:
                self.store.conn.execute("DELETE FROM sessions WHERE officer_id = ?", (officer_id,))
            audit.append(self.store, actor, "officer.enable" if active else "officer.disable", officer_id)
        return self.get(officer_id)

    def login(self, officer_id: str, pin: str, now: datetime | None = None) -> Session:
        """Check the PIN and open a session.

        Raises LockedOut while a lockout lasts (even for the right PIN), AuthError for an
        unknown/disabled id or a wrong PIN; the wrong PIN that reaches the limit starts
        the lockout and raises LockedOut.
        """
        now = now or clock.utcnow()
        with self.store.lock:
            rows = list(self.store.db.query("SELECT * FROM officers WHERE id = ?", [officer_id]))
            if not rows or not rows[0]["active"]:
                check_pin(pin, _DUMMY_HASH)
                audit.record(self.store, officer_id, "login.refused", officer_id, {"reason": "unknown or disabled"})
                raise AuthError("unknown officer id or wrong PIN")
            row = rows[0]
            if row["locked_until"] and clock.parse_iso(row["locked_until"]) > now:
                raise LockedOut(f"officer {officer_id} is locked out until {row['locked_until']} after too many wrong PINs")
            if not check_pin(pin, row["pin_hash"]):
                return self._wrong_pin(row, now)
            token = secrets.token_urlsafe(32)
            with self.store.transaction():
                self.store.conn.execute(
                    "UPDATE officers SET failed_logins = 0, locked_until = NULL WHERE id = ?", (officer_id,)
                )
                self.store.conn.execute(
                    "INSERT INTO sessions(token_hash, officer_id, created_at, last_seen_at) VALUES (?,?,?,?)",
                    (_token_hash(token), officer_id, clock.iso(now), clock.iso(now)),
                )
                audit.append(self.store, officer_id, "login", officer_id)
        return Session(token=token, officer=self.get(officer_id))

    def _wrong_pin(self, row: dict, now: datetime) -> Session:
        failures = row["failed_logins"] + 1
        locked_until = None
        if failures >= self.rules.max_failed_logins:
            locked_until = clock.iso(now + timedelta(minutes=self.rules.lockout_minutes))
            failures = 0
        with self.store.transaction():
            self.store.conn.execute(
                "UPDATE officers SET failed_logins = ?, locked_until = ? WHERE id = ?",
                (failures, locked_until, row["id"]),
            )
            audit.append(
                self.store, row["id"], "login.lockout" if locked_until else "login.refused", row["id"],
                {"reason": "wrong PIN"},
            )
        if locked_until:
            raise LockedOut(
                f"officer {row['id']} is locked out until {locked_until} after "
                f"{self.rules.max_failed_logins} wrong PINs"
            )
        left = self.rules.max_failed_logins - failures
        raise WrongPin(f"unknown officer id or wrong PIN ({left} tries left before lockout)", tries_left=left)

    def session(self, token: str, now: datetime | None = None, refresh: bool = True) -> Session:
        """The live session for a token, refreshing its idle timer unless ``refresh`` is False.

        ``refresh=False`` is for requests the screen makes on its own (a live camera view
        polling several times a second): they must not keep an unattended session alive.
        Raises AuthError if the token is unknown or the session has been idle too long.
        """
        now = now or clock.utcnow()
        token_hash = _token_hash(token)
        with self.store.lock:
            row = self.store.conn.execute(
                "SELECT officer_id, last_seen_at FROM sessions WHERE token_hash = ?", (token_hash,)
            ).fetchone()
            if row is None:
                raise AuthError("not logged in (no such session)")
            officer_id, last_seen = row
            if now - clock.parse_iso(last_seen) > timedelta(minutes=self.rules.session_idle_minutes):
                with self.store.transaction():
                    self.store.conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))
                    audit.append(self.store, officer_id, "session.expired", officer_id)
                raise AuthError("session expired after inactivity: log in again")
            if refresh:
                # Not a durable event: a lost refresh only shortens the session, so skip fsync cost.
                self.store.conn.execute(
                    "UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?", (clock.iso(now), token_hash)
                )
        officer = self.get(officer_id)
        if not officer.active:
            raise AuthError(f"officer {officer_id} is disabled")
        return Session(token=token, officer=officer)

    def logout(self, token: str) -> None:
        with self.store.transaction():
            row = self.store.conn.execute(
                "SELECT officer_id FROM sessions WHERE token_hash = ?", (_token_hash(token),)
            ).fetchone()
            self.store.conn.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))
            if row:
                audit.append(self.store, row[0], "logout", row[0])


def require_role(officer: Officer, *roles: Role) -> None:
    """Raises Forbidden unless the officer has one of the roles."""
    if officer.role not in roles:
        raise Forbidden(f"officer {officer.id} has role {officer.role}; this needs {' or '.join(roles)}")


def _token_hash(token: str) -> str:
    # Only a hash of the bearer token is stored, so a copy of the database opens no session.
    return hashlib.sha256(token.encode()).hexdigest()
