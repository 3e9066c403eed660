"""issues: the recipient snapshot is a rule, not a JSON list of addresses

An issue records when it started (snapshot_at), the highest subscriber id of
its edition then (max_subscriber_id) and how many were active (recipient_count).
Its recipients are the edition's subscribers with id <= max_subscriber_id
that are active when their batch is read (store/issues.py). Each batch records the keyset range it covered
(after_id, last_id], so a resume continues after the last batch sent.

Issues still in flight keep their place: each of their batches gets the id
range its slice of the old list covered (the list was in subscriber id order).

Revision ID: 0008
Revises: 0007
"""

import json

import sqlalchemy as sa
from alembic import op

from distributor.store.schema import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE on both backends (SQLite >= 3.35 drops a column in
    # place): a batch-mode copy of `issues` would drop and recreate it, and with
    # foreign keys on that deletes every issue's items and batches in cascade.
    op.add_column("issues", sa.Column("snapshot_at", UTCDateTime))
    op.add_column("issues", sa.Column("max_subscriber_id", sa.Integer, nullable=False, server_default="0"))
    op.add_column("issues", sa.Column("recipient_count", sa.Integer, nullable=False, server_default="0"))
    op.add_column("issue_batches", sa.Column("after_id", sa.Integer))
    op.add_column("issue_batches", sa.Column("last_id", sa.Integer))
    conn = op.get_bind()
    top = conn.execute(sa.text("SELECT COALESCE(MAX(id), 0) FROM subscribers")).scalar() or 0
    rows = conn.execute(sa.text("SELECT id, edition, recipients, batch_size, created_at FROM issues")).fetchall()
    for issue_id, edition, recipients, batch_size, created_at in rows:
        emails = json.loads(recipients or "[]")
        conn.execute(sa.text("UPDATE issues SET snapshot_at = created_at, max_subscriber_id = :top, "
                             "recipient_count = :n WHERE id = :id"), {"top": top, "n": len(emails), "id": issue_id})
        after = 0
        for batch_no in range(-(-len(emails) // batch_size) if batch_size else 0):
            chunk = emails[batch_no * batch_size:(batch_no + 1) * batch_size]
            last = conn.execute(sa.text("SELECT MAX(id) FROM subscribers WHERE edition = :e AND email IN :emails")
                                .bindparams(sa.bindparam("emails", expanding=True)),
                                {"e": edition, "emails": chunk}).scalar() or after
            conn.execute(sa.text("UPDATE issue_batches SET after_id = :a, last_id = :l "
                                 "WHERE issue_id = :i AND batch_no = :b"),
                         {"a": after, "l": last, "i": issue_id, "b": batch_no})
            after = last
    op.drop_column("issues", "recipients")


def downgrade() -> None:
    op.add_column("issues", sa.Column("recipients", sa.Text, nullable=False, server_default="[]"))
    # The list is rebuilt from the rule (the addresses still active).
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, edition, max_subscriber_id FROM issues")).fetchall()
    for issue_id, edition, top in rows:
        emails = [r[0] for r in conn.execute(sa.text(
            "SELECT email FROM subscribers WHERE edition = :e AND status = 'active' AND id <= :top ORDER BY id"),
            {"e": edition, "top": top})]
        conn.execute(sa.text("UPDATE issues SET recipients = :r WHERE id = :id"),
                     {"r": json.dumps(emails), "id": issue_id})
    for table, column in (("issue_batches", "last_id"), ("issue_batches", "after_id"),
                          ("issues", "recipient_count"), ("issues", "max_subscriber_id"), ("issues", "snapshot_at")):
        op.drop_column(table, column)
