"""An editor's actions on the weekly digest: send the next issue now (or
resume an unfinished one), send a test copy, resend a stored issue to one
address, release a held issue; and the draft of the next issue (the desk's
/desk/digest): its own subject and intro, an article removed from it (it
stays pending for the following issue) or added to it (a held or skipped
newsletter delivery made pending). Each is recorded in the audit, refusals
too; the send, whichever path makes the issue, uses the draft
(newsletter/next_issue.py)."""

from __future__ import annotations

from dataclasses import dataclass

from distributor.actions.common import refusals, started
from distributor.app import App
from distributor.config import Settings
from distributor.errors import ConfigurationError, DistributorError
from distributor.newsletter.digest import DigestResult, run_digest, send_issue, send_test_copy
from distributor.newsletter.next_issue import next_issue
from distributor.render.email import editor_intro, editor_subject
from distributor.store.digest_drafts import ADDABLE, ADDED, REMOVED, Draft, Drafts
from distributor.store.issues import Issues
from distributor.store.audit import AuditNote
from distributor.store.outbox import DeliveryStatus
from distributor.store.states import IssueStatus

__all__ = ["CopySent", "newsletter_editions", "copy_addresses", "send_digest", "send_test", "resend_issue",
           "release_issue", "save_draft", "remove_article", "add_article", "IN_PROGRESS"]

# The issue states in which an editor's "send the next issue" from the desk is
# refused: one is being sent, or waits for an editor (held, failed).
IN_PROGRESS = (IssueStatus.SENDING, IssueStatus.HELD, IssueStatus.FAILED)


@dataclass(frozen=True)
class CopySent:
    """A copy of an issue sent to one address, recorded nowhere but the audit."""

    edition: str
    address: str
    message_id: str
    issue_id: int | None = None  # a stored issue resent, or None: the next issue as it stands


def newsletter_editions(settings: Settings, edition: str | None) -> list[str]:
    """The editions an action applies to: `edition`, or every one with a newsletter."""
    with_newsletter = [code for code, e in settings.editions.items() if e.channels.newsletter]
    if edition is None:
        if not with_newsletter:
            raise ConfigurationError(f"{settings.path}: no edition has a newsletter channel")
        return with_newsletter
    if edition not in with_newsletter:
        raise ConfigurationError(f"{settings.path}: edition {edition!r} has no newsletter channel "
                                 f"(editions with one: {', '.join(with_newsletter) or 'none'})")
    return [edition]


def copy_addresses(settings: Settings, edition: str, address: str | None) -> list[str]:
    """Where a test copy of the edition goes: `address`, or without one the
    edition's test_recipients."""
    if address:
        return [address]
    nl = settings.editions[edition].channels.newsletter
    targets = list(nl.test_recipients) if nl is not None else []
    if not targets:
        raise DistributorError(f"--to without an address: edition {edition} has no test_recipients "
                               f"in [editions.{edition}.channels.newsletter]")
    return targets


async def send_digest(app: App, edition: str, *, actor: str, subject: str | None = None,
                      intro: str | None = None, new_only: bool = False) -> DigestResult:
    """Send the edition's next issue now, with the editor's own subject and
    intro if given (else the draft's); or resume its unfinished issue (a
    failed one too). With `new_only` (the desk's Send now), refused while an
    issue of the edition is in progress (IN_PROGRESS) instead."""
    note = AuditNote(actor, "digest_send", outcome="", channel=f"{edition}.newsletter",
                     detail=_what(subject, intro))
    with started(app, note) as entry:
        newsletter_editions(app.settings, edition)
        busy = Issues(app.store.engine).unfinished(edition, IN_PROGRESS) if new_only else []
        if busy:
            raise DistributorError(f"issue #{busy[0].id} of edition {edition} is {busy[0].status}: the next issue "
                                   f"is sent once it is finished (`distributor digest --send` resumes it, "
                                   f"`--release {busy[0].id}` a held one)")
        result = await run_digest(app.settings, app.store, edition, clock=app.clock, sleep=app.sleep,
                                  resume_failed=True, subject=subject, intro=intro)
        entry.conclude(result.status, result.detail or None, issue_id=result.issue.id if result.issue else None)
    return result


async def send_test(app: App, edition: str, address: str, *, actor: str, subject: str | None = None,
                    intro: str | None = None) -> CopySent:
    """The edition's next issue as it stands, to one address only ("[Test]"
    in its subject); nothing but the audit records it."""
    note = AuditNote(actor, "digest_test", outcome="", channel=f"{edition}.newsletter",
                     detail=f"to {address}" + (f"; {_what(subject, intro)}" if subject or intro else ""))
    with started(app, note) as entry:
        newsletter_editions(app.settings, edition)
        msg_id = await send_test_copy(app.settings, app.store, edition, address, now=app.clock(), subject=subject,
                                      intro=intro)
        entry.conclude("sent", f"to {address} (X-Message-Id {msg_id})")
    return CopySent(edition, address, msg_id)


async def resend_issue(app: App, issue_id: int, address: str, *, actor: str) -> CopySent:
    """A stored issue, as it went out, to one more address only."""
    note = AuditNote(actor, "digest_test", outcome="", issue_id=issue_id, detail=f"to {address}")
    with refusals(app, note):
        if not address:
            raise DistributorError("--issue ID --send --to ADDRESS: name the one address to resend it to")
        issue = Issues(app.store.engine).get(issue_id)
    with started(app, note) as entry:
        msg_id = await send_test_copy(app.settings, app.store, "", address, now=app.clock(), issue_id=issue_id)
        entry.conclude("sent", f"issue #{issue_id} to {address} (X-Message-Id {msg_id})")
    return CopySent(issue.edition, address, msg_id, issue_id)


async def release_issue(app: App, issue_id: int, *, actor: str) -> DigestResult:
    """Release a held issue (its batches of unknown outcome are sent again)
    and resume it."""
    note = AuditNote(actor, "digest_release", outcome="", issue_id=issue_id)
    with started(app, note) as entry:
        issues = Issues(app.store.engine)
        issues.release(issue_id, now=app.clock())
        result = await send_issue(app.settings, app.store, issues.get(issue_id), clock=app.clock, sleep=app.sleep)
        entry.conclude(result.status, result.detail or None)
    return result


def save_draft(app: App, edition: str, *, actor: str, subject: str | None, intro: str | None) -> Draft:
    """Give the edition's next issue its own subject and intro (blank: the
    default), checked as `digest --subject/--intro` checks them: one
    printable line of at most 200 characters; plain text of at most 2000."""
    channel = f"{edition}.newsletter"
    note = AuditNote(actor, "digest_draft", outcome="saved", channel=channel)
    with refusals(app, note):
        newsletter_editions(app.settings, edition)
        subject = editor_subject(subject) if subject and subject.strip() else None
        intro = editor_intro(intro) or None
    note = AuditNote(actor, "digest_draft", outcome="saved", channel=channel,
                     detail=_what(subject, intro) or "the default subject and intro")
    return Drafts(app.store.engine).save(edition, subject=subject, intro=intro, now=app.clock(), by=actor,
                                         audit=note)


def remove_article(app: App, edition: str, delivery_id: int, *, actor: str) -> Draft:
    """Leave an article out of the edition's next issue: its newsletter
    delivery stays pending, for the following issue."""
    note = AuditNote(actor, "digest_remove", outcome="removed", channel=f"{edition}.newsletter",
                     delivery_id=delivery_id)
    with refusals(app, note):
        newsletter_editions(app.settings, edition)
        items = dict(next_issue(app.settings, app.store, edition, app.clock()).items)
        if delivery_id not in items:
            raise DistributorError(f"delivery {delivery_id} is not in the next {edition} issue")
    note = AuditNote(actor, "digest_remove", outcome="removed", channel=f"{edition}.newsletter",
                     delivery_id=delivery_id, article_id=items[delivery_id],
                     detail="left out of the next issue; it stays pending for the following one")
    return Drafts(app.store.engine).choose(edition, delivery_id, REMOVED, now=app.clock(), by=actor, audit=note)


def add_article(app: App, edition: str, delivery_id: int, *, actor: str) -> Draft:
    """Put an article into the edition's next issue: one removed from it
    back, or a held or skipped newsletter delivery (Drafts.addable) made
    pending. Under `approval = "required"` it still needs an approval."""
    channel = f"{edition}.newsletter"
    note = AuditNote(actor, "digest_add", outcome="added", channel=channel, delivery_id=delivery_id)
    drafts = Drafts(app.store.engine)
    with refusals(app, note):
        newsletter_editions(app.settings, edition)
        row = app.store.outbox.get(delivery_id)
        if row.channel != channel:
            raise DistributorError(f"delivery {delivery_id} is on {row.channel}, not {channel}")
        if delivery_id in drafts.get(edition).removed:
            note = AuditNote(actor, "digest_add", outcome="added", channel=channel, delivery_id=delivery_id,
                             article_id=row.article_id, detail="put back into the next issue")
            return drafts.choose(edition, delivery_id, None, now=app.clock(), by=actor, audit=note)
        if row.status not in ADDABLE or Issues(app.store.engine).carrying(delivery_id) is not None:
            raise DistributorError(f"delivery {delivery_id} ({channel}) is {row.status}: only a held or skipped "
                                   f"one can be added to the next issue")
        note = AuditNote(actor, "digest_add", outcome="added", channel=channel, delivery_id=delivery_id,
                         article_id=row.article_id, detail=f"was {row.status}; pending for the next issue")
        app.store.outbox.set_status(delivery_id, from_states=ADDABLE, to=DeliveryStatus.PENDING, now=app.clock(),
                                    reason="added to the next digest issue by an editor", audit=note)
    return drafts.choose(edition, delivery_id, ADDED, now=app.clock(), by=actor)


def _what(subject: str | None, intro: str | None) -> str | None:
    bits = ([f"subject {subject!r}"] if subject else []) + (["with an intro"] if intro else [])
    return "; ".join(bits) or None
