"""variant_edits: an editor's own text for one variant of an article

One row per (article, kind) at most: the text an editor gave the Telegram
post, the tweet or thread, or the newsletter entry instead of the template's
render, the article version it was written for (an edit of an older version
is out of date and not sent), who wrote it and when. Saving a new edit
replaces the row (a new id: what an approval saw is named by it).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

from distributor.store.schema import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "variant_edits",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("article_version", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("article_id", "kind", name="uq_variant_edits_article_kind"),
        sqlite_autoincrement=True,  # a deleted row's id is never given again: an id names one text
    )


def downgrade() -> None:
    op.drop_table("variant_edits")
