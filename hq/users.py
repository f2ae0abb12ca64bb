"""HQ users of the console: roles, passwords (scrypt), lockout, sessions with their CSRF token, and the audit.

Roles grow in what they may do: a **viewer** sees the fleet, the alerts without personal
data, the statistics and the lists; an **analyst** also searches crossings, sees their
records and photos, acknowledges alerts and exports personal data; an **admin** also
sends commands to kiosks. Passwords are hashed with scrypt (the standard library's, from
OpenSSL), each with its own salt; only the hash is stored. A session token is shown to
the browser once and stored only as its SHA-256, so a copy of the database opens no
session. Every login, failed login, acknowledgement, export of personal data and command
goes into ``hq_audit``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from appliance.domain import clock
from appliance.errors import AuthError, LockedOut, NotFound, WorkflowError
from hq.db import HQDatabase

ROLES = ("viewer", "analyst", "admin")
RANK = {role: index for index, role in enumerate(ROLES)}
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
MIN_PASSWORD = 12
# scrypt's cost: 16 MiB and ~50 ms a login on a small server; stored with each hash so it can grow.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS hq_users (
        name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL, failed INTEGER NOT NULL DEFAULT 0,
        locked_until TEXT, disabled INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS hq_sessions (
        token_hash TEXT PRIMARY KEY, name TEXT NOT NULL, csrf TEXT NOT NULL, created_at TEXT NOT NULL,
        last_seen TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS hq_audit (
        id TEXT PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL)""",
)


@dataclass(frozen=True)
class User:
    name: str
    role: str

    def can(self, role: str) -> bool:
        """True when this user's role is ``role`` or above it."""
        return RANK[self.role] >= RANK[role]


@dataclass(frozen=True)
class Session:
    token: str
    csrf: str
    user: User


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                                  dklen=len(digest) // 2)
    except ValueError:
        return False
    return hmac.compare_digest(computed.hex(), digest)


def generate_password() -> str:
    """A random password of 20 characters (about 119 bits), for the demo and `users add --generate`."""
    return secrets.token_urlsafe(15)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def audit(db: HQDatabase, actor: str, action: str, **detail: Any) -> None:
    db.ensure(SCHEMA)
    with db.transaction():
        db.run("INSERT INTO hq_audit(id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)",
               (secrets.token_hex(8), clock.iso(clock.utcnow()), actor, action,
                json.dumps(detail, sort_keys=True, ensure_ascii=False)))


def audit_log(db: HQDatabase, limit: int = 100, action: str | None = None) -> list[dict[str, Any]]:
    db.ensure(SCHEMA)
    where, params = (" WHERE action = ?", [action]) if action else ("", [])
    rows = db.query(f"SELECT at, actor, action, detail FROM hq_audit{where} ORDER BY at DESC LIMIT ?",
                    [*params, limit])
    return [{"at": at, "actor": actor, "action": act, "detail": json.loads(detail)} for at, actor, act, detail in rows]


def add(db: HQDatabase, name: str, role: str, password: str, actor: str = "cli") -> User:
    """Create an HQ user. Raises WorkflowError for a bad name, role or short password, or a name taken."""
    db.ensure(SCHEMA)
    if not NAME_PATTERN.match(name):
        raise WorkflowError(f"user name {name!r}: 2-32 of a-z 0-9 . _ -, starting with a letter or digit")
    if role not in ROLES:
        raise WorkflowError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise WorkflowError(f"the password has {len(password)} characters; at least {MIN_PASSWORD} are needed")
    if db.query("SELECT 1 FROM hq_users WHERE name = ?", (name,)):
        raise WorkflowError(f"user {name!r} already exists")
    with db.transaction():
        db.run("INSERT INTO hq_users(name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
               (name, role, hash_password(password), clock.iso(clock.utcnow())))
    audit(db, actor, "user.add", user=name, role=role)
    return User(name, role)


def users(db: HQDatabase) -> list[dict[str, Any]]:
    db.ensure(SCHEMA)
    rows = db.query("SELECT name, role, failed, locked_until, disabled, created_at FROM hq_users ORDER BY name")
    return [{"name": n, "role": r, "failed": f, "locked_until": lu, "disabled": bool(d), "created_at": c}
            for n, r, f, lu, d, c in rows]


def unlock(db: HQDatabase, name: str, actor: str = "cli") -> None:
    """Clear a lockout. Raises NotFound for an unknown user."""
    db.ensure(SCHEMA)
    with db.transaction():
        changed = db.run("UPDATE hq_users SET failed = 0, locked_until = NULL WHERE name = ?", (name,))
    if not changed:
        raise NotFound(f"no HQ user {name!r}")
    audit(db, actor, "user.unlock", user=name)


def login(db: HQDatabase, name: str, password: str, max_failed: int, lockout_minutes: int) -> Session:
    """A new session for the right password.

    Raises LockedOut while the user is locked out (a right password does not end it early),
    AuthError for an unknown user, a disabled one or a wrong password (the same message for
    all, so names cannot be probed); the ``max_failed``-th wrong password in a row locks
    the user out for ``lockout_minutes``.
    """
    db.ensure(SCHEMA)
    now = clock.utcnow()
    rows = db.query("SELECT role, password_hash, failed, locked_until, disabled FROM hq_users WHERE name = ?",
                    (name,))
    if not rows:
        hash_password(password)  # the same work as for a real user: timing tells nothing
        audit(db, name, "login.failed", reason="unknown user")
        raise AuthError("unknown user or wrong password")
    role, stored, failed, locked_until, disabled = rows[0]
    if locked_until and clock.parse_iso(locked_until) > now:
        audit(db, name, "login.locked")
        raise LockedOut(f"user {name} is locked out until {locked_until}")
    if disabled or not check_password(password, stored):
        failed += 1
        lock = clock.iso(now + timedelta(minutes=lockout_minutes)) if failed >= max_failed else None
        with db.transaction():
            db.run("UPDATE hq_users SET failed = ?, locked_until = ? WHERE name = ?",
                   (0 if lock else failed, lock, name))
        audit(db, name, "login.failed", reason="disabled" if disabled else "wrong password", locked=bool(lock))
        if lock:
            raise LockedOut(f"user {name} is locked out until {lock}")
        raise AuthError("unknown user or wrong password")
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    stamp = clock.iso(now)
    with db.transaction():
        db.run("UPDATE hq_users SET failed = 0, locked_until = NULL WHERE name = ?", (name,))
        # Sessions nobody closed: none can be live after a day idle (web.session_idle_minutes <= 24 h).
        db.run("DELETE FROM hq_sessions WHERE last_seen < ?", (clock.iso(now - timedelta(days=1)),))
        db.run("INSERT INTO hq_sessions(token_hash, name, csrf, created_at, last_seen) VALUES (?, ?, ?, ?, ?)",
               (_token_hash(token), name, csrf, stamp, stamp))
    audit(db, name, "login")
    return Session(token, csrf, User(name, role))


def session(db: HQDatabase, token: str | None, idle_minutes: int) -> Session | None:
    """The live session of ``token`` (its idle clock restarted), or None when unknown, idle too long or disabled."""
    if not token:
        return None
    db.ensure(SCHEMA)
    now = clock.utcnow()
    rows = db.query("SELECT s.name, s.csrf, s.last_seen, u.role, u.disabled FROM hq_sessions s JOIN hq_users u"
                    " ON u.name = s.name WHERE s.token_hash = ?", (_token_hash(token),))
    if not rows:
        return None
    name, csrf, last_seen, role, disabled = rows[0]
    if disabled or clock.parse_iso(last_seen) < now - timedelta(minutes=idle_minutes):
        logout(db, token)
        return None
    with db.transaction():
        db.run("UPDATE hq_sessions SET last_seen = ? WHERE token_hash = ?", (clock.iso(now), _token_hash(token)))
    return Session(token, csrf, User(name, role))


def logout(db: HQDatabase, token: str) -> None:
    db.ensure(SCHEMA)
    with db.transaction():
        db.run("DELETE FROM hq_sessions WHERE token_hash = ?", (_token_hash(token),))
