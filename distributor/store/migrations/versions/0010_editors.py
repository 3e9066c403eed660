"""editors and their desk sessions

The editors who may log in to the desk (/desk/), with an argon2 hash of each
password, and their sessions (the SHA-256 of each session token).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from distributor.store.schema import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "editors",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_login_at", UTCDateTime),
        sa.UniqueConstraint("name", name="uq_editors_name"),
    )
    op.create_table(
        "editor_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("editor_id", sa.Integer, sa.ForeignKey("editors.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_editor_sessions_editor_id", "editor_sessions", ["editor_id"])


def downgrade() -> None:
    op.drop_index("ix_editor_sessions_editor_id", table_name="editor_sessions")
    op.drop_table("editor_sessions")
    op.drop_table("editors")
