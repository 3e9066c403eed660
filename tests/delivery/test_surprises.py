"""One delivery never stops the others (issue 9, defect 4): a surprise from a
channel, or from the post search that settles an unknown outcome, holds that
delivery with the evidence, and the loop goes on."""

from __future__ import annotations

import socket

import pytest

from distributor.ingest.pipeline import ingest

from support import drain, sent, with_channel

# A pid no process has (above any pid_max): the claimer of the stuck row is gone.
DEAD = f"{socket.gethostname()}:999999999:deadbeef"


@pytest.fixture
def ingested(sb_settings, store, clock):
    ingest(sb_settings, store, now=clock())
    return store


def broken_x(settings):
    # requests refuses a negative timeout with a ValueError: no DeliveryError.
    return with_channel(settings, "de.twitter", timeout_seconds=-1)


def social(store):
    return [d for d in store.deliveries() if d.kind in ("telegram", "twitter") and d.status != "skipped"]


def test_a_surprise_from_a_channel_holds_that_delivery_and_the_others_go_on(sb_settings, ingested, clock,
                                                                            control):
    store = ingested
    report = drain(broken_x(sb_settings), store, clock)
    rows = social(store)
    de_x = [d for d in rows if d.channel == "de.twitter"]
    assert de_x and {d.status for d in de_x} == {"held"}
    for d in de_x:
        # The evidence: the exception, where it was raised, and that the search failed too.
        assert "unexpected ValueError" in d.reason and "raised in" in d.reason
        assert "looking for the post failed" in d.reason
        assert f"distributor release {d.id}" in d.reason
    assert {d.status for d in rows if d.channel != "de.twitter"} == {"sent"}
    assert report.count("held") == len(de_x)
    assert len(sent(control, "x", "/2/tweets")) == sum(d.kind == "twitter" and d.status == "sent" for d in rows)


def test_a_stuck_sending_row_whose_search_raises_is_held_and_every_drain_goes_on(sb_settings, ingested, clock,
                                                                                control):
    store = ingested
    stuck = next(d for d in social(store) if d.channel == "de.twitter")
    assert store.outbox.claim(stuck.id, worker=DEAD, payload='{"channel": "twitter", "text": "Hallo"}',
                              now=clock()) is not None
    settings = broken_x(sb_settings)
    report = drain(settings, store, clock)
    assert [(o.delivery_id, o.status) for o in report.recovered] == [(stuck.id, "held")]
    row = store.outbox.get(stuck.id)
    assert row.status == "held" and "stopped while sending" in row.reason
    assert "looking for the post failed: unexpected ValueError" in row.reason
    assert {d.status for d in social(store) if not d.channel.startswith("de.twitter")} == {"sent"}
    # A second drain has nothing left to trip over.
    again = drain(settings, store, clock)
    assert again.recovered == [] and store.outbox.sending() == []


def test_a_surprise_before_the_claim_holds_the_delivery_and_the_loop_goes_on(sb_settings, ingested, clock,
                                                                            monkeypatch):
    import distributor.edits as sent_text  # where the dispatcher's render is made (render_sent)

    store = ingested
    real = sent_text.render_article

    def render(settings, article, kind):
        if kind == "twitter":
            raise KeyError("a template bug")
        return real(settings, article, kind)

    monkeypatch.setattr(sent_text, "render_article", render)
    drain(sb_settings, store, clock)
    rows = social(store)
    x = [d for d in rows if d.kind == "twitter"]
    assert x and {d.status for d in x} == {"held"}
    assert all("unexpected KeyError" in d.reason and "nothing was sent" in d.reason for d in x)
    assert {d.status for d in rows if d.kind == "telegram"} == {"sent"}


def test_a_stuck_row_with_unreadable_evidence_is_held_and_recovery_goes_on(sb_settings, ingested, clock):
    store = ingested
    a, b = [d for d in social(store) if d.channel == "de.twitter"][:2]
    store.outbox.claim(a.id, worker=DEAD, payload="{not json", now=clock())
    store.outbox.claim(b.id, worker=DEAD, payload='{"channel": "twitter", "text": "Hallo"}', now=clock())
    report = drain(sb_settings, store, clock)
    assert sorted((o.delivery_id, o.status) for o in report.recovered) == [(a.id, "held"), (b.id, "held")]
    reason = store.outbox.get(a.id).reason
    assert "settling it failed: unexpected" in reason and "JSONDecodeError" in reason
    assert store.outbox.sending() == []


def test_a_surprise_while_editing_a_corrected_post_is_recorded_and_the_drain_goes_on(
        sb_settings, ingested, clock, articles_dir, monkeypatch):
    from distributor.channels.telegram import TelegramChannel

    store = ingested
    drain(sb_settings, store, clock)
    path = articles_dir / "de-kasachstan-china-ukraine.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("12-Punkte-Plan", "Zwölf-Punkte-Plan", 1),
                    encoding="utf-8")
    ingest(sb_settings, store, now=clock())

    async def edit(self, remote_id, message):
        raise RuntimeError("a library bug")

    monkeypatch.setattr(TelegramChannel, "edit", edit)
    report = drain(sb_settings, store, clock)
    (edit,) = [o for o in report.corrected if o.channel == "de.telegram"]
    assert edit.status == "edit_failed" and "unexpected RuntimeError: a library bug" in edit.detail
    assert drain(sb_settings, store, clock).corrected == []  # recorded once, not retried on every drain
