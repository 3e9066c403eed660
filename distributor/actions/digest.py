"""An editor's actions on the weekly digest: send the next issue now (or
resume an unfinished one), send a test copy, resend a stored issue to one
address, release a held issue."""

from __future__ import annotations

from dataclasses import dataclass

from distributor.actions.common import refusals, started
from distributor.app import App
from distributor.config import Settings
from distributor.errors import ConfigurationError, DistributorError
from distributor.newsletter.digest import DigestResult, run_digest, send_issue, send_test_copy
from distributor.store.issues import Issues
from distributor.store.audit import AuditNote

__all__ = ["CopySent", "newsletter_editions", "copy_addresses", "send_digest", "send_test", "resend_issue",
           "release_issue"]


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
                      intro: str | None = None) -> DigestResult:
    """Send the edition's next issue now, with the editor's own subject and
    intro if given; or resume its unfinished issue (a failed one too)."""
    note = AuditNote(actor, "digest_send", outcome="", channel=f"{edition}.newsletter",
                     detail=_what(subject, intro))
    with started(app, note) as entry:
        newsletter_editions(app.settings, edition)
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


def _what(subject: str | None, intro: str | None) -> str | None:
    bits = ([f"subject {subject!r}"] if subject else []) + (["with an intro"] if intro else [])
    return "; ".join(bits) or None
