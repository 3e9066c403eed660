"""The editors who may use the desk, and their sessions: the one place
passwords are checked and hashed.

A name is 2 to 32 characters of a-z, 0-9, ".", "_" and "-", starting with a
letter or digit; it is stored in lower case, so "Anna" and "anna" are one
editor. A password has at least MIN_PASSWORD (10) characters and at most
MAX_PASSWORD (1024), and is not the name itself. Only its argon2id hash is
stored (argon2-cffi's defaults, RFC 9106's second recommended option: 64 MiB,
3 passes); a hash made with weaker parameters is replaced at the next login.

A session is a random token the desk keeps in a signed cookie; the store
keeps only the token's SHA-256 and when it expires (web/desk/auth.py makes
and checks the cookie). Removing an editor deletes the editor's sessions in
the same transaction, and a session is only ever read joined to its editor.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

import argon2
import sqlalchemy as sa
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from distributor.errors import DistributorError
from distributor.store.db import inserted_id
from distributor.store.schema import editor_sessions, editors

NAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,31}")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024

_hasher = argon2.PasswordHasher()


class EditorError(DistributorError):
    """An editor account request that cannot be done; the message says why."""


class InvalidName(EditorError):
    pass


class BadPassword(EditorError):
    pass


class DuplicateEditor(EditorError):
    pass


class UnknownEditor(EditorError):
    pass


@dataclass(frozen=True)
class Editor:
    id: int
    name: str
    created_at: dt.datetime
    last_login_at: dt.datetime | None


@dataclass(frozen=True)
class Session:
    editor: Editor
    token_hash: str
    created_at: dt.datetime
    expires_at: dt.datetime


def normalize_name(name: str) -> str:
    """The stored form of an editor's name, or InvalidName saying what is wrong."""
    value = (name or "").strip().lower()
    if not NAME.fullmatch(value):
        shown = "".join(c if c.isprintable() else "?" for c in (name or "").strip())[:40]
        raise InvalidName(f"editor name {shown!r} is not valid: 2 to 32 characters of a-z, 0-9, '.', '_' "
                          f"and '-', starting with a letter or a digit")
    return value


def check_password(password: str, name: str) -> None:
    """BadPassword when the password may not be used."""
    if not password:
        raise BadPassword("the password is empty")
    if len(password) < MIN_PASSWORD:
        raise BadPassword(f"the password is too short: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise BadPassword(f"the password is too long: at most {MAX_PASSWORD} characters")
    if password.strip().lower() == name.lower():
        raise BadPassword("the password must not be the editor's name")


def token_hash(token: str) -> str:
    """What the store keeps of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


# Made once with argon2-cffi's defaults, so that the first unknown name costs no hashing either.
_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$wR7BOi9S1ZdBhWCNppu6gw$cj38UlM4Bw4OnvC1sIk0wkHQWJWA27/Vt9pEoiV2IF8"


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash to verify against when the name is unknown, so that an unknown
    name takes as long as a wrong password: made with the parameters real
    hashes are made with."""
    if _hasher.check_needs_rehash(_DUMMY_HASH):  # another argon2-cffi's defaults
        return _hasher.hash("distributor: no such editor")
    return _DUMMY_HASH


def _editor(row: sa.Row) -> Editor:
    return Editor(row.id, row.name, row.created_at, row.last_login_at)


class Editors:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    # ------------------------------------------------------------ accounts

    def add(self, name: str, password: str, *, now: dt.datetime) -> Editor:
        name = normalize_name(name)
        check_password(password, name)
        if self.find(name) is not None:
            raise DuplicateEditor(f"an editor named {name!r} exists already")
        hashed = _hasher.hash(password)
        try:
            with self.engine.begin() as conn:
                new_id = inserted_id(conn.execute(editors.insert().values(
                    name=name, password_hash=hashed, created_at=now)))
        except sa.exc.IntegrityError:  # added by someone else meanwhile
            raise DuplicateEditor(f"an editor named {name!r} exists already") from None
        return Editor(new_id, name, now, None)

    def find(self, name: str) -> Editor | None:
        """The editor of that name (any case), or None; a malformed name is None."""
        try:
            name = normalize_name(name)
        except InvalidName:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(editors).where(editors.c.name == name)).first()
        return _editor(row) if row else None

    def get(self, editor_id: int) -> Editor | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(editors).where(editors.c.id == editor_id)).first()
        return _editor(row) if row else None

    def all(self) -> list[Editor]:
        """Every editor, by name."""
        with self.engine.connect() as conn:
            return [_editor(r) for r in conn.execute(sa.select(editors).order_by(editors.c.name))]

    def remove(self, name: str) -> int:
        """Remove the editor and end their sessions; how many sessions ended.
        UnknownEditor when there is none of that name."""
        key = normalize_name(name)
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(editors.c.id).where(editors.c.name == key)).first()
            if row is None:
                raise UnknownEditor(f"no editor named {key!r}")
            ended = conn.execute(editor_sessions.delete().where(editor_sessions.c.editor_id == row.id)).rowcount
            conn.execute(editors.delete().where(editors.c.id == row.id))
        return int(ended or 0)

    def authenticate(self, name: str, password: str, *, now: dt.datetime) -> Editor | None:
        """The editor when the name and password match, else None. As slow for
        an unknown or malformed name as for a wrong password (one argon2
        verification either way); a match records the login time and
        upgrades an outdated hash."""
        try:
            key = normalize_name(name)
        except InvalidName:
            key = ""
        row = None
        if key:
            with self.engine.connect() as conn:
                row = conn.execute(sa.select(editors).where(editors.c.name == key)).first()
        if row is None or not password or len(password) > MAX_PASSWORD:
            _verify(_dummy_hash(), password[:MAX_PASSWORD] if password else "-")
            return None
        if not _verify(row.password_hash, password):
            return None
        values: dict[str, object] = {"last_login_at": now}
        if _hasher.check_needs_rehash(row.password_hash):
            values["password_hash"] = _hasher.hash(password)
        with self.engine.begin() as conn:
            conn.execute(editors.update().where(editors.c.id == row.id).values(**values))
        return Editor(row.id, row.name, row.created_at, now)

    # ------------------------------------------------------------ sessions

    def start_session(self, editor: Editor, token_hash: str, *, now: dt.datetime, expires_at: dt.datetime) -> None:
        """Record a new session (and forget the expired ones of everybody)."""
        with self.engine.begin() as conn:
            conn.execute(editor_sessions.delete().where(editor_sessions.c.expires_at <= now))
            conn.execute(editor_sessions.insert().values(token_hash=token_hash, editor_id=editor.id,
                                                         created_at=now, expires_at=expires_at))

    def session(self, token_hash: str, *, now: dt.datetime) -> Session | None:
        """The live session of that token hash with its editor, or None (no
        such session, expired, or its editor removed)."""
        q = (sa.select(editor_sessions.c.token_hash, editor_sessions.c.created_at, editor_sessions.c.expires_at,
                       editors.c.id, editors.c.name, editors.c.created_at.label("editor_created_at"),
                       editors.c.last_login_at)
             .join(editors, editors.c.id == editor_sessions.c.editor_id)
             .where(editor_sessions.c.token_hash == token_hash, editor_sessions.c.expires_at > now))
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None:
            return None
        editor = Editor(row.id, row.name, row.editor_created_at, row.last_login_at)
        return Session(editor, row.token_hash, row.created_at, row.expires_at)

    def end_session(self, token_hash: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(editor_sessions.delete().where(editor_sessions.c.token_hash == token_hash))

    def live_sessions(self, *, now: dt.datetime) -> dict[int, int]:
        """editor id -> how many unexpired sessions they have."""
        q = (sa.select(editor_sessions.c.editor_id, sa.func.count())
             .where(editor_sessions.c.expires_at > now).group_by(editor_sessions.c.editor_id))
        with self.engine.connect() as conn:
            return {int(r[0]): int(r[1]) for r in conn.execute(q)}


def _verify(hashed: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(hashed, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
