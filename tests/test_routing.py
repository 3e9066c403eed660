import datetime as dt

from distributor.model import Article, ChannelRef
from distributor.routing import route

SEED_KINDS = ("twitter", "facebook", "telegram", "linkedin", "instagram", "newsletter")


def article(lang="de", kinds=SEED_KINDS, **kw):
    return Article(title="T", lede="L", language=lang, channels=tuple(ChannelRef(k) for k in kinds), **kw)


def test_named_and_configured_are_planned_the_rest_skipped_with_reason(settings):
    r = route(article(), settings)
    assert [p.channel for p in r.planned] == ["de.twitter", "de.telegram", "de.newsletter"]
    assert {s.channel: s.reason for s in r.skipped} == {
        "de.facebook": "no facebook channel configured for de",
        "de.linkedin": "no linkedin channel configured for de",
        "de.instagram": "no instagram channel configured for de",
    }


def test_a_deliverable_kind_missing_in_one_edition_is_skipped_there(settings):
    r = route(article("fr", ("twitter", "telegram")), settings)
    assert [p.channel for p in r.planned] == ["fr.telegram"]
    assert [(s.channel, s.reason) for s in r.skipped] == [("fr.twitter", "no twitter channel configured for fr")]


def test_language_without_edition_skips_everything(settings):
    r = route(article("ru", ("telegram", "newsletter")), settings)
    assert r.planned == ()
    assert [s.reason for s in r.skipped] == [
        "no telegram channel configured for ru (no ru edition)",
        "no newsletter channel configured for ru (no ru edition)",
    ]


def test_no_footer_plans_nothing(settings):
    r = route(article(kinds=()), settings)
    assert r.planned == () and r.skipped == ()


def test_front_matter_overrides_the_footer(settings):
    r = route(article(channels_override=("newsletter",)), settings)
    assert [p.channel for p in r.planned] == ["de.newsletter"]
    assert r.skipped == ()


def test_embargo_from_publish_at_or_a_future_feed_date(settings):
    now = dt.datetime(2025, 3, 1, tzinfo=dt.timezone.utc)
    later = now + dt.timedelta(days=2)
    assert route(article(publish_at=later), settings, now=now).not_before == later
    assert route(article(published=later), settings, now=now).not_before == later
    assert route(article(published=now - dt.timedelta(days=1)), settings, now=now).not_before is None
