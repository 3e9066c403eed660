"""The migrations build exactly the schema the code queries: Alembic's
autogenerate comparison of `store/schema.py` with a freshly migrated database
finds no difference, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from distributor.store import Store
from distributor.store.schema import metadata


# Tables that are not ours: APScheduler creates and owns its job table.
FOREIGN_TABLES = {"apscheduler_jobs", "alembic_version"}


def _ours(obj, name, type_, reflected, compare_to) -> bool:
    return not (type_ == "table" and name in FOREIGN_TABLES)


def drift(engine) -> list:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={
            "compare_type": True, "compare_server_default": True, "include_object": _ours})
        return compare_metadata(ctx, metadata)


def test_no_drift_on_sqlite(settings):
    with Store.open(settings) as store:
        assert drift(store.engine) == []


@pytest.mark.postgres
def test_no_drift_on_postgresql(pg_url):
    with Store.open_url(pg_url) as store:
        assert drift(store.engine) == []
