"""source state for change detection: the feed document's hash, folder files' size and mtime

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("source_polls", sa.Column("document_hash", sa.String(64)))
    op.create_table(
        "source_files",
        sa.Column("source", sa.String(200), primary_key=True),
        sa.Column("path", sa.String(2000), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("error", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("source_files")
    with op.batch_alter_table("source_polls") as batch:
        batch.drop_column("document_hash")
