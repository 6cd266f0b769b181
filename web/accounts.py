"""Accounts and sessions of the web UI, in one SQLite file under the data directory.

Passwords are kept only as argon2id hashes. A session is a random token in an ``HttpOnly``
cookie; only its SHA-256 is stored, so a copy of the database opens no session. Each session
carries its own CSRF token, which every form must send back.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from web.password_policy import password_problem
from web.shared_database import open_shared_database

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sessions (
    token_sha256 TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users(username),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
"""


class Role(StrEnum):
    """What an account may do; each role includes the ones before it."""

    INVESTIGATOR = "investigator"  # search, read, watch, download evidence
    ANALYST = "analyst"  # also ask for URLs to be captured now (the "Archive a URL" page)
    CUSTODIAN = "custodian"  # also export packages and audit fixity
    ADMIN = "admin"  # also manage accounts

    def allows(self, needed: Role) -> bool:
        order = list(Role)
        return order.index(self) >= order.index(needed)


class AccountError(ValueError):
    """A username, role or password that cannot be used; the message says why."""


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    created_at: str
    disabled: bool = False


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str
    expires_at: datetime
    # The SHA-256 of the cookie's token: names the session (replay grants, access records)
    # without being able to open it.
    id: str


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_username(username: str) -> str:
    if not USERNAME.fullmatch(username):
        raise AccountError(
            f"invalid username {username!r}: 2–64 characters of a-z, 0-9, '.', '_' or '-',"
            " starting with a letter or digit"
        )
    return username


def check_password(password: str, username: str = "") -> str:
    """``password`` when the policy allows it for ``username`` (``web.password_policy``)."""
    problem = password_problem(password, username)
    if problem is not None:
        raise AccountError(problem)
    return password


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise AccountError(
            f"unknown role {value!r}: use one of {', '.join(r.value for r in Role)}"
        ) from None


class Accounts:
    """Users and their sessions; safe to share between the server's threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._hasher = PasswordHasher()  # argon2id with the library's current parameters
        # A valid hash to verify against when the user does not exist, so that a wrong
        # username takes as long as a wrong password.
        self._decoy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        self._lock = threading.Lock()
        self._db = open_shared_database(path, SCHEMA)
        path.chmod(0o600)

    @contextmanager
    def _cursor(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cursor = self._db.cursor()
            try:
                yield cursor
            finally:
                cursor.close()

    def add(self, username: str, role: Role, password: str) -> User:
        check_username(username)
        check_password(password, username)
        created = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            with self._cursor() as cur:
                cur.execute(
                    "INSERT INTO users (username, role, password_hash, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    (username, role.value, self._hasher.hash(password), created),
                )
        except sqlite3.IntegrityError:
            raise AccountError(f"the account {username!r} exists already") from None
        return User(username, role, created)

    def set_password(self, username: str, password: str) -> None:
        """A new password; every open session of the account ends."""
        check_password(password, username)
        with self._cursor() as cur:
            cur.execute(
                "UPDATE users SET password_hash = ? WHERE username = ?",
                (self._hasher.hash(password), username),
            )
            if cur.rowcount == 0:
                raise AccountError(f"no account {username!r}")
            cur.execute("DELETE FROM sessions WHERE username = ?", (username,))

    def set_role(self, username: str, role: Role) -> None:
        with self._cursor() as cur:
            cur.execute("UPDATE users SET role = ? WHERE username = ?", (role.value, username))
            if cur.rowcount == 0:
                raise AccountError(f"no account {username!r}")

    def set_disabled(self, username: str, disabled: bool) -> None:
        """Disable (or enable) an account; disabling ends its sessions. Accounts are never
        deleted: custody events name them."""
        with self._cursor() as cur:
            cur.execute(
                "UPDATE users SET disabled = ? WHERE username = ?", (int(disabled), username)
            )
            if cur.rowcount == 0:
                raise AccountError(f"no account {username!r}")
            if disabled:
                cur.execute("DELETE FROM sessions WHERE username = ?", (username,))

    def users(self) -> list[User]:
        with self._cursor() as cur:
            rows = cur.execute(
                "SELECT username, role, created_at, disabled FROM users ORDER BY username"
            ).fetchall()
        return [User(name, Role(role), created, bool(off)) for name, role, created, off in rows]

    def get(self, username: str) -> User | None:
        with self._cursor() as cur:
            row = cur.execute(
                "SELECT username, role, created_at, disabled FROM users WHERE username = ?",
                (username,),
            ).fetchone()
        return User(row[0], Role(row[1]), row[2], bool(row[3])) if row is not None else None

    def authenticate(self, username: str, password: str) -> User | None:
        """The user, when the password is right and the account enabled; else None."""
        with self._cursor() as cur:
            row = cur.execute(
                "SELECT role, password_hash, created_at, disabled FROM users WHERE username = ?",
                (username,),
            ).fetchone()
        stored = row[1] if row is not None else self._decoy_hash
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or row[3]:
            return None
        if self._hasher.check_needs_rehash(stored):
            with self._cursor() as cur:
                cur.execute(
                    "UPDATE users SET password_hash = ? WHERE username = ?",
                    (self._hasher.hash(password), username),
                )
        return User(username, Role(row[0]), row[2])

    def open_session(self, user: User, hours: float) -> tuple[str, Session]:
        """A new session: the cookie's token (shown once) and the session."""
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        session = Session(
            user, secrets.token_urlsafe(32), now + timedelta(hours=hours), _token_digest(token)
        )
        with self._cursor() as cur:
            cur.execute("DELETE FROM sessions WHERE expires_at < ?", (now.isoformat(),))
            cur.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                (
                    session.id,
                    user.username,
                    session.csrf_token,
                    now.isoformat(),
                    session.expires_at.isoformat(),
                ),
            )
        return token, session

    def session(self, token: str) -> Session | None:
        """The live session of a cookie token, or None (unknown, expired, account disabled)."""
        return self.session_by_id(_token_digest(token))

    def session_by_id(self, session_id: str) -> Session | None:
        """The live session named by ``Session.id``, or None (ended by logout, a password
        change, disabling, or expiry)."""
        with self._cursor() as cur:
            row = cur.execute(
                "SELECT u.username, u.role, u.created_at, s.csrf_token, s.expires_at"
                " FROM sessions s JOIN users u ON u.username = s.username"
                " WHERE s.token_sha256 = ? AND u.disabled = 0",
                (session_id,),
            ).fetchone()
        if row is None:
            return None
        expires = datetime.fromisoformat(row[4])
        if expires <= datetime.now(UTC):
            self._end_session(session_id)
            return None
        return Session(User(row[0], Role(row[1]), row[2]), row[3], expires, session_id)

    def close_session(self, token: str) -> None:
        self._end_session(_token_digest(token))

    def _end_session(self, session_id: str) -> None:
        with self._cursor() as cur:
            cur.execute("DELETE FROM sessions WHERE token_sha256 = ?", (session_id,))

    def close(self) -> None:
        self._db.close()
