"""audit: the editors' history of actions (store/audit.py)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from distributor.store.schema import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("delivery_id", sa.Integer),
        sa.Column("issue_id", sa.Integer),
        sa.Column("article_id", sa.Integer),
        sa.Column("channel", sa.String(64)),
    )
    op.create_index("ix_audit_article", "audit", ["article_id", "id"])
    op.create_index("ix_audit_delivery", "audit", ["delivery_id", "id"])
    op.create_index("ix_audit_issue", "audit", ["issue_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_issue", table_name="audit")
    op.drop_index("ix_audit_delivery", table_name="audit")
    op.drop_index("ix_audit_article", table_name="audit")
    op.drop_table("audit")
