"""What a reader can do: sign up (double opt-in), confirm, unsubscribe.

The web handlers parse the request and call these; the answer a reader sees
never depends on whether the address was new, pending or active.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from distributor.config import Settings
from distributor.errors import DistributorError
from distributor.newsletter import tokens
from distributor.store.subscribers import Subscriber, Subscribers

log = logging.getLogger(__name__)


def has_newsletter(settings: Settings, edition: str) -> bool:
    ed = settings.editions.get(edition)
    return ed is not None and ed.channels.newsletter is not None


def outlet(settings: Settings, edition: str) -> str:
    from distributor.render.variants import outlet_name

    return outlet_name(settings, edition) or "Newsletter"


def confirm_url(settings: Settings, edition: str, subscriber_id: int, now: dt.datetime) -> str:
    return f"{settings.web.public_url}/confirm/{tokens.confirm_token(settings, edition, subscriber_id, now)}"


def unsubscribe_url(settings: Settings, edition: str, subscriber_id: int) -> str:
    return f"{settings.web.public_url}/unsubscribe/{tokens.unsubscribe_token(settings, edition, subscriber_id)}"


@dataclass(frozen=True)
class Signup:
    subscriber: Subscriber
    send_confirmation: bool


def signup(settings: Settings, subs: Subscribers, edition: str, email: str, *, now: dt.datetime,
           source: str, consent_text: str) -> Signup:
    """Record the request; whether a confirmation email should go out."""
    if not has_newsletter(settings, edition):
        raise DistributorError(f"edition {edition!r} has no newsletter")
    sub, send = subs.signup(edition, email, now=now, source=source, consent_text=consent_text)
    return Signup(sub, send)


async def send_confirmation(settings: Settings, subs: Subscribers, sub: Subscriber, *, now: dt.datetime,
                            channel=None) -> str:  # noqa: ANN001 - a newsletter channel
    """The double opt-in email, through the edition's newsletter channel (the
    caller's, when it sends many: an import)."""
    from distributor.channels import build_channel
    from distributor.render import render_edition_confirm

    url = confirm_url(settings, sub.edition, sub.id, now)
    message = render_edition_confirm(settings, sub.edition, url)
    own = channel is None
    channel = channel or build_channel(settings, f"{sub.edition}.newsletter")
    try:
        message_id = await channel.send_batch(message, [(sub.email, "")],
                                              custom_args={"kind": "confirm", "edition": sub.edition})
    finally:
        if own:
            await channel.aclose()
    subs.confirm_sent(sub.id, now)
    log.info("confirmation email for subscriber %s (%s) sent: %s", sub.id, sub.edition, message_id)
    return message_id


def subscriber_of(settings: Settings, subs: Subscribers, token: str, purpose: str,
                  now: dt.datetime) -> Subscriber:
    """The subscriber a token names; BadToken when it is not valid or names no one."""
    t = tokens.verify(settings, token, purpose, now)
    sub = subs.get(t.subscriber_id)
    if sub is None or sub.edition != t.edition:
        raise tokens.BadToken("this link is not valid")
    return sub


def confirm(subs: Subscribers, sub: Subscriber, *, now: dt.datetime) -> bool:
    return subs.confirm(sub.id, now=now)


def unsubscribe(subs: Subscribers, sub: Subscriber, *, now: dt.datetime, how: str) -> bool:
    """At once, no questions; already unsubscribed (or suppressed) is fine."""
    return subs.transition(sub.id, "unsubscribed", now=now, reason=how, strict=False)
