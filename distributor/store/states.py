"""What an impossible state change raises, and the digest issues' states.

The deliveries' states and their table live with the outbox
(store/outbox.py: DeliveryStatus, TRANSITIONS); a digest issue's are here
(IssueStatus, ISSUE_TRANSITIONS), used by the issues repository. Both tables
are data: from-state -> the states it may become. Staying in a state is not a
transition. A state change the table does not allow is an InvalidTransition,
a DistributorError (the CLI prints it as one line and exits 2; the desk and
the bot show it), never a silent no-op.

    issue:  (made) sending ──► sent
                     │  ▲
                     ▼  │ resume (failed) · release (held)
               failed · held
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum

from distributor.errors import DistributorError

__all__ = ["InvalidTransition", "IssueStatus", "ISSUE_TRANSITIONS", "ISSUE_INITIAL", "check_issue_transition"]


class InvalidTransition(DistributorError):
    """A state change that the transition table (or the action asking for it)
    does not allow. Names the row, its current state, the requested state and
    the states it may be requested from."""

    def __init__(self, message: str, *, what: str, row_id: int, current: str, requested: str,
                 allowed: Iterable[str]):
        super().__init__(message)
        self.what = what  # "delivery" or "issue"
        self.row_id = row_id
        self.current = current
        self.requested = requested
        self.allowed = tuple(allowed)


class IssueStatus(StrEnum):
    SENDING = "sending"  # made (its snapshot taken) and going out batch by batch, or interrupted
    SENT = "sent"  # every batch went out
    HELD = "held"  # a batch's outcome is unknown: an editor decides (digest --release)
    FAILED = "failed"  # a batch gave up under the retry policy (digest --send resumes it)


# from-state -> the states it may become.
ISSUE_TRANSITIONS: Mapping[IssueStatus, frozenset[IssueStatus]] = {
    IssueStatus.SENDING: frozenset({IssueStatus.SENT, IssueStatus.HELD, IssueStatus.FAILED}),
    IssueStatus.SENT: frozenset(),
    IssueStatus.HELD: frozenset({IssueStatus.SENDING}),  # released by an editor
    IssueStatus.FAILED: frozenset({IssueStatus.SENDING}),  # resumed (digest --send, or the schedule)
}
# The state an issue is made in.
ISSUE_INITIAL = IssueStatus.SENDING


def check_issue_transition(issue_id: int, current: str, to: str, *, only_from: Iterable[str] | None = None,
                           message: str | None = None) -> None:
    """Raise InvalidTransition unless the table lets issue `issue_id` go
    from `current` to `to` (and, with `only_from`, `current` is one of those:
    what an editor's action applies to)."""
    cur, new = IssueStatus(current), IssueStatus(to)
    starts = [s for s, targets in ISSUE_TRANSITIONS.items() if new in targets]
    if only_from is not None:
        chosen = [IssueStatus(s) for s in only_from]
        if any(s not in starts for s in chosen):
            raise ValueError(f"the issues' transition table has no {' or '.join(chosen)} -> {new}")
        starts = chosen
    if cur in starts:
        return
    raise InvalidTransition(
        message or f"issue {issue_id} is {cur}; only an issue that is {' or '.join(starts) or 'nothing'} "
                   f"can become {new}",
        what="issue", row_id=issue_id, current=cur, requested=new, allowed=starts)
