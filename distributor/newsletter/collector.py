"""The garbage collector kept quiet while a digest issue is sent (newsletter/digest.py)."""

from __future__ import annotations

import gc

__all__ = ["QuietCollector", "quiet_collector"]


class QuietCollector:
    """The garbage collector while issues are sent (counted: two editions' sends
    may overlap in one process). Every batch makes thousands of containers (a
    personalization per reader) that refcounting frees, yet each collection
    walked them, and each full one the whole heap: at 100k readers an eighth of
    the time. While any send runs, the process's long-lived objects (modules,
    SQLAlchemy, templates) are frozen out of the collector's walks, and a
    collection waits for 20,000 net new objects, not 700: garbage in cycles,
    which only the collector frees, stays bounded by that. Nothing is collected
    first: that would cost a full collection at once."""

    GEN0 = 20_000

    def __init__(self) -> None:
        self.sends = 0
        self.thresholds = gc.get_threshold()

    def start(self) -> None:
        self.sends += 1
        if self.sends == 1:
            self.thresholds = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(max(self.GEN0, self.thresholds[0]), *self.thresholds[1:])

    def stop(self) -> None:
        self.sends -= 1
        if self.sends == 0:
            gc.set_threshold(*self.thresholds)
            gc.unfreeze()


quiet_collector = QuietCollector()
