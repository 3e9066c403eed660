"""The tables, in SQLAlchemy Core. Migrations (store/migrations) create them;
this module is what the code queries. The same schema runs on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite drops tzinfo)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: every time in the store is timezone-aware")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


metadata = sa.MetaData()

articles = sa.Table(
    "articles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(200), nullable=False),
    # The article's identity within its source: a path relative to the folder,
    # or the feed's whole guid string (WordPress ids repeat across sub-sites).
    sa.Column("source_key", sa.String(2000), nullable=False),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("content_hash", sa.String(64), nullable=False),
    # The article's own id when it names one (front matter `id`), so it stays
    # the same article under another path; the url column serves the same way.
    sa.Column("identity", sa.String(2000)),
    # When its file was removed from the folder (a retraction); cleared when
    # the article comes back, at its path or another. Its content hash is kept
    # so that a file reappearing under another name is recognised.
    sa.Column("removed_at", UTCDateTime),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("url", sa.Text),
    sa.Column("published_at", UTCDateTime),
    sa.Column("publish_at", UTCDateTime),
    # The parsed structure, Article.to_json().
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("ingested_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("source", "source_key", name="uq_articles_source_key"),
)

# The outbox: one row per (article, channel, seq). seq 0 is the delivery the
# routing planned; a forced resend by an editor is a new row with seq 1, 2, …
deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
    # "<edition>.<kind>", e.g. "de.telegram"; also for kinds that are skipped.
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False, server_default="0"),
    # pending, awaiting_approval, sending, sent, failed, held, skipped, cancelled (store/outbox.py)
    sa.Column("status", sa.String(32), nullable=False),
    # Why it is skipped, held or cancelled.
    sa.Column("reason", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("remote_id", sa.String(200)),
    sa.Column("last_error", sa.Text),
    # The article version this delivery was planned for / last sent.
    sa.Column("article_version", sa.Integer, nullable=False, server_default="1"),
    # Who holds it in `sending`, since when: "host:pid:nonce" (crash recovery).
    sa.Column("claimed_by", sa.String(200)),
    sa.Column("claimed_at", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # The article version an editor approved for it (approving it, or sending
    # it by hand); NULL: none. In "required" mode only that version goes out
    # (store/approval.py). Who and when: the audit.
    sa.Column("approved_version", sa.Integer),
    # A worker's lease on a pending delivery it is about to render and claim
    # (store/leases.py): the others pass it by until `leased_until`. The claim,
    # not the lease, decides who sends it.
    sa.Column("leased_by", sa.String(200)),
    sa.Column("leased_until", UTCDateTime),
    # Its article's time (published, else ingested), copied here whenever the
    # article is stored (leases.order_deliveries): the order workers take due
    # deliveries in, read from the index below without touching `articles`.
    sa.Column("article_at", UTCDateTime),
    sa.UniqueConstraint("article_id", "channel", "seq", name="uq_deliveries_article_channel_seq"),
)
sa.Index("ix_deliveries_status_next", deliveries.c.status, deliveries.c.next_attempt_at)
# The pending deliveries in the order workers lease them (store/leases.py).
PENDING_ONLY = "status = 'pending'"
sa.Index("ix_deliveries_pending_order", deliveries.c.article_at, deliveries.c.id,
         sqlite_where=sa.text(PENDING_ONLY), postgresql_where=sa.text(PENDING_ONLY))
# A post belongs to one delivery: no two deliveries of a channel share a remote
# id. Newsletter deliveries are excluded: every article of a digest issue
# records the same "issue:<id>".
POSTS_ONLY = "kind <> 'newsletter'"
sa.Index("uq_deliveries_channel_remote_id", deliveries.c.channel, deliveries.c.remote_id, unique=True,
         sqlite_where=sa.text(POSTS_ONLY), postgresql_where=sa.text(POSTS_ONLY))

# Every attempt at an external call, recorded before and after it.
delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.Integer, sa.ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    # started (outcome unknown yet), sent, transient, rate_limited, permanent
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("remote_id", sa.String(200)),
    # What was sent (the rendered text), as evidence for an editor.
    sa.Column("payload", sa.Text),
)

# The last poll of each source: for `distributor status` and conditional GET.
source_polls = sa.Table(
    "source_polls",
    metadata,
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("polled_at", UTCDateTime, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("summary", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    # sha256 of the last feed document ingested whole (identical bytes are not parsed again).
    sa.Column("document_hash", sa.String(64)),
    # Since when its polls fail without a success between (NULL: the last one was ok).
    sa.Column("failing_since", UTCDateTime),
)

# A folder source's files as last read: a file whose size and mtime are unchanged
# is not read again. content_hash is the sha256 of its bytes; error, when the
# file gave no article (the same error is reported without reading it again).
source_files = sa.Table(
    "source_files",
    metadata,
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("path", sa.String(2000), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("mtime_ns", sa.BigInteger, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("error", sa.Text),
)

# Per channel ("de.telegram"): auto-pause after repeated failures, a provider's
# flood wait that applies to every delivery of the channel, a migrated chat id.
channel_state = sa.Table(
    "channel_state",
    metadata,
    sa.Column("channel", sa.String(64), primary_key=True),
    sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("paused_reason", sa.Text),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("not_before", UTCDateTime),
    sa.Column("chat_id", sa.String(64)),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# The weekly digest: one issue per (edition, slot), with its rendered email and
# its recipient snapshot as a rule, never a list of addresses: the edition's
# subscribers with id <= max_subscriber_id (the highest at snapshot_at) that
# are active when their batch is read (an unsubscribe during the send is
# honoured). recipient_count: how many were active at the start.
issues = sa.Table(
    "issues",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("edition", sa.String(8), nullable=False),
    # The scheduled time this issue belongs to (a manual send: when it was asked for).
    sa.Column("slot", UTCDateTime, nullable=False),
    # sending, sent, held, failed
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("html", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("headers", sa.Text, nullable=False),  # JSON, with the {token} slot
    # When the issue was made (its snapshot); set for every issue, nullable
    # only because SQLite cannot add a NOT NULL column to a table in place.
    sa.Column("snapshot_at", UTCDateTime),
    sa.Column("max_subscriber_id", sa.Integer, nullable=False, server_default="0"),
    sa.Column("recipient_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("batch_size", sa.Integer, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime),
    # An editor's own subject and intro (digest --subject/--intro); NULL: the defaults.
    sa.Column("editor_subject", sa.Text),
    sa.Column("intro", sa.Text),
    sa.UniqueConstraint("edition", "slot", name="uq_issues_edition_slot"),
)

issue_items = sa.Table(
    "issue_items",
    metadata,
    sa.Column("issue_id", sa.Integer, sa.ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("delivery_id", sa.Integer, sa.ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    # A delivery belongs to at most one issue.
    sa.UniqueConstraint("delivery_id", name="uq_issue_items_delivery"),
)

# Progress of an issue, batch by batch: written before and after each request.
issue_batches = sa.Table(
    "issue_batches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("issue_id", sa.Integer, sa.ForeignKey("issues.id", ondelete="CASCADE"), nullable=False),
    sa.Column("batch_no", sa.Integer, nullable=False),
    # sending (outcome unknown if found at start), sent, failed (to be sent again)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("recipients", sa.Integer, nullable=False),
    # The keyset range of subscriber ids the batch covered: (after_id, last_id].
    # A resume continues after the last_id of the last batch sent.
    sa.Column("after_id", sa.Integer),
    sa.Column("last_id", sa.Integer),
    sa.Column("message_id", sa.String(200)),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error", sa.Text),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.UniqueConstraint("issue_id", "batch_no", name="uq_issue_batches_issue_batch"),
)

# Newsletter readers, one row per (edition, address). Keyset paging by id
# (WHERE edition = ? AND status = 'active' AND id > ? ORDER BY id) is served by
# ix_subscribers_edition_status_id. Each status has the time it was last
# entered; consent is what the reader agreed to, where, and when they confirmed.
subscribers = sa.Table(
    "subscribers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("edition", sa.String(8), nullable=False),
    # Normalised with email-validator (domain lower-cased, IDNA); at most 254 by RFC 5321.
    sa.Column("email", sa.String(320), nullable=False),
    # pending, active, unsubscribed, bounced, complained (store/subscribers.py: TRANSITIONS)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_reason", sa.Text),
    sa.Column("status_changed_at", UTCDateTime, nullable=False),
    sa.Column("pending_at", UTCDateTime),
    sa.Column("active_at", UTCDateTime),
    sa.Column("unsubscribed_at", UTCDateTime),
    sa.Column("bounced_at", UTCDateTime),
    sa.Column("complained_at", UTCDateTime),
    # Consent: when it was given (the confirmation), where (e.g. "web:/subscribe/de"),
    # and the wording the reader agreed to.
    sa.Column("consent_at", UTCDateTime),
    sa.Column("consent_source", sa.String(500)),
    sa.Column("consent_text", sa.Text),
    # The last confirmation email sent (per-address rate limit across processes).
    sa.Column("confirm_sent_at", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("edition", "email", name="uq_subscribers_edition_email"),
)
sa.Index("ix_subscribers_edition_status_id", subscribers.c.edition, subscribers.c.status, subscribers.c.id)
sa.Index("ix_subscribers_email", subscribers.c.email)

# SendGrid Event Webhook: each sg_event_id is applied once.
webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("sg_event_id", sa.String(100), primary_key=True),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("issue_id", sa.Integer),
    sa.Column("received_at", UTCDateTime, nullable=False),
)

# Per digest issue: how many delivered, open and click events came back.
issue_stats = sa.Table(
    "issue_stats",
    metadata,
    sa.Column("issue_id", sa.Integer, sa.ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("event", sa.String(32), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False, server_default="0"),
)

# The editors' audit history (store/audit.py): one row per editor action, from
# whichever edge (actor: "cli:<user>", "desk:<name>", "telegram:<user id>"),
# refusals included. No foreign keys: the history outlives what it names.
audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    # send, resend, skip, hold, release, retry, resume, digest_send, digest_test, digest_release
    sa.Column("action", sa.String(32), nullable=False),
    # started, refused, or what it ended in (a delivery's state, a send's outcome, "resumed")
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("detail", sa.Text),
    sa.Column("delivery_id", sa.Integer),
    sa.Column("issue_id", sa.Integer),
    sa.Column("article_id", sa.Integer),
    sa.Column("channel", sa.String(64)),
)
sa.Index("ix_audit_article", audit.c.article_id, audit.c.id)
sa.Index("ix_audit_delivery", audit.c.delivery_id, audit.c.id)
sa.Index("ix_audit_issue", audit.c.issue_id, audit.c.id)


# An editor's own text for one variant of an article (store/edits.py): the
# Telegram post, the tweet or thread ("---" lines between its posts), or the
# newsletter entry's text, instead of the template's render. At most one per
# (article, kind); `article_version` is the version it was written for: once
# the article changes, the edit is out of date and the template's render goes
# out again until an editor saves it anew. A new save is a new row (a new id).
variant_edits = sa.Table(
    "variant_edits",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("article_version", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("article_id", "kind", name="uq_variant_edits_article_kind"),
    # Ids never come back (SQLite would reuse a deleted row's): an id names one text.
    sqlite_autoincrement=True,
)

# The editors who may use the desk (/desk/ in `distributor serve`): a name
# (lower case, store/editors.py: NAME) and an argon2 hash of the password,
# never the password. Removing an editor deletes the row and its sessions.
editors = sa.Table(
    "editors",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(32), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_login_at", UTCDateTime),
    sa.UniqueConstraint("name", name="uq_editors_name"),
)

# A desk session: the SHA-256 of the random token in the editor's signed
# cookie (the token itself is never stored), until when it is valid. Logging
# out deletes the row; so does removing the editor.
editor_sessions = sa.Table(
    "editor_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("editor_id", sa.Integer, sa.ForeignKey("editors.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)
sa.Index("ix_editor_sessions_editor_id", editor_sessions.c.editor_id)


# Signups in the last hour, per client and per address, shared by every process
# that answers POST /subscribe (`serve`, `run` with [web] enabled): one row a
# signup, its key a keyed hash (never the IP address or the email address),
# `at` in Unix seconds. Rows older than the window are deleted as new ones come.
signup_hits = sa.Table(
    "signup_hits",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)
sa.Index("ix_signup_hits_key_at", signup_hits.c.key, signup_hits.c.at)
sa.Index("ix_signup_hits_at", signup_hits.c.at)


# The editors' bot (distributor/editorbot): the message it posted to the
# editors' group for an article awaiting approval, one per (article, chat),
# so that a restart neither posts it again nor forgets it. A row is claimed
# (message_id NULL) before the post and completed after it; `shown` is the
# sha256 of the text and buttons the message shows, to edit it only when the
# article's deliveries changed (a decision taken here, on the desk or the CLI).
editorbot_messages = sa.Table(
    "editorbot_messages",
    metadata,
    sa.Column("article_id", sa.Integer, primary_key=True),
    sa.Column("chat_id", sa.String(64), primary_key=True),
    sa.Column("message_id", sa.Integer),
    sa.Column("shown", sa.String(64)),
    sa.Column("claimed_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# The alerts the editors' bot sent: one row per event still going on (a paused
# channel, a failed delivery, …), keyed by what it is about, so that an event
# is alerted once, whatever the number of polls, processes or restarts; the
# row goes when the event is over, and a new one is alerted anew. `fingerprint`
# tells a new episode under the same key (a channel paused for another reason).
editorbot_alerts = sa.Table(
    "editorbot_alerts",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("alerted_at", UTCDateTime, nullable=False),
    sa.Column("message_id", sa.Integer),
)

# The processes that deliver (`distributor worker`, and `distributor run`, also
# a worker), one row each (store/workers.py): the id their claims carry
# ("host:pid:nonce"), where they run, since when, their last heartbeat, and
# when they stopped (NULL: running, or killed). `status` lists the live ones.
workers = sa.Table(
    "workers",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("heartbeat_at", UTCDateTime, nullable=False),
    sa.Column("stopped_at", UTCDateTime),
)
sa.Index("ix_workers_heartbeat_at", workers.c.heartbeat_at)

# The editors' draft of each edition's next digest issue (the desk's
# /desk/digest, store/digest_drafts.py): its own subject and intro, and
# `version`, counted up by every change, so the issue made from it knows it
# read the latest. The transaction that makes the issue deletes the draft
# (and its article choices): the following issue starts fresh.
digest_drafts = sa.Table(
    "digest_drafts",
    metadata,
    sa.Column("edition", sa.String(8), primary_key=True),
    sa.Column("subject", sa.Text),
    sa.Column("intro", sa.Text),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
)

# An editor's choice about one article of the next issue: `removed` (it stays
# pending and goes into the following issue) or `added` (a held or skipped
# newsletter delivery made pending for this issue).
digest_draft_articles = sa.Table(
    "digest_draft_articles",
    metadata,
    sa.Column("edition", sa.String(8), sa.ForeignKey("digest_drafts.edition", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("delivery_id", sa.Integer, sa.ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("choice", sa.String(8), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("by", sa.String(200), nullable=False),
)
