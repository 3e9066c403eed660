"""What an edition's next digest issue carries, read the one way every path
reads it — the weekly slot, `digest --send`, the desk's Send now, a test copy,
`digest --preview` and the desk's page: the waiting articles (pending
newsletter deliveries no issue took, past their embargo, approved where the
channel requires it) minus those an editor removed from the draft, with the
draft's subject and intro (store/digest_drafts.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from distributor.config import Settings
from distributor.store import Store
from distributor.store.approval import Approvals
from distributor.store.digest_drafts import Draft, Drafts
from distributor.store.issues import Issues


def waiting(settings: Settings, store: Store, edition: str, now: dt.datetime) -> list[tuple[int, int]]:
    """(delivery id, article id) of the articles waiting for the edition's
    next issue: pending newsletter deliveries no issue took, past their
    embargo; with `approval = "required"`, only those an editor approved at
    the article's current version (the others are gated to awaiting_approval
    first, so they show as such)."""
    nl = settings.editions[edition].channels.newsletter
    required = nl is not None and nl.approval == "required"
    Approvals(store.engine).gate(f"{edition}.newsletter", required=required, now=now)
    return Issues(store.engine).waiting_deliveries(edition, now, approved_only=required)


@dataclass(frozen=True)
class NextIssue:
    edition: str
    items: list[tuple[int, int]]  # (delivery id, article id), in the issue's order
    removed: list[tuple[int, int]]  # waiting, but removed by an editor: pending for the following issue
    draft: Draft

    def subject(self, given: str | None = None) -> str | None:
        """The subject the issue gets: one given (`digest --subject`), else the draft's."""
        return given if given is not None else self.draft.subject

    def intro(self, given: str | None = None) -> str | None:
        return given if given is not None else self.draft.intro


def next_issue(settings: Settings, store: Store, edition: str, now: dt.datetime) -> NextIssue:
    draft = Drafts(store.engine).get(edition)
    found = waiting(settings, store, edition, now)
    return NextIssue(edition, [i for i in found if i[0] not in draft.removed],
                     [i for i in found if i[0] in draft.removed], draft)
