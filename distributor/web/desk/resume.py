"""The Resume button of /desk/health: the form read, the editor action
actions.deliveries.resume called with the actor "desk:<editor name>", and
the audit entry it wrote (its result, or its refusal: an unknown channel)
named, for the page to show after the redirect (`?done=<audit id>`).

A channel's name that could not be one ("<edition>.<kind>", at most 64
characters of a-z, 0-9, "_" and "-") is a BadForm: 400, nothing done and
nothing recorded. Whether the channel exists is the action's own decision.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Callable

from distributor.actions import deliveries
from distributor.actions.common import REFUSALS
from distributor.app import app_over
from distributor.config import Settings
from distributor.store import Store
from distributor.store.audit import Audit, AuditEntry
from distributor.web.desk.act import BadForm, done_entry

CHANNEL = re.compile(r"[a-z0-9_-]{1,16}\.[a-z0-9_-]{1,32}")


def read(fields: dict[str, str]) -> str:
    """The channel the Resume button names."""
    channel = fields.get("channel", "")
    if len(channel) > 64 or not CHANNEL.fullmatch(channel):
        raise BadForm(f"{channel[:20]!r} is not a channel's name (like de.telegram)")
    return channel


async def perform(settings: Settings, store: Store, clock: Callable[[], dt.datetime], channel: str,
                  actor: str) -> int | None:
    """Resume the channel; the id of the audit entry that records what happened."""
    before = _newest(store, channel, actor)
    async with app_over(settings, store, clock=clock) as app:
        try:
            await asyncio.to_thread(deliveries.resume, app, channel, actor=actor)
        except REFUSALS:
            pass  # recorded in the audit by the action; the page shows it
    after = _newest(store, channel, actor)
    return after if after is not None and after != before else None


def _newest(store: Store, channel: str, actor: str) -> int | None:
    found = Audit(store.engine).history(channel=channel, actor=actor, limit=1)
    return found[0].id if found else None


def entry_of(store: Store, raw: str | None) -> AuditEntry | None:
    """The audit entry `?done=<id>` names, when it is a resume."""
    entry = done_entry(store, raw)
    return entry if entry is not None and entry.action == "resume" else None
