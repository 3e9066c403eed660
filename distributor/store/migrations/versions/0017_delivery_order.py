"""deliveries: their article's time, and an index of the pending ones in that order

Workers lease due deliveries oldest article first. The order was read from
`articles` on every lease: a join and a sort of every pending delivery, its
cost growing with the queue (26 ms a lease at 10,000 queued, as much as the
rest of a delivery). `article_at` is the article's time (published, else
ingested) copied onto each delivery, and `ix_deliveries_pending_order` lists
the pending ones in that order, so a lease reads the few it takes. Existing
rows are filled from their articles. An addition: SQLite adds the column in
place.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("article_at", sa.DateTime(timezone=True)))
    op.execute("UPDATE deliveries SET article_at = (SELECT coalesce(articles.published_at, articles.ingested_at) "
               "FROM articles WHERE articles.id = deliveries.article_id)")
    op.create_index("ix_deliveries_pending_order", "deliveries", ["article_at", "id"],
                    sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    op.drop_index("ix_deliveries_pending_order", table_name="deliveries")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE deliveries DROP COLUMN article_at")
    else:
        op.drop_column("deliveries", "article_at")
