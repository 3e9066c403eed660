"""deliveries: approval (the awaiting_approval state, the article version approved)

A channel in `approval = "required"` mode plans its deliveries in the state
`awaiting_approval`, 17 characters: `status` widens from VARCHAR(16) to
VARCHAR(32). `approved_version` is the article version an editor approved for
the delivery (by approving it or sending it by hand); NULL: none. Who approved
and when is the audit's (one row per approval).

SQLite ignores a VARCHAR's length but records it in the table's declaration.
Rebuilding `deliveries` (Alembic's batch mode) would drop the old table, and
with foreign keys on that deletes every delivery's attempts and issue items in
cascade; so the declaration is rewritten in place instead, SQLite's documented
procedure for a change that leaves the stored data's format as it is
(https://www.sqlite.org/lang_altertable.html, "otheralter"). On PostgreSQL it
is a plain ALTER COLUMN TYPE.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _status_length(old: int, new: int) -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        op.alter_column("deliveries", "status", type_=sa.String(new), existing_type=sa.String(old),
                        existing_nullable=False)
        return
    sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'deliveries'").scalar()
    before, after = f"status VARCHAR({old}) NOT NULL", f"status VARCHAR({new}) NOT NULL"
    if sql is None or sql.count(before) != 1:
        raise RuntimeError(f"deliveries.status is not declared {before!r}: {sql!r}")
    version = int(conn.exec_driver_sql("PRAGMA schema_version").scalar_one())
    conn.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        conn.execute(sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'deliveries'"),
                     {"sql": sql.replace(before, after)})
        conn.exec_driver_sql(f"PRAGMA schema_version = {version + 1}")
    finally:
        conn.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    _status_length(16, 32)
    op.add_column("deliveries", sa.Column("approved_version", sa.Integer))


def downgrade() -> None:
    # Nothing unapproved may go out: what awaited approval waits for an editor, held.
    op.execute("UPDATE deliveries SET status = 'held', reason = 'awaited approval when the schema was "
               "downgraded: `distributor release ID` sends it' WHERE status = 'awaiting_approval'")
    op.drop_column("deliveries", "approved_version")
    _status_length(32, 16)
