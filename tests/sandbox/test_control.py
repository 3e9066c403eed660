"""Accounts from the config, inspection and control routes, the HTML page, the CLI."""

import httpx
import pytest
from click.testing import CliRunner

from distributor.cli import cli
from distributor.config import settings_from_dict
from distributor.render.telegram_html import parse_html
from distributor.sandbox.accounts import accounts_from_settings, channel_chat_id
from distributor.sandbox.clients import sendgrid_client, telegram_bot, x_client
from distributor.sandbox.credentials import sandbox_secret
from distributor.sandbox.page import entities_to_html
from support import DEFAULT_CONFIG, default_settings
from sandbox_helpers import png, run


def test_default_accounts_match_the_default_channels():
    settings = default_settings()
    acc = accounts_from_settings(settings)
    for code, edition in settings.editions.items():
        ch = edition.channels
        bot = acc.bots[sandbox_secret(code, "telegram", "token")]
        chat = acc.chat(ch.telegram.chat_id)
        assert chat.id in bot.admin_of and chat.id == channel_chat_id(ch.telegram.chat_id.lstrip("@"))
        assert acc.chat(str(chat.id)) is chat and acc.chat(chat.id) is chat
        key = acc.sendgrid[sandbox_secret(code, "newsletter", "api_key")]
        assert ch.newsletter.from_email in key.senders
        if ch.twitter is not None:
            account = acc.x_by_token[sandbox_secret(code, "twitter", "access_token")]
            assert account.consumer_key == sandbox_secret(code, "twitter", "consumer_key")
            assert acc.x_consumers[account.consumer_key] == sandbox_secret(code, "twitter", "consumer_secret")
    assert acc.chat("@sandbox_foreign") is not None
    assert not any(acc.chat("@sandbox_foreign").id in b.admin_of for b in acc.bots.values())


def test_live_channels_get_no_sandbox_account_and_extra_accounts_are_added():
    raw = {
        "editions": {"de": {"channels": {
            "telegram": {"chat_id": "@live_de", "mode": "live"},
            "newsletter": {"from_email": "a@example.org", "mode": "sandbox"},
        }}},
        "sandbox": {
            "telegram_bots": [{"token": "42:" + "A" * 35, "username": "extra_bot", "chats": ["@extra", "-1001"]}],
            "x_accounts": [{"consumer_key": "ck", "consumer_secret": "cs", "access_token": "at",
                            "access_token_secret": "ats", "username": "extra"}],
            "sendgrid_keys": [{"api_key": "SG.extra", "senders": ["b@example.org"]}],
            "foreign_chats": [],
        },
    }
    acc = accounts_from_settings(settings_from_dict(raw, path=DEFAULT_CONFIG))
    assert sandbox_secret("de", "telegram", "token") not in acc.bots
    assert acc.chat("@live_de") is None
    assert acc.bots["42:" + "A" * 35].admin_of == {acc.chat("@extra").id, -1001}
    assert acc.x_by_token["at"].username == "extra"
    assert acc.sendgrid["SG.extra"].senders == {"b@example.org"}
    assert acc.sendgrid[sandbox_secret("de", "newsletter", "api_key")].senders == {"a@example.org"}


def test_accounts_route_masks_secrets_unless_asked(sandbox, control):
    masked = control.get("/_sandbox/accounts").json()
    token = sandbox_secret("de", "telegram", "token")
    assert token not in str(masked)
    assert {b["username"] for b in masked["telegram"]} == {"sandbox_de_bot", "sandbox_fr_bot", "sandbox_en_bot"}
    assert masked["sendgrid_event_webhook"]["public_key"]
    assert token in str(control.get("/_sandbox/accounts", params={"reveal": 1}).json())


def test_requests_log_filter_and_clear(sandbox, control):
    async def tg():
        async with telegram_bot(sandbox.url) as bot:
            await bot.send_message("@novastan_de", "eins")
            try:
                await bot.send_message("@novastan_de", "<p>refused</p>", parse_mode="HTML")
            except Exception:
                pass
    run(tg())
    x_client(sandbox.url).create_tweet(text="zwei")
    sendgrid_client(sandbox.url).client.mail.send.post(request_body={
        "from": {"email": "newsletter@novastan.example"}, "subject": "drei",
        "personalizations": [{"to": [{"email": "a@example.org"}]}],
        "content": [{"type": "text/plain", "value": "x"}]})
    everything = control.get("/_sandbox/requests").json()["requests"]
    assert [r["service"] for r in everything] == ["telegram", "telegram", "x", "sendgrid"]
    assert [r["seq"] for r in everything] == sorted(r["seq"] for r in everything)
    assert all(isinstance(r["time"], float) for r in everything)
    with_refused = control.get("/_sandbox/requests", params={"service": "telegram", "all": 1}).json()["requests"]
    assert [r["accepted"] for r in with_refused] == [True, True, False]
    assert "Unsupported start tag" in with_refused[-1]["error"]
    assert control.get("/_sandbox/requests", params={"service": "bogus"}).status_code == 400
    assert control.delete("/_sandbox/requests").json() == {"deleted": True}
    assert control.get("/_sandbox/requests").json()["count"] == 0


@pytest.mark.parametrize("fault", [
    {"service": "fax", "status": 500}, {"service": "x"}, {"service": "x", "status": 200},
    {"service": "x", "status": 500, "times": 0}, {"service": "x", "status": 500, "colour": "red"},
])
def test_faults_are_validated(sandbox, control, fault):
    r = control.post("/_sandbox/faults", json=fault)
    assert r.status_code == 400 and r.json()["error"]


def test_faults_list_and_clear(sandbox, control):
    assert control.post("/_sandbox/faults", json=[{"service": "x", "status": 500, "times": 3},
                                                  {"service": "telegram", "delay_ms": 10}]).status_code == 201
    pending = control.get("/_sandbox/faults").json()["pending"]
    assert [(f["service"], f["times"]) for f in pending] == [("x", 3), ("telegram", 1)]
    assert control.delete("/_sandbox/faults").json() == {"pending": []}


def test_clock_route(sandbox, control):
    before = control.get("/_sandbox/clock").json()["now"]
    after = control.post("/_sandbox/clock", json={"advance": 3600}).json()["now"]
    assert 3599 < after - before < 3700
    assert control.post("/_sandbox/clock", json={}).status_code == 400


def test_a_chat_can_be_given_a_past_its_next_message_id_follows(sandbox, control):
    async def post() -> int:
        async with telegram_bot(sandbox.url) as bot:
            return (await bot.send_message("@novastan_de", "Hallo")).message_id
    assert run(post()) == 1
    r = control.post("/_sandbox/telegram/history", json={"chat": "@novastan_de", "last": 5000})
    assert r.status_code == 201 and r.json()["next_message_id"] == 5001
    assert run(post()) == 5001
    # Never back over ids given out; nonsense refused with what to give.
    for bad in ({"chat": "@novastan_de", "last": 10}, {"chat": "@nobody", "last": 1},
                {"chat": "@novastan_de", "last": -1}, {"chat": "@novastan_de", "last": "7"}, {"chat": "@novastan_de"}):
        r = control.post("/_sandbox/telegram/history", json=bad)
        assert r.status_code == 400 and "last" in r.json()["error"], bad
    assert run(post()) == 5002


def test_update_injection_errors(sandbox, control):
    assert control.post("/_sandbox/telegram/updates", json={"bot": "nobody", "text": "x"}).status_code == 400
    assert control.post("/_sandbox/telegram/updates", json={"bot": "sandbox_de_bot"}).status_code == 400
    r = control.post("/_sandbox/telegram/updates", json={"bot": "sandbox_de_bot", "callback_data": "x",
                                                         "chat_id": "@novastan_de", "message_id": 999})
    assert r.status_code == 400


def test_page_shows_what_followers_and_subscribers_see(sandbox, control):
    async def tg():
        async with telegram_bot(sandbox.url) as bot:
            await bot.send_message("@novastan_de", "<b>Fett</b> &amp; <i>kursiv</i>", parse_mode="HTML")
            await bot.send_photo("@novastan_de", png(10, 10), caption="Bildunterschrift")
    run(tg())
    x_client(sandbox.url).create_tweet(text="Ein Tweet <mit> Zeichen")
    sendgrid_client(sandbox.url).client.mail.send.post(request_body={
        "from": {"email": "newsletter@novastan.example", "name": "Novastan"}, "subject": "Wochenrückblick",
        "personalizations": [{"to": [{"email": "leserin@example.org"}]}],
        "content": [{"type": "text/plain", "value": "x"}, {"type": "text/html", "value": "<h1>Hallo</h1>"}]})
    page = control.get("/_sandbox/").text
    assert "<b>Fett</b> &amp; <i>kursiv</i>" in page
    assert "Bildunterschrift" in page and "/_sandbox/files/" in page
    assert "Ein Tweet &lt;mit&gt; Zeichen" in page
    assert "Wochenrückblick" in page and "srcdoc=\"&lt;h1&gt;Hallo&lt;/h1&gt;\"" in page
    file_url = page.split('src="', 1)[1].split('"', 1)[0]
    assert control.get(file_url).headers["content-type"] == "image/png"


def test_entities_to_html_round_trip():
    source = "<b>a <i>b</i></b> c 😀 <a href=\"https://x.org\">d</a>"
    parsed = parse_html(source)
    assert entities_to_html(parsed.text, parsed.entities) == source


def test_cli_sandbox_command_is_registered():
    result = CliRunner().invoke(cli, ["sandbox", "--help"])
    assert result.exit_code == 0 and "--port" in result.output


def test_reset_forgets_everything(sandbox, control):
    x_client(sandbox.url).create_tweet(text="vergessen")
    assert control.post("/_sandbox/reset").json() == {"reset": True}
    assert control.get("/_sandbox/requests").json()["count"] == 0
    assert x_client(sandbox.url).create_tweet(text="vergessen").data  # no duplicate after a reset
    assert httpx.get(f"{sandbox.url}/_sandbox/ping", trust_env=False).text == "ok"
