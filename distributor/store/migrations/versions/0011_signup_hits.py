"""signup_hits: the signup rate limits in the database, shared by every
process that answers POST /subscribe (they were counters in each process's
memory)

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signup_hits",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_signup_hits_key_at", "signup_hits", ["key", "at"])
    op.create_index("ix_signup_hits_at", "signup_hits", ["at"])


def downgrade() -> None:
    op.drop_index("ix_signup_hits_at", table_name="signup_hits")
    op.drop_index("ix_signup_hits_key_at", table_name="signup_hits")
    op.drop_table("signup_hits")
