"""readers: subscribers, applied webhook events, per-issue event counts

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from distributor.store.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("edition", sa.String(8), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text),
        sa.Column("status_changed_at", UTCDateTime, nullable=False),
        sa.Column("pending_at", UTCDateTime),
        sa.Column("active_at", UTCDateTime),
        sa.Column("unsubscribed_at", UTCDateTime),
        sa.Column("bounced_at", UTCDateTime),
        sa.Column("complained_at", UTCDateTime),
        sa.Column("consent_at", UTCDateTime),
        sa.Column("consent_source", sa.String(500)),
        sa.Column("consent_text", sa.Text),
        sa.Column("confirm_sent_at", UTCDateTime),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("edition", "email", name="uq_subscribers_edition_email"),
    )
    op.create_index("ix_subscribers_edition_status_id", "subscribers", ["edition", "status", "id"])
    op.create_index("ix_subscribers_email", "subscribers", ["email"])
    op.create_table(
        "webhook_events",
        sa.Column("sg_event_id", sa.String(100), primary_key=True),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("issue_id", sa.Integer),
        sa.Column("received_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "issue_stats",
        sa.Column("issue_id", sa.Integer, sa.ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("event", sa.String(32), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("issue_stats")
    op.drop_table("webhook_events")
    op.drop_index("ix_subscribers_email", "subscribers")
    op.drop_index("ix_subscribers_edition_status_id", "subscribers")
    op.drop_table("subscribers")
