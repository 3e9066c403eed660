"""Each channel's state ("de.telegram"): paused (and why), its consecutive
failures, a wait that applies to every delivery of it (a flood wait, its
pacing), a migrated chat id. The outbox (store/outbox.py) is a ChannelStates:
`store.outbox.channel(name)`.

These are the limits every delivery process shares, in the database: a claim
takes the channel's next slot in its own transaction (`reserve`: the row
locked on PostgreSQL, the writers queued on SQLite), so four workers on one
channel keep its pacing and sit out a provider's `retry_after` as one
process does. A wait only ever grows (`extend_wait`): a send finishing on one
worker never shortens the flood wait another worker was just told.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from distributor.store.audit import Audit, AuditNote
from distributor.store.schema import UTCDateTime, channel_state

__all__ = ["ChannelState", "ChannelStates", "ChannelBusy"]


class ChannelBusy(Exception):
    """The channel may not take a post now: paused, or waiting (pacing, a flood wait)."""

    def __init__(self, channel: str, *, paused: bool, reason: str):
        super().__init__(reason)
        self.channel, self.paused = channel, paused


@dataclass(frozen=True)
class ChannelState:
    channel: str
    paused: bool = False
    paused_reason: str | None = None
    consecutive_failures: int = 0
    not_before: dt.datetime | None = None
    chat_id: str | None = None


class ChannelStates:
    engine: sa.Engine


    def channel(self, channel: str) -> ChannelState:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(channel_state).where(channel_state.c.channel == channel)).first()
        if row is None:
            return ChannelState(channel)
        return ChannelState(**{k: v for k, v in row._mapping.items() if k != "updated_at"})

    def channels(self) -> list[ChannelState]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(channel_state).order_by(channel_state.c.channel))
            return [ChannelState(**{k: v for k, v in r._mapping.items() if k != "updated_at"}) for r in rows]

    def update_channel(self, channel: str, *, now: dt.datetime, audit: AuditNote | None = None,
                       **values: Any) -> None:
        """Change a channel's state; with `audit` (an editor's resume), its
        audit row in the same transaction."""
        with self.engine.begin() as conn:
            self._update_channel(conn, channel, now=now, **values)
            if audit is not None:
                Audit.insert(conn, audit, at=now)

    @staticmethod
    def _update_channel(conn: sa.Connection, channel: str, *, now: dt.datetime, fresh: dict[str, Any] | None = None,
                        **values: Any) -> None:
        """Set `values` on the channel's row, made if missing (then with
        `fresh`, when a value is an expression on the row itself): one upsert."""
        from distributor.store.db import upsert

        ins = upsert(conn, channel_state).values(channel=channel, updated_at=now, **(values if fresh is None else fresh))
        conn.execute(ins.on_conflict_do_update(index_elements=[channel_state.c.channel],
                                               set_=dict(updated_at=now, **values)))

    @staticmethod
    def _later(until: dt.datetime) -> Any:
        """`not_before` set to `until` unless it is later already."""
        col, at = channel_state.c.not_before, sa.literal(until, UTCDateTime())
        return sa.case((sa.or_(col.is_(None), col < at), at), else_=col)

    def extend_wait(self, channel: str, *, until: dt.datetime, now: dt.datetime) -> None:
        """The channel waits until `until` (a flood wait), or longer if it already does."""
        with self.engine.begin() as conn:
            self._wait(conn, channel, until=until, now=now)

    @classmethod
    def _wait(cls, conn: sa.Connection, channel: str, *, until: dt.datetime, now: dt.datetime,
              **values: Any) -> None:
        cls._update_channel(conn, channel, now=now, fresh=dict(values, not_before=until),
                            not_before=cls._later(until), **values)

    @staticmethod
    def reserve(conn: sa.Connection, channel: str, *, now: dt.datetime, interval: float) -> None:
        """Take the channel's slot for a post now, inside the claim's
        transaction: ChannelBusy if it is paused or must wait; with an
        `interval` (its pacing), the next post waits that long. Without one
        it only reads, so unpaced channels' claims do not queue on the row."""
        from distributor.store.db import insert_ignore as _insert_ignore

        c = channel_state.c
        if interval > 0:
            conn.execute(_insert_ignore(conn, channel_state).values(channel=channel, updated_at=now))
            free = sa.and_(c.channel == channel, c.paused.is_(False), sa.or_(c.not_before.is_(None), c.not_before <= now))
            if conn.execute(channel_state.update().where(free).values(
                    not_before=now + dt.timedelta(seconds=interval), updated_at=now)).rowcount:
                return
        row = conn.execute(sa.select(c.paused, c.paused_reason, c.not_before).where(c.channel == channel)).first()
        if row is None:
            return
        if row.paused:
            raise ChannelBusy(channel, paused=True, reason=row.paused_reason or "paused")
        if row.not_before is not None and row.not_before > now:
            raise ChannelBusy(channel, paused=False, reason=f"channel waits until {row.not_before}")

    def add_failure(self, channel: str, *, now: dt.datetime) -> int:
        """One more consecutive failure on the channel; returns the new count."""
        from distributor.store.db import insert_ignore as _insert_ignore

        with self.engine.begin() as conn:
            conn.execute(_insert_ignore(conn, channel_state).values(channel=channel, updated_at=now))
            conn.execute(
                channel_state.update().where(channel_state.c.channel == channel).values(
                    consecutive_failures=channel_state.c.consecutive_failures + 1, updated_at=now
                )
            )
            return int(conn.execute(
                sa.select(channel_state.c.consecutive_failures).where(channel_state.c.channel == channel)
            ).scalar_one())


