"""deliveries: a worker's lease; workers: the registry of delivery processes

Several `distributor worker` processes (and `distributor run`, also a worker)
share one outbox. `leased_by` / `leased_until` are a worker's lease on a
pending delivery it is about to render and claim, so the others pass it by
(the claim, not the lease, decides who sends it); the `workers` table is where
each process registers itself and beats its heartbeat, for `status` and for
recovery (a claim of a worker whose heartbeat stopped is settled at once).
Both are additions: nothing existing changes, and SQLite adds the columns in
place (ALTER TABLE ADD COLUMN, no rebuild of `deliveries`).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("leased_by", sa.String(200)))
    op.add_column("deliveries", sa.Column("leased_until", sa.DateTime(timezone=True)))
    op.create_table(
        "workers",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_workers_heartbeat_at", "workers", ["heartbeat_at"])


def downgrade() -> None:
    op.drop_index("ix_workers_heartbeat_at", table_name="workers")
    op.drop_table("workers")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite >= 3.35 drops a column in place (no rebuild, no cascade).
        op.execute("ALTER TABLE deliveries DROP COLUMN leased_until")
        op.execute("ALTER TABLE deliveries DROP COLUMN leased_by")
    else:
        op.drop_column("deliveries", "leased_until")
        op.drop_column("deliveries", "leased_by")
