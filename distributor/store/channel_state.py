"""Each channel's state ("de.telegram"): paused (and why), its consecutive
failures, a wait that applies to every delivery of it (a flood wait, its
pacing), a migrated chat id. The outbox (store/outbox.py) is a ChannelStates:
`store.outbox.channel(name)`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from distributor.store.audit import Audit, AuditNote
from distributor.store.schema import channel_state

__all__ = ["ChannelState", "ChannelStates"]


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
    def _update_channel(conn: sa.Connection, channel: str, *, now: dt.datetime, **values: Any) -> None:
        from distributor.store.db import insert_ignore as _insert_ignore

        conn.execute(_insert_ignore(conn, channel_state).values(channel=channel, updated_at=now))
        conn.execute(channel_state.update().where(channel_state.c.channel == channel).values(updated_at=now, **values))

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


