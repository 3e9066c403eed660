"""Engines and migrations: one function opens a database at the schema's head."""

from __future__ import annotations

import functools
import re
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from distributor.errors import ConfigurationError
from distributor.redact import scrub_parameters
from distributor.store import schema

MIGRATIONS = Path(__file__).parent / "migrations"


def create_engine(url: str, *, connect_timeout: int | None = None) -> sa.Engine:
    """An engine that never stores a configured secret (see _scrubbed); with
    `connect_timeout`, a PostgreSQL server that does not answer fails within
    that many seconds."""
    return _scrubbed(_engine(url, connect_timeout))


# The world's text, stored (and looked up) exactly as it came: an article and
# its identity, a post's payload (compared with the post a search finds), a
# digest issue, a reader's address. None is ever built from a secret; scrubbing
# them would rewrite every link of an outlet whose database password is
# "novastan" into https://[redacted].org.
CONTENT_COLUMNS = {
    schema.articles: ("source", "source_key", "identity", "content_hash", "title", "language", "url", "data"),
    schema.delivery_attempts: ("payload",),
    schema.issues: ("subject", "html", "text", "headers", "recipients"),
    schema.subscribers: ("email", "consent_source", "consent_text"),
    schema.source_polls: ("etag", "last_modified"),
    # Random values a short secret could occur in by chance: scrubbed, they would no longer verify.
    schema.editors: ("password_hash",),
    schema.editor_sessions: ("token_hash",),
}
# A value bound to one of them: `url` in VALUES or SET, `url_1` in a WHERE.
_CONTENT_BIND = re.compile(
    "^(?:%s)(?:_\\d+)?$" % "|".join(sorted({c for cols in CONTENT_COLUMNS.values() for c in cols})))


def _scrubbed(engine: sa.Engine) -> sa.Engine:
    """Every string the store writes (an error, a reason, a pause note)
    passes one scrub here, below every call site: a provider's message
    quoting a token is stored with the token redacted. The values bound to
    CONTENT_COLUMNS are left as they are."""

    @sa.event.listens_for(engine, "before_cursor_execute", retval=True)
    def _no_secrets(conn, cursor, statement, parameters, context, executemany):  # pragma: no cover - trivial
        return statement, scrub_parameters(parameters, keep=_content_values(context))

    return engine


def inserted_id(result: sa.CursorResult[Any]) -> int:
    """The primary key of the row an INSERT made."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the INSERT returned no primary key")
    return int(key[0])


def _content_values(context: Any) -> frozenset[str]:
    """The strings a compiled statement binds to content columns (by bind
    name, before the dialect made them positional). Made once per execution:
    an executemany that runs as one statement per row (SQLite's INSERT …
    RETURNING of a chunk of articles) fires the hook per row, and reading
    every row's parameters each time made storing a chunk quadratic."""
    cached = getattr(context, "_distributor_content_values", None)
    if cached is not None:
        return cached
    compiled = getattr(context, "compiled_parameters", None) or ()
    values = frozenset(v for params in compiled for k, v in params.items()
                       if isinstance(v, str) and _is_content_bind(k))
    try:
        context._distributor_content_values = values
    except AttributeError:  # no context, or one that takes no attributes: made again next time
        pass
    return values


@functools.lru_cache(maxsize=4096)
def _is_content_bind(name: str) -> bool:
    return _CONTENT_BIND.match(name) is not None


def _engine(url: str, connect_timeout: int | None = None) -> sa.Engine:
    """An engine with the pragmas SQLite needs for a multi-process outbox."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            # Let SQLAlchemy's "begin" event below emit BEGIN itself.
            dbapi_conn.isolation_level = None

        # pysqlite's own transaction handling defers BEGIN; make it explicit
        # and IMMEDIATE so two writers queue instead of failing mid-way.
        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # pragma: no cover - trivial
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    try:
        args = {"connect_timeout": connect_timeout} if connect_timeout and url.startswith("postgresql") else {}
        engine = sa.create_engine(url, connect_args=args)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise ConfigurationError(f"database url is not usable: {_redact(url)}: {exc}") from None
    _ping_when_idle(engine)
    return engine


# A pooled connection idle for longer than this is pinged before it is used.
IDLE_PING_SECONDS = 10.0


def _ping_when_idle(engine: sa.Engine) -> None:
    """pool_pre_ping, but only for a connection that sat idle for a while
    (the server restarted, a proxy dropped it): a delivery checks a
    connection out several times in a few milliseconds, and a ping each
    time was one round trip in four. A dead connection is replaced (the
    pool retries the checkout with a new one)."""

    @sa.event.listens_for(engine, "checkin")
    def _idle_since(dbapi_conn, record):  # pragma: no cover - trivial
        record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _ping(dbapi_conn, record, proxy):  # pragma: no cover - exercised by a restart
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            cur = dbapi_conn.cursor()
            cur.execute("SELECT 1")
            cur.close()
            dbapi_conn.rollback()
        except Exception as exc:  # noqa: BLE001 - any failure: a new connection
            raise sa.exc.DisconnectionError(f"idle connection is gone: {type(exc).__name__}") from None


def _alembic_config(connection: sa.Connection) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to head (idempotent; safe for concurrent starters)."""
    with engine.connect() as conn:
        if current_revision(conn) == head_revision():
            return
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # One migrator at a time across processes.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7262001)")
        command.upgrade(_alembic_config(conn), "head")


def current_revision(conn: sa.Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def _redact(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL we cannot even parse has nothing to hide reliably
        return "<unparseable url>"


def insert_ignore(conn: sa.Connection, table: sa.Table) -> Any:
    """INSERT … ON CONFLICT DO NOTHING on both backends: the unique keys are
    the idempotency keys, so a concurrent planner's row simply wins."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table).on_conflict_do_nothing()


def upsert(conn: sa.Connection, table: sa.Table) -> Any:
    """The dialect's INSERT, for an INSERT … ON CONFLICT DO UPDATE in one round trip."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def reading(engine: sa.Engine) -> Any:
    """A connection for a read that needs no transaction: on PostgreSQL in
    autocommit, so neither BEGIN nor the ROLLBACK of its return to the pool
    costs a round trip (one statement sees one snapshot anyway)."""
    conn = engine.connect()
    if engine.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
    return conn
