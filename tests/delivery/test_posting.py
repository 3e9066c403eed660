"""Posting rules per channel: windows (wait, or go out silently), editorial
spacing that spreads a burst oldest first, on a fake clock."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from distributor.config import load_settings
from distributor.errors import ConfigurationError
from distributor.ingest.pipeline import ingest
from distributor.posting import in_window, next_opening, parse_window
from support import drain, sent, with_channel

UTC = dt.timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")


def test_windows_parse_and_wrap_midnight():
    day = parse_window("07:00-22:00")
    night = parse_window("22:00-06:00")
    assert parse_window("") is None
    at = lambda h, m=0: dt.datetime(2025, 3, 14, h, m, tzinfo=BERLIN).astimezone(UTC)  # noqa: E731
    assert in_window(at(7), day, BERLIN) and not in_window(at(22), day, BERLIN) and not in_window(at(3), day, BERLIN)
    assert in_window(at(23), night, BERLIN) and in_window(at(5, 59), night, BERLIN)
    assert not in_window(at(12), night, BERLIN)
    assert next_opening(at(23), day, BERLIN) == dt.datetime(2025, 3, 15, 7, 0, tzinfo=BERLIN).astimezone(UTC)
    assert next_opening(at(3), day, BERLIN) == dt.datetime(2025, 3, 14, 7, 0, tzinfo=BERLIN).astimezone(UTC)
    for bad in ("7-22", "07:00", "07:00-07:00", "25:00-26:00"):
        with pytest.raises(ValueError):
            parse_window(bad)


def test_a_bad_window_in_the_config_is_a_clear_error(make_config):
    path = make_config('\n[editions.en.channels.telegram]\nchat_id = "@x"\nposting_window = "7-22"\n'
                       .replace("[editions.en.channels.telegram]", "[editions.ru.channels.telegram]"))
    with pytest.raises(ConfigurationError, match=r"\[editions.ru.channels.telegram\] posting window '7-22'"):
        load_settings(path)



NIGHT = dt.datetime(2025, 3, 14, 2, 0, tzinfo=UTC)  # 03:00 in Berlin


def test_outside_the_window_a_post_waits_for_it_to_open(sb_settings, store, control, clock):
    clock.now = NIGHT
    settings = with_channel(sb_settings, "de.telegram", posting_window="07:00-22:00")
    ingest(settings, store, now=clock())
    report = drain(settings, store, clock)
    de_tg = [d for d in store.deliveries() if d.channel == "de.telegram"]
    assert {d.status for d in de_tg} == {"pending"}
    opening = dt.datetime(2025, 3, 14, 7, 0, tzinfo=BERLIN).astimezone(UTC)
    assert {d.next_attempt_at for d in de_tg} == {opening}
    assert {d.reason for d in de_tg} == {"waits for the posting window 07:00-22:00"}
    assert not [o for o in report.outcomes if o.channel == "de.telegram" and o.status == "sent"]
    assert store.deliveries(status="sent")  # other channels were not held back
    clock.now = opening
    drain(settings, store, clock)
    assert {d.status for d in store.deliveries() if d.channel == "de.telegram"} == {"sent"}


def test_silent_outside_the_window_goes_out_without_notification(sb_settings, store, control, clock):
    clock.now = NIGHT
    settings = with_channel(sb_settings, "de.telegram", posting_window="07:00-22:00", silent_outside_window=True)
    ingest(settings, store, now=clock())
    drain(settings, store, clock)
    de_tg = [d for d in store.deliveries() if d.channel == "de.telegram"]
    assert {d.status for d in de_tg} == {"sent"}
    assert all("sent silently" in d.reason for d in de_tg)
    calls = [r for r in sent(control, "telegram") if r["body"].get("chat_id") == "@novastan_de"
             and r["path"].endswith(("sendMessage", "sendPhoto"))]
    assert calls and {r["body"]["disable_notification"] for r in calls} == {"true"}


def test_spacing_spreads_a_burst_oldest_first(sb_settings, store, control, clock, articles_dir):
    for i, day in enumerate((3, 1, 2)):  # written out of order
        (articles_dir / f"burst-{i}.md").write_text(
            f"---\ntitle: Meldung {day}\nlanguage: de\nurl: https://novastan.org/de/m{day}/\n"
            f"published: 2025-03-0{day}T08:00:00+00:00\nchannels: [telegram]\n---\n\nKurze Meldung Nummer {day}.\n",
            encoding="utf-8")
    settings = with_channel(sb_settings, "de.telegram", spacing_minutes=30)
    ingest(settings, store, now=clock())
    drain(settings, store, clock, max_wait=4 * 3600)
    rows = [d for d in store.deliveries() if d.channel == "de.telegram"]
    assert {d.status for d in rows} == {"sent"}
    posts = [(store.outbox.attempts(d.id)[-1].started_at, store.get_article(d.article_id).article)
             for d in rows]
    posts.sort(key=lambda p: p[0])
    gaps = [(b[0] - a[0]).total_seconds() for a, b in zip(posts, posts[1:])]
    assert all(g >= 30 * 60 for g in gaps), gaps
    ordered = [a.published for _, a in posts if a.title.startswith("Meldung")]
    assert ordered == sorted(ordered)  # oldest first
