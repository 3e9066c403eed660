"""issues: an editor's own subject and intro (digest --subject/--intro)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("issues") as batch:
        # NULL: the default subject and intro line of the edition.
        batch.add_column(sa.Column("editor_subject", sa.Text))
        batch.add_column(sa.Column("intro", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("issues") as batch:
        batch.drop_column("intro")
        batch.drop_column("editor_subject")
