"""The signup rate limits, counted in the database: every process that
answers POST /subscribe (`distributor serve`, `run` with [web] enabled, as many
as sit behind one address) sees the same counts, which per-process counters
in memory multiplied by the number of processes (and never forgot a key).

A key is hashed with the web secret before it is stored (HMAC-SHA256): the
table holds neither IP addresses nor email addresses, and an IPv4 address
cannot be recovered by trying all of them. Hits older than the window are
deleted as new ones are recorded, so the table holds one hour of signups.
"""

from __future__ import annotations

import hashlib
import hmac
import math

import sqlalchemy as sa

from distributor.store.schema import signup_hits


class SignupLimits:
    def __init__(self, engine: sa.Engine, secret: bytes, *, window: float = 3600.0):
        self.engine = engine
        self.secret = secret
        self.window = window

    def key(self, *parts: str) -> str:
        return hmac.new(self.secret, "\x1f".join(("signup-limit", *parts)).encode(), hashlib.sha256).hexdigest()

    def hit(self, limit: int, *parts: str, now: float) -> int | None:
        """Record a signup under the key made of `parts` and return None, or
        refuse it (recording nothing) and return the whole seconds until the
        oldest hit in the window expires. A limit of 0 is no limit."""
        if limit <= 0:
            return None
        key = self.key(*parts)
        edge = now - self.window
        with self.engine.begin() as conn:
            # Two processes counting the same key at once queue: on SQLite the
            # transaction is BEGIN IMMEDIATE; on PostgreSQL a lock on the key.
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
            conn.execute(signup_hits.delete().where(signup_hits.c.at <= edge))
            recent = conn.execute(sa.select(signup_hits.c.at).where(signup_hits.c.key == key,
                                                                    signup_hits.c.at > edge)
                                  .order_by(signup_hits.c.at).limit(limit)).scalars().all()
            if len(recent) >= limit:
                return max(1, math.ceil(recent[0] + self.window - now))
            conn.execute(signup_hits.insert().values(key=key, at=now))
        return None
