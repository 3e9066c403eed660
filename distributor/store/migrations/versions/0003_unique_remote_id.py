"""a post belongs to one delivery: unique (channel, remote_id) for posts

Before this, X's "duplicate content" answer and the unknown-outcome search
could record another delivery's post as a delivery's own (issue 9). Existing
rows sharing a post are settled first: the delivery whose own call returned the
post (an attempt with outcome "sent" and that remote id), else the oldest,
keeps it; every other one is held for an editor, with the evidence.

Revision ID: 0003
Revises: 0002
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

POSTS_ONLY = "kind <> 'newsletter'"


def upgrade() -> None:
    _settle_shared_posts(op.get_bind())
    op.create_index("uq_deliveries_channel_remote_id", "deliveries", ["channel", "remote_id"], unique=True,
                    sqlite_where=sa.text(POSTS_ONLY), postgresql_where=sa.text(POSTS_ONLY))


def downgrade() -> None:
    op.drop_index("uq_deliveries_channel_remote_id", table_name="deliveries")


def _settle_shared_posts(conn: sa.Connection) -> None:
    shared = conn.execute(sa.text(
        "SELECT channel, remote_id FROM deliveries WHERE remote_id IS NOT NULL AND " + POSTS_ONLY +
        " GROUP BY channel, remote_id HAVING COUNT(*) > 1")).fetchall()
    now = dt.datetime.now(dt.timezone.utc)
    if conn.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # UTCDateTime's storage on SQLite
    for channel, remote_id in shared:
        rows = conn.execute(sa.text(
            "SELECT d.id, d.article_id, EXISTS (SELECT 1 FROM delivery_attempts a WHERE a.delivery_id = d.id "
            "AND a.outcome = 'sent' AND a.remote_id = d.remote_id) AS own "
            "FROM deliveries d WHERE d.channel = :channel AND d.remote_id = :remote_id AND d." + POSTS_ONLY +
            " ORDER BY d.id"), {"channel": channel, "remote_id": remote_id}).fetchall()
        keeper = next((r for r in rows if r.own), rows[0])
        for r in rows:
            if r.id == keeper.id:
                continue
            reason = (f"post {remote_id} was recorded as this delivery's and as article {keeper.article_id}'s "
                      f"(delivery {keeper.id}), which keeps it. Check the channel: if this article's post is "
                      f"there, `distributor cancel {r.id}`; if not, `distributor release {r.id}`.")
            conn.execute(sa.text(
                "UPDATE deliveries SET status = 'held', remote_id = NULL, reason = :reason, claimed_by = NULL, "
                "updated_at = :now WHERE id = :id"), {"reason": reason, "now": now, "id": r.id})
