"""The Telegram emulator, driven by python-telegram-bot over HTTP."""

import asyncio

import httpx
import pytest
import telegram
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from distributor.sandbox.accounts import channel_chat_id
from distributor.sandbox.clients import telegram_bot
from distributor.sandbox.credentials import sandbox_secret

from sandbox_helpers import png, run

CHAT = "@novastan_de"


def send(sandbox, *args, edition="de", **kwargs):
    async def go():
        async with telegram_bot(sandbox.url, edition) as bot:
            return await bot.send_message(*args, **kwargs)
    return run(go())


def test_get_me_and_send_html(sandbox, control):
    async def go():
        async with telegram_bot(sandbox.url) as bot:
            assert bot.username == "sandbox_de_bot"
            return await bot.send_message(CHAT, "<b>Neu</b> &amp; lesenswert: <a href=\"https://novastan.org/de/x\">"
                                                "Artikel</a>", parse_mode="HTML", disable_notification=True,
                                          link_preview_options=telegram.LinkPreviewOptions(is_disabled=True))
    msg = run(go())
    assert msg.text == "Neu & lesenswert: Artikel"
    assert msg.chat.username == "novastan_de" and msg.chat.type == "channel"
    assert msg.chat.id == channel_chat_id("novastan_de")
    assert [e.type for e in msg.entities] == ["bold", "text_link"]
    logged = control.get("/_sandbox/requests", params={"service": "telegram"}).json()["requests"]
    assert [r["method"] for r in logged] == ["getMe", "sendMessage"]
    body = logged[1]["body"]
    assert body["chat_id"] == CHAT and body["parse_mode"] == "HTML"
    assert body["link_preview_options"] == '{"is_disabled": true}'
    assert sandbox_secret("de", "telegram", "token") not in str(logged)  # tokens are masked


def test_numeric_chat_id_is_the_same_channel(sandbox):
    msg = send(sandbox, channel_chat_id("novastan_de"), "hello")
    assert msg.chat.username == "novastan_de"


def test_unknown_tokens_are_refused_as_telegram_does(sandbox):
    async def go(token):
        async with telegram.Bot(token, base_url=f"{sandbox.url}/telegram/bot"):
            pass
    with pytest.raises(InvalidToken):  # well formed, unknown: 401
        run(go("123456:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
    with pytest.raises(InvalidToken):  # malformed: 404
        run(go("123:nope"))
    r = httpx.post(f"{sandbox.url}/telegram/bot123456:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/getMe", trust_env=False)
    assert r.status_code == 401 and r.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


def test_bad_html_is_refused_with_telegrams_message(sandbox):
    with pytest.raises(BadRequest) as exc:
        send(sandbox, CHAT, "Hallo <div>Welt</div>", parse_mode="HTML")
    assert exc.value.message == "Can't parse entities: unsupported start tag \"div\" at byte offset 6"


def test_text_length_counts_after_parsing(sandbox):
    assert send(sandbox, CHAT, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML").text == "a" * 4096
    assert len(send(sandbox, CHAT, "&amp;" * 4096, parse_mode="HTML").text) == 4096
    with pytest.raises(BadRequest, match="Message is too long"):
        send(sandbox, CHAT, "a" * 4097)
    with pytest.raises(BadRequest, match="Message is too long"):
        send(sandbox, CHAT, "😀" * 2049)  # 4098 UTF-16 units


@pytest.mark.parametrize("text, mode", [("", None), ("   \n", None), ("<b></b>", "HTML")])
def test_empty_text(sandbox, text, mode):
    with pytest.raises(BadRequest, match="Message text is empty"):
        send(sandbox, CHAT, text, parse_mode=mode)


def test_unknown_chat_and_chats_the_bot_may_not_post_in(sandbox):
    with pytest.raises(BadRequest, match="Chat not found"):
        send(sandbox, "@no_such_channel", "x")
    with pytest.raises(BadRequest, match="Chat not found"):
        send(sandbox, -1009999999999, "x")
    with pytest.raises(Forbidden, match="bot is not a member of the channel chat"):
        send(sandbox, "@novastan_fr", "x")  # the French edition's channel
    with pytest.raises(Forbidden, match="bot is not a member of the channel chat"):
        send(sandbox, "@sandbox_foreign", "x")
    with pytest.raises(BadRequest, match="Chat not found"):
        send(sandbox, 424242, "x")  # a user the bot has never met


def test_private_chats_follow_the_user(sandbox, control):
    def inject(**data):
        r = control.post("/_sandbox/telegram/updates", json={"bot": "sandbox_de_bot", "from": {"id": 555,
                                                             "first_name": "Ann"}, **data})
        assert r.status_code == 201, r.text
        return r.json()["update"]

    inject(text="/start")
    assert send(sandbox, 555, "Willkommen").chat.type == "private"
    with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
        send(sandbox, 555, "x", edition="fr")  # a bot the user never wrote to
    update = inject(blocked=True)
    assert update["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        send(sandbox, 555, "x")
    inject(blocked=False)
    assert send(sandbox, 555, "wieder da").text == "wieder da"


def test_send_photo_upload_url_and_caption_limits(sandbox):
    async def go():
        async with telegram_bot(sandbox.url) as bot:
            up = await bot.send_photo(CHAT, png(40, 30), caption="<i>" + "c" * 1024 + "</i>", parse_mode="HTML")
            assert up.photo[-1].width == 40 and up.photo[-1].height == 30
            assert len(up.caption) == 1024 and up.caption_entities[0].type == "italic"
            again = await bot.send_photo(CHAT, up.photo[-1].file_id)  # a file_id is reusable
            assert again.photo[-1].file_id == up.photo[-1].file_id
            by_url = await bot.send_photo(CHAT, "https://novastan.org/image.jpg", caption="x")
            assert by_url.photo
            with pytest.raises(BadRequest, match="Message caption is too long"):
                await bot.send_photo(CHAT, png(), caption="c" * 1025)
            with pytest.raises(BadRequest, match="Image_process_failed"):
                await bot.send_photo(CHAT, b"not an image at all")
            with pytest.raises(BadRequest, match="Photo_invalid_dimensions"):
                await bot.send_photo(CHAT, png(1, 100))
            with pytest.raises(BadRequest, match="Wrong file identifier/http url specified"):
                await bot.send_photo(CHAT, "no-such-file-id")
    run(go())


def test_edit_and_delete(sandbox):
    async def go():
        async with telegram_bot(sandbox.url) as bot:
            msg = await bot.send_message(CHAT, "first")
            edited = await bot.edit_message_text("<b>second</b>", chat_id=CHAT, message_id=msg.message_id,
                                                 parse_mode="HTML")
            assert edited.text == "second" and edited.edit_date is not None
            with pytest.raises(BadRequest, match="Message is not modified"):
                await bot.edit_message_text("<b>second</b>", chat_id=CHAT, message_id=msg.message_id,
                                            parse_mode="HTML")
            with pytest.raises(BadRequest, match="Message to edit not found"):
                await bot.edit_message_text("x", chat_id=CHAT, message_id=9999)
            with pytest.raises(BadRequest, match="There is no caption in the message to edit"):
                await bot.edit_message_caption(chat_id=CHAT, message_id=msg.message_id, caption="c")
            with pytest.raises(BadRequest, match="Message is too long"):
                await bot.edit_message_text("x" * 4097, chat_id=CHAT, message_id=msg.message_id)
            photo = await bot.send_photo(CHAT, png(), caption="old")
            new = await bot.edit_message_caption(chat_id=CHAT, message_id=photo.message_id, caption="<u>new</u>",
                                                 parse_mode="HTML")
            assert new.caption == "new"
            with pytest.raises(BadRequest, match="There is no text in the message to edit"):
                await bot.edit_message_text("x", chat_id=CHAT, message_id=photo.message_id)
            assert await bot.delete_message(CHAT, msg.message_id) is True
            with pytest.raises(BadRequest, match="Message to delete not found"):
                await bot.delete_message(CHAT, msg.message_id)
    run(go())


def test_flood_control_per_channel(sandbox):
    async def go():
        async with telegram_bot(sandbox.url) as bot:
            for i in range(20):
                await bot.send_message(CHAT, f"post {i}")
            with pytest.raises(RetryAfter) as exc:
                await bot.send_message(CHAT, "one too many")
            assert 1 <= exc.value.retry_after <= 60
            sandbox.clock.advance(61)
            assert (await bot.send_message(CHAT, "after the minute")).text == "after the minute"
    run(go())


def test_flood_control_per_bot(sandbox, control):
    control.post("/_sandbox/telegram/updates", json={"bot": "sandbox_de_bot", "text": "/start",
                                                     "from": {"id": 777, "first_name": "Ann"}})

    async def go():
        async with telegram_bot(sandbox.url) as bot:
            for i in range(30):  # a private chat has no per-minute limit, the bot has 30/s
                await bot.send_message(777, f"hi {i}")
            with pytest.raises(RetryAfter) as exc:
                await bot.send_message(777, "too fast")
            assert exc.value.retry_after == 1
    run(go())


def test_get_updates_offset_limit_and_long_poll(sandbox, control):
    for text in ("one", "two", "three"):
        assert control.post("/_sandbox/telegram/updates",
                            json={"bot": "sandbox_de_bot", "text": text}).status_code == 201

    async def go():
        async with telegram_bot(sandbox.url) as bot:
            first = await bot.get_updates(limit=2)
            assert [u.message.text for u in first] == ["one", "two"]
            rest = await bot.get_updates(offset=first[-1].update_id + 1)
            assert [u.message.text for u in rest] == ["three"]
            assert await bot.get_updates(offset=rest[-1].update_id + 1) == ()

            async def later():
                await asyncio.sleep(0.3)
                await asyncio.to_thread(control.post, "/_sandbox/telegram/updates",
                                        json={"bot": "sandbox_de_bot", "text": "four"})
            loop = asyncio.get_running_loop()
            started = loop.time()
            _, waited = await asyncio.gather(later(), bot.get_updates(offset=rest[-1].update_id + 1, timeout=10))
            assert [u.message.text for u in waited] == ["four"]
            assert loop.time() - started < 5  # answered on arrival, not at the timeout
            assert await bot.get_updates(offset=waited[-1].update_id + 1, timeout=1) == ()  # times out empty
    run(go())


def test_webhook_blocks_get_updates(sandbox):
    async def go():
        async with telegram_bot(sandbox.url) as bot:
            assert await bot.set_webhook("https://bot.example.org/hook", secret_token="s3cret") is True
            info = await bot.get_webhook_info()
            assert info.url == "https://bot.example.org/hook"
            with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
                await bot.get_updates()
            with pytest.raises(BadRequest, match="Bad webhook: webhook can be set up only on ports 80, 88, 443 or 8443"):
                await bot.set_webhook("https://bot.example.org:8080/hook")
            with pytest.raises(BadRequest, match="Bad webhook: an https url must be provided for webhook"):
                await bot.set_webhook("http://bot.example.org/hook")
            with pytest.raises(BadRequest, match="Secret token contains unallowed characters"):
                await bot.set_webhook("https://bot.example.org/hook", secret_token="not allowed!")
            assert await bot.delete_webhook() is True
            assert await bot.get_updates() == ()
    run(go())


def test_button_press_and_answer_callback_query(sandbox, control):
    async def go():
        async with telegram_bot(sandbox.url) as bot:
            markup = InlineKeyboardMarkup([[InlineKeyboardButton("Senden", callback_data="send:42")]])
            msg = await bot.send_message(CHAT, "Freigeben?", reply_markup=markup)
            r = await asyncio.to_thread(control.post, "/_sandbox/telegram/updates", json={
                "bot": "sandbox_de_bot", "callback_data": "send:42", "chat_id": CHAT,
                "message_id": msg.message_id, "from": {"id": 99, "first_name": "Editor"}})
            assert r.status_code == 201
            (update,) = await bot.get_updates()
            query = update.callback_query
            assert query.data == "send:42" and query.from_user.id == 99
            assert query.message.message_id == msg.message_id
            assert await bot.answer_callback_query(query.id, text="Gesendet") is True
            with pytest.raises(BadRequest, match="Query is too old"):
                await bot.answer_callback_query(query.id)
            with pytest.raises(BadRequest, match="Button_data_invalid"):
                await bot.send_message(CHAT, "x", reply_markup=InlineKeyboardMarkup(
                    [[InlineKeyboardButton("x", callback_data="y" * 65)]]))
    run(go())


def test_form_json_get_and_unknown_method(sandbox):
    base = f"{sandbox.url}/telegram/bot{sandbox_secret('de', 'telegram', 'token')}"
    with httpx.Client(trust_env=False) as http:
        r = http.post(f"{base}/sendMessage", json={"chat_id": CHAT, "text": "json body"})
        assert r.json()["ok"] is True and r.json()["result"]["text"] == "json body"
        r = http.post(f"{base}/SENDMESSAGE", data={"chat_id": CHAT, "text": "form body"})  # case-insensitive
        assert r.json()["result"]["text"] == "form body"
        r = http.get(f"{base}/sendMessage", params={"chat_id": CHAT, "text": "query string"})
        assert r.json()["result"]["text"] == "query string"
        r = http.post(f"{base}/sendMessage", files={"photo": ("x", b"x")}, data={"chat_id": CHAT, "text": "multi"})
        assert r.json()["result"]["text"] == "multi"
        r = http.post(f"{base}/noSuchMethod")
        assert r.status_code == 404 and r.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        r = http.post(f"{base}/sendMessage", data={"chat_id": CHAT})
        assert r.status_code == 400 and r.json()["description"] == "Bad Request: message text is empty"


def test_injected_faults_reach_ptb_as_telegram_errors(sandbox, control):
    def fault(**f):
        assert control.post("/_sandbox/faults", json={"service": "telegram", "method": "sendMessage", **f}) \
            .status_code == 201

    fault(status=429, retry_after=7)
    with pytest.raises(RetryAfter) as exc:
        send(sandbox, CHAT, "x")
    assert exc.value.retry_after == 7
    fault(status=502, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError):
            send(sandbox, CHAT, "x")
    fault(status=403)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        send(sandbox, CHAT, "x")
    fault(delay_ms=1500)

    async def slow():
        bot = telegram.Bot(sandbox_secret("de", "telegram", "token"), base_url=f"{sandbox.url}/telegram/bot",
                           request=HTTPXRequest(read_timeout=0.3))
        async with bot:
            await bot.send_message(CHAT, "x")
    with pytest.raises(TimedOut):
        run(slow())
    assert control.get("/_sandbox/faults").json()["pending"] == []
    assert send(sandbox, CHAT, "fine again").text == "fine again"


def test_markdown_v2_and_explicit_entities(sandbox):
    msg = send(sandbox, CHAT, "*Neu* bei Novastan\\!", parse_mode="MarkdownV2")
    assert msg.text == "Neu bei Novastan!" and msg.entities[0].type == "bold"
    with pytest.raises(BadRequest, match="Can't parse entities: character '!' is reserved"):
        send(sandbox, CHAT, "Neu!", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match="Unsupported parse_mode"):
        send(sandbox, CHAT, "x", parse_mode="BBCode")
    msg = send(sandbox, CHAT, "fett", entities=[telegram.MessageEntity("bold", 0, 4)])
    assert msg.entities[0].type == "bold"
    with pytest.raises(BadRequest, match="Can't parse entities"):
        send(sandbox, CHAT, "fett", entities=[telegram.MessageEntity("bold", 2, 4)])
