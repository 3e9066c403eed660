"""Retries, waits and give-up: one policy for social posts and digest batches.

The dispatcher (delivery.py) and the digest (newsletter/digest.py) both ask
`RetryPolicy.decide` what a delivery error means for the next attempt:

- RateLimited: wait exactly the provider's `retry_after`; it is not a failed
  attempt (the provider asked us to wait, nothing went wrong).
- TransientDeliveryError: back off exponentially with jitter; after
  `max_attempts` failed attempts, give up.
- ChannelUnusable: pause the channel (bad credentials, no rights) instead of
  failing each message in turn.
- ChatMigrated: move to the new chat and retry at once, not a failed
  attempt; told to move where it already posts, fail (never loop).
- OutcomeUnknown: hold for an editor (a channel that can search its posts
  looks first); never resent blindly.
- PhotoRefused: the service refused the photo and posted nothing: send the
  post again at once without it, within the same attempt.
- DuplicateContent: the post it duplicates may be this delivery's own (an
  earlier answer lost): look it up on the account; fail if it is not ours.
- PermanentDeliveryError: fail, shown to editors.

The channel adapters raise these generic classes (errors.py); nothing here
knows which service raised them.

Where the caller waits differs (the dispatcher reschedules the row, a digest
batch sleeps in place), the decision does not. A digest batch that sleeps
through rate limits also bounds how many waits it takes in a row
(the `max_attempts`-th 429 in a row gives up), so a provider that keeps answering 429 cannot keep a
process asleep for ever.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Literal

from distributor.config import DeliveryConfig, Settings
from distributor.errors import (
    ChannelUnusable,
    ChatMigrated,
    DeliveryError,
    DuplicateContent,
    OutcomeUnknown,
    PermanentDeliveryError,
    PhotoRefused,
    RateLimited,
    TransientDeliveryError,
)

Action = Literal["wait", "retry", "give_up", "pause", "hold", "fail", "move", "drop_photo", "look_up"]


@dataclass(frozen=True)
class Decision:
    action: Action
    # Seconds before the next attempt (wait, retry); 0 otherwise.
    delay: float = 0.0
    # Failed attempts counted so far, this one included when it counts.
    failures: int = 0
    # Whether this error counts as a failed attempt (a rate limit does not).
    counted: bool = False
    why: str = ""


def backoff_seconds(settings: Settings | DeliveryConfig, failures: int,
                    rand: Callable[[], float] = random.random) -> float:
    """Exponential backoff with jitter: between half and all of base * 2^(n-1), capped."""
    cfg = settings.delivery if isinstance(settings, Settings) else settings
    ceiling = min(cfg.backoff_max_seconds, cfg.backoff_base_seconds * 2 ** max(0, failures - 1))
    return ceiling * (0.5 + rand() / 2)


class RetryPolicy:
    def __init__(self, settings: Settings | DeliveryConfig, rand: Callable[[], float] = random.random):
        self.cfg = settings.delivery if isinstance(settings, Settings) else settings
        self.rand = rand

    @property
    def max_attempts(self) -> int:
        return self.cfg.max_attempts

    def backoff(self, failures: int) -> float:
        return backoff_seconds(self.cfg, failures, self.rand)

    def decide(self, exc: DeliveryError, *, failures: int, waits: int | None = None) -> Decision:
        """What to do after `exc`, given the failed attempts before it
        (`failures`) and, for a caller that sleeps through rate limits, the
        rate-limit waits it already took in a row (`waits`)."""
        if isinstance(exc, RateLimited):
            if waits is not None and waits + 1 >= self.cfg.max_attempts:
                return Decision("give_up", failures=failures,
                                why=f"gave up after {waits + 1} rate limits in a row: {exc}")
            return Decision("wait", delay=float(exc.retry_after), failures=failures,
                            why=f"rate limited: retry after {exc.retry_after:g}s")
        if isinstance(exc, ChatMigrated):
            if exc.same_chat:
                return Decision("fail", failures=failures + 1, counted=True,
                                why=f"{exc} (the chat we already post to)")
            return Decision("move", failures=failures, why=f"chat migrated to {exc.new_chat_id}")
        if isinstance(exc, TransientDeliveryError):
            n = failures + 1
            if n >= self.cfg.max_attempts:
                return Decision("give_up", failures=n, counted=True, why=f"gave up after {n} attempts: {exc}")
            return Decision("retry", delay=self.backoff(n), failures=n, counted=True,
                            why=f"attempt {n} of {self.cfg.max_attempts} failed: {exc}")
        if isinstance(exc, ChannelUnusable):
            return Decision("pause", failures=failures, why=str(exc))
        if isinstance(exc, OutcomeUnknown):
            return Decision("hold", failures=failures, why=str(exc))
        if isinstance(exc, PhotoRefused):
            return Decision("drop_photo", failures=failures, why=str(exc))
        if isinstance(exc, DuplicateContent):
            return Decision("look_up", failures=failures, why=str(exc))
        if isinstance(exc, PermanentDeliveryError):
            return Decision("fail", failures=failures + 1, counted=True, why=str(exc))
        # A bare DeliveryError: nothing says it is safe to retry.
        return Decision("fail", failures=failures + 1, counted=True, why=str(exc))
