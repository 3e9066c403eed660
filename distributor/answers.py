"""A sent delivery's answer, written with the next claim.

The bracket around every post (store/outbox.py) is two committed writes: the
claim before the request, the answer after it. A worker sending one delivery
after another on unpaced channels thus commits twice per post: the answer of
one, then the claim of the next. `Answers` joins the two: drain keeps the
answer of the delivery it just sent here, and the next claim writes it in its
own statement (`Outbox.claim(answer=…)`: on PostgreSQL, one round trip and one
commit instead of two). The rule stays what it was: each answer is in the
database before the next request goes out, for nothing else happens between
the two. Drain sends one delivery after another and makes no request, and
waits for nothing, between an answer and the next claim; it writes a kept
answer before it sleeps and before it returns, raises or stops. A delivery
sent outside drain (an editor's `send`), or on a paced channel (its answer
sets when the channel may post next), has its answer written at once.

Should the joined write fail, the answer is written on its own and the claim
made again, as without joining; should the answer fail to be written on its
own too, the delivery is held for an editor with its post's id in the
reason, as a failure to record an answer always was.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from distributor.evidence import held_reason, surprise
from distributor.store.outbox import ChannelBusy, DeliveryStatus, Outbox, SentAnswer

__all__ = ["Answers"]

log = logging.getLogger("distributor.delivery")


class Reported(Protocol):
    """The outcome drain reported for the delivery (delivery.Outcome)."""
    status: str
    detail: str


@dataclass
class _Kept:
    answer: SentAnswer
    outcome: Reported


class Answers:
    def __init__(self, outbox: Outbox, *, worker: Callable[[], str], clock: Callable[[], dt.datetime]):
        self.outbox, self._worker, self._clock = outbox, worker, clock
        self.joining = False  # drain sets it while it sends one delivery after another
        self._kept: _Kept | None = None

    def sent(self, answer: SentAnswer, outcome: Reported) -> None:
        """Record a success: kept for the next claim while drain is joining
        and the channel is unpaced, else written now."""
        self.write()  # an earlier one first, should a path have left one (none does)
        self._kept = _Kept(answer, outcome)
        if not (self.joining and answer.joins()):
            self.write()

    def claim(self, delivery_id: int, **claim: Any) -> int | None:
        """`Outbox.claim` with the kept answer, if any (see the module's docstring)."""
        kept, self._kept = self._kept, None
        if kept is None:
            return self.outbox.claim(delivery_id, worker=self._worker(), **claim)
        try:
            return self.outbox.claim(delivery_id, worker=self._worker(), answer=kept.answer, **claim)
        except ChannelBusy:
            raise  # the answer was written: only the claim was refused
        except Exception as exc:  # noqa: BLE001 - the answer must not be lost with the claim
            log.warning("delivery %s: writing its answer with the claim of delivery %s failed (%s); "
                        "writing them one by one", kept.answer.delivery_id, delivery_id, surprise(exc))
            self._kept = kept
            self.write()
            return self.outbox.claim(delivery_id, worker=self._worker(), **claim)

    def write(self) -> None:
        """Write the kept answer, if any; should that fail, hold its delivery."""
        kept, self._kept = self._kept, None
        if kept is None:
            return
        answer = kept.answer
        try:
            self.outbox.finish_sent(**answer.fields())
        except Exception as exc:  # noqa: BLE001 - one answer must not stop the others
            why = f"unexpected {surprise(exc)} writing its answer (posted as {answer.remote_id})"
            kept.outcome.status, kept.outcome.detail = "held", why
            try:
                self.outbox.resolve_unknown(answer.delivery_id, claimed_by=self._worker(),
                                            status=DeliveryStatus.HELD, reason=held_reason(answer.delivery_id, why),
                                            remote_id=None, now=self._clock())
            except Exception as again:  # noqa: BLE001 - left in `sending`: recovery settles it
                log.error("delivery %s: %s; holding it failed too (%s): it stays in sending",
                          answer.delivery_id, why, surprise(again))
