"""Routing: the channels an article names meet the channels configured for its
language. Pure: an Article and the Settings in, a Routing out.

Named and configured: planned. Named but not configured (Facebook, LinkedIn,
Instagram today, or X for an edition without an account): skipped, with the
reason, so nothing is silently lost. Front matter `channels:` overrides the
footer. A planned channel in `approval = "required"` mode says so
(`needs_approval`): its delivery is planned awaiting an editor's approval.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from distributor.config import Settings
from distributor.model import Article


@dataclass(frozen=True)
class Planned:
    channel: str  # "<edition>.<kind>"
    kind: str
    needs_approval: bool = False  # the channel's approval = "required"


@dataclass(frozen=True)
class Skipped:
    channel: str
    kind: str
    reason: str


@dataclass(frozen=True)
class Routing:
    planned: tuple[Planned, ...]
    skipped: tuple[Skipped, ...]
    # Embargo: nothing goes out before this instant.
    not_before: dt.datetime | None = None

    def to_json(self) -> dict:
        return {
            "planned": [p.channel for p in self.planned],
            "skipped": [{"channel": s.channel, "reason": s.reason} for s in self.skipped],
            "not_before": self.not_before.isoformat() if self.not_before else None,
        }


def route(article: Article, settings: Settings, *, now: dt.datetime | None = None) -> Routing:
    edition = settings.editions.get(article.language)
    configured = edition.channels.configured() if edition else {}
    planned: list[Planned] = []
    skipped: list[Skipped] = []
    for kind in article.named_kinds:
        channel = f"{article.language}.{kind}"
        if kind in configured:
            planned.append(Planned(channel, kind, configured[kind].approval == "required"))
        elif edition is None:
            skipped.append(Skipped(channel, kind, f"no {kind} channel configured for {article.language} "
                                                  f"(no {article.language} edition)"))
        else:
            skipped.append(Skipped(channel, kind, f"no {kind} channel configured for {article.language}"))
    not_before = article.publish_at
    if not_before is None and article.published is not None and now is not None and article.published > now:
        not_before = article.published  # a feed date in the future is an embargo
    return Routing(tuple(planned), tuple(skipped), not_before)
