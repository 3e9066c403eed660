"""the editors' bot: its approval messages and alerts; since when a source fails

`editorbot_messages`: the message posted to the editors' group per article
awaiting approval (a restart neither posts it again nor forgets it).
`editorbot_alerts`: the events alerted and still going on (each alerted
once). `source_polls.failing_since`: since when a source's polls fail, for
the alert of a source failing longer than [desk.telegram]
alert_source_failing_minutes; a source failing now counts from now.

Revision ID: 0013
Revises: 0012
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

from distributor.store.schema import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "editorbot_messages",
        sa.Column("article_id", sa.Integer, primary_key=True),
        sa.Column("chat_id", sa.String(64), primary_key=True),
        sa.Column("message_id", sa.Integer),
        sa.Column("shown", sa.String(64)),
        sa.Column("claimed_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "editorbot_alerts",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("alerted_at", UTCDateTime, nullable=False),
        sa.Column("message_id", sa.Integer),
    )
    op.add_column("source_polls", sa.Column("failing_since", UTCDateTime))
    polls = sa.table("source_polls", sa.column("ok", sa.Boolean), sa.column("failing_since", UTCDateTime))
    op.execute(polls.update().where(polls.c.ok == sa.false())
               .values(failing_since=dt.datetime.now(dt.timezone.utc)))


def downgrade() -> None:
    with op.batch_alter_table("source_polls") as batch:
        batch.drop_column("failing_since")
    op.drop_table("editorbot_alerts")
    op.drop_table("editorbot_messages")
