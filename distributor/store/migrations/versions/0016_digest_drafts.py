"""digest drafts: an editor's subject, intro and article choices for each edition's next issue

`digest_drafts` holds, per edition, the subject and intro an editor set on the
desk for the next issue (NULL: the default) and a version counted up by every
change; `digest_draft_articles` the articles removed from it (they stay
pending) or added to it. The transaction that makes the issue deletes both.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

from distributor.store.schema import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_drafts",
        sa.Column("edition", sa.String(8), primary_key=True),
        sa.Column("subject", sa.Text),
        sa.Column("intro", sa.Text),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "digest_draft_articles",
        sa.Column("edition", sa.String(8), sa.ForeignKey("digest_drafts.edition", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("delivery_id", sa.Integer, sa.ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("choice", sa.String(8), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("digest_draft_articles")
    op.drop_table("digest_drafts")
