"""articles: their own id (front matter `id`) and when their file was removed

Identity follows the article, not only its path: a moved or renamed file is
found again by its id, its url or, once its old path is gone, its content
hash, which a retraction now keeps (removed_at marks it instead).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from distributor.store.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("articles", sa.Column("identity", sa.String(2000)))
    op.add_column("articles", sa.Column("removed_at", UTCDateTime))
    # Before this revision a retraction cleared the content hash instead.
    op.execute("UPDATE articles SET removed_at = updated_at WHERE content_hash = ''")


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("removed_at")
        batch.drop_column("identity")
