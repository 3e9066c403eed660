"""The daemon's persisted jobs, read without a scheduler, and its fixed
intervals: what `distributor status` and the desk's health page say about
the daemon's next runs. Here, apart from schedule.py (which runs the jobs
and, with `distributor run`, serves the web app), so that what reads them
does not import the daemon."""

from __future__ import annotations

import datetime as dt

from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

from distributor.config import Settings
from distributor.store import Store

__all__ = ["DELIVER_SECONDS", "HOUSEKEEPING_MINUTES", "JOB_TABLE", "next_runs"]

DELIVER_SECONDS = 2.0
HOUSEKEEPING_MINUTES = 10
JOB_TABLE = "apscheduler_jobs"


def next_runs(settings: Settings, store: Store) -> dict[str, dt.datetime | None]:
    """Next run time of each stored job (for `distributor status`)."""
    jobstore = SQLAlchemyJobStore(engine=store.engine, tablename=JOB_TABLE)
    try:
        jobstore.start(None, "default")
    except Exception:  # noqa: BLE001 - no job table yet: the daemon never ran
        return {}
    try:
        return {job.id: job.next_run_time for job in jobstore.get_all_jobs()}
    except JobLookupError:
        return {}
    finally:
        jobstore.shutdown()
