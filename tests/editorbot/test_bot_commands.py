"""The editors' commands in the chat (issue 14 item 2), with the real
python-telegram-bot against the sandbox over HTTP: each command from an
editor does what the CLI's action does, with the actor "telegram:<user id>"
in the audit; bad arguments get the usage line; anyone else gets one short
refusal, recorded, and nothing happens."""

from __future__ import annotations

import asyncio

from bot_helpers import ANNA, BERT, GROUP, STRANGER, running, wait_for
from distributor.editorbot.texts import REFUSAL, USAGE
from distributor.ingest.pipeline import ingest
from distributor.render import render_article
from distributor.store import Store
from distributor.store.audit import Audit
from distributor.store.outbox import DeliveryStatus

S = DeliveryStatus
SEED = "de-kasachstan-china-ukraine.txt"
FR = "fr-ouzbekistan-coton-travail-force.txt"


def article(store, key: str):
    return next(a for a in store.list_articles() if a.key == key)


def delivery(store, article_id: int, channel: str):
    return [d for d in store.deliveries(article_id=article_id) if d.channel == channel][-1]


async def reply(harness, text: str, uid: int = ANNA, *, n: int = 1, in_group: bool = False) -> list[str]:
    """Say `text` and wait for `n` new replies in that chat (in the group: not
    the approval messages, which the watcher may post meanwhile)."""
    chat = GROUP if in_group else uid

    def texts() -> list[str]:
        return [c["body"]["text"] for c in harness.calls("sendMessage", chat=chat) if "reply_markup" not in c["body"]]

    before = len(texts())
    harness.say(text, uid, in_group=in_group)
    return await wait_for(lambda: (lambda r: r[before:] if len(r) >= before + n else None)(texts()),
                          message=f"a reply to {text}")


def test_every_command_from_a_stranger_gets_one_refusal_and_nothing_happens(bot_settings, harness, clock):
    commands = ["/latest", "/preview {a} telegram", "/send {a} telegram", "/skip {a} twitter", "/hold {f} telegram",
                "/release {f} telegram", "/status", "/digest de", "/resume de.telegram", "/help"]

    async def go():
        with Store.open(bot_settings) as store:
            ingest(bot_settings, store, now=clock())
            a, f = article(store, SEED).id, article(store, FR).id
            before = [(d.id, d.status) for d in store.deliveries()]
            store.outbox.update_channel("de.telegram", paused=True, paused_reason="test", now=clock())
            async with running(bot_settings, store):
                for c in commands:
                    harness.say(c.format(a=a, f=f), STRANGER)
                await wait_for(lambda: len(harness.replies(STRANGER)) >= len(commands), message="the refusals")
                await asyncio.sleep(0.3)  # nothing more comes
                assert harness.replies(STRANGER) == [REFUSAL] * len(commands)
            assert [(d.id, d.status) for d in store.deliveries()] == before
            assert store.outbox.channel("de.telegram").paused
            refused = Audit(store.engine).history(actor=f"telegram:{STRANGER}")
            assert sorted(e.action for e in refused) == sorted(c.split()[0][1:] for c in commands)
            assert {e.outcome for e in refused} == {"refused"}
            assert harness.calls("sendDocument") == [] and harness.channel_posts() == []

    asyncio.run(go())


def test_latest_status_preview_and_bad_arguments(bot_settings, harness, clock):
    async def go():
        with Store.open(bot_settings) as store:
            ingest(bot_settings, store, now=clock())
            seed = article(store, SEED)
            async with running(bot_settings, store):
                (latest,) = await reply(harness, "/latest")
                assert f"<b>{seed.id}</b> [de]" in latest and "telegram awaiting approval" in latest
                (status,) = await reply(harness, "/status", BERT)
                assert "deliveries:" in status and "awaiting approval" in status
                (group,) = await reply(harness, "/status@sandbox_editors_bot", ANNA, in_group=True)
                assert "deliveries:" in group  # in the editors' group too
                harness.say("/status@another_bot", ANNA, in_group=True)  # meant for another bot: not answered
                (group,) = await reply(harness, "/latest", ANNA, in_group=True)
                assert "[de]" in group
                got = await reply(harness, f"/preview {seed.id} telegram", n=3)
                rendered = render_article(bot_settings, seed.article, "telegram")
                assert got[2] == rendered.text  # the variant exactly as the channel sends it
                assert harness.calls("sendMessage", chat=ANNA)[-1]["body"]["parse_mode"] == "HTML"
                await reply(harness, f"/preview {seed.id} newsletter")
                doc = await wait_for(lambda: harness.calls("sendDocument"), message="the email as a file")
                assert doc[0]["result"]["document"]["file_name"] == f"article-{seed.id}-de.html"
                assert doc[0]["result"]["document"]["mime_type"] == "text/html" or doc[0]["result"]["document"]
                for bad, command in (("/preview", "preview"), ("/preview x telegram", "preview"),
                                     (f"/send {seed.id}", "send"), ("/skip", "skip"), ("/hold 1 2 3", "hold"),
                                     ("/resume", "resume"), ("/digest de fr", "digest")):
                    (text,) = await reply(harness, bad)
                    assert USAGE[command] in text, (bad, text)
                (text,) = await reply(harness, f"/send {seed.id} newsletter")
                assert "CHANNEL is one of telegram, twitter" in text
                (text,) = await reply(harness, "/preview 999999 telegram")
                assert text == "Refused: no article with id 999999"
                (text,) = await reply(harness, "/frobnicate")
                assert "No command /frobnicate" in text and USAGE["latest"] in text

    asyncio.run(go())


def test_send_skip_hold_release_resume_go_through_the_actions(bot_settings, harness, clock):
    async def go():
        with Store.open(bot_settings) as store:
            ingest(bot_settings, store, now=clock())
            seed, fr = article(store, SEED), article(store, FR)
            async with running(bot_settings, store):
                (text,) = await reply(harness, f"/send {seed.id} telegram")
                assert "de.telegram: sent" in text
                assert len(harness.channel_posts()) == 1  # the channel received it
                (text,) = await reply(harness, f"/send {seed.id} telegram", BERT)
                assert text.startswith(f"Refused: article {seed.id} is already sent to de.telegram")
                (text,) = await reply(harness, f"/skip {seed.id} de.twitter not for X this week")
                assert delivery(store, seed.id, "de.twitter").status == S.CANCELLED
                assert "not for X this week" in delivery(store, seed.id, "de.twitter").reason
                (text,) = await reply(harness, f"/hold {fr.id} telegram")
                assert delivery(store, fr.id, "fr.telegram").status == S.HELD and "held" in text
                (text,) = await reply(harness, f"/hold {fr.id} fr.telegram")
                assert text.startswith("Refused:")  # held already: the transition table refuses
                (text,) = await reply(harness, f"/release {fr.id} telegram", BERT)
                assert delivery(store, fr.id, "fr.telegram").status == S.PENDING
                (text,) = await reply(harness, f"/skip {fr.id} de.telegram")
                assert text == f"Refused: article {fr.id} is in the fr edition, not de"
                store.outbox.update_channel("en.telegram", paused=True, paused_reason="bot was kicked", now=clock())
                (text,) = await reply(harness, "/resume en.telegram")
                assert "en.telegram: resumed (was paused: bot was kicked)" in text
                assert not store.outbox.channel("en.telegram").paused
                (text,) = await reply(harness, "/resume xx.telegram")
                assert text.startswith("Refused: no channel 'xx.telegram'")
            history = Audit(store.engine).history()
            by_anna = [(e.action, e.outcome) for e in history if e.actor == f"telegram:{ANNA}"]
            assert ("send", "sent") in by_anna and ("skip", "cancelled") in by_anna
            assert ("hold", "held") in by_anna and ("resume", "resumed") in by_anna
            assert ("hold", "refused") in by_anna
            assert ("release", "pending") in [(e.action, e.outcome) for e in history if e.actor == f"telegram:{BERT}"]

    asyncio.run(go())


def test_digest_tells_the_next_issue_and_sends_a_test_copy_to_the_editors_own_address(bot_settings, harness,
                                                                                        clock):
    async def go():
        with Store.open(bot_settings) as store:
            ingest(bot_settings, store, now=clock())
            async with running(bot_settings, store):
                (text,) = await reply(harness, "/digest de")
                assert "article(s)" in text and "0 recipient(s)" in text
                assert "a test copy went to anna@novastan.example" in text
                (text,) = await reply(harness, "/digest", BERT)  # every edition; Bert has no address
                assert "<b>fr</b>" in text or "fr: next issue" in text
                assert "No address of yours" in text
                (text,) = await reply(harness, "/digest xx")
                assert text.startswith("Refused:") and "edition 'xx' has no newsletter channel" in text
            mail = [r for r in harness.http.get("/_sandbox/requests", params={"service": "sendgrid"}).json()["requests"]
                    if r["path"].endswith("/mail/send")]
            assert len(mail) == 1
            assert "anna@novastan.example" in str(mail[0]["body"])
            tests = [e for e in Audit(store.engine).history(actor=f"telegram:{ANNA}") if e.action == "digest_test"]
            assert [e.outcome for e in tests] == ["sent"]

    asyncio.run(go())
