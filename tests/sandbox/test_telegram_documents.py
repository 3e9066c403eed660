"""The Telegram emulator's sendDocument and a user writing in a group the
bot is in (what the editors' bot needs), driven by python-telegram-bot."""

import pytest
import telegram
from telegram.error import BadRequest

from distributor.sandbox.accounts import channel_chat_id
from distributor.sandbox.clients import telegram_bot

from sandbox_helpers import run

CHAT = "@novastan_de"


def test_send_document_is_stored_and_served(sandbox, control):
    async def go():
        async with telegram_bot(sandbox.url) as bot:
            msg = await bot.send_document(CHAT, telegram.InputFile(b"<html>issue</html>", filename="issue.html"),
                                          caption="<b>Newsletter</b>", parse_mode="HTML")
            with pytest.raises(BadRequest, match="(?i)file must be non-empty"):
                await bot.send_document(CHAT, telegram.InputFile(b"", filename="empty.txt"))
            with pytest.raises(BadRequest, match="(?i)wrong file identifier"):
                await bot.send_document(CHAT, "no-such-file-id")
            again = await bot.send_document(CHAT, msg.document.file_id)  # by its file id
            return msg, again
    msg, again = run(go())
    assert msg.document.file_name == "issue.html" and msg.document.file_size == len(b"<html>issue</html>")
    assert msg.caption == "Newsletter" and msg.caption_entities[0].type == "bold"
    assert again.document.file_id == msg.document.file_id
    assert control.get(f"/_sandbox/files/{msg.document.file_id}").content == b"<html>issue</html>"
    assert "issue.html" in control.get("/_sandbox/").text


def test_a_user_writes_in_a_chat_the_bot_is_in_and_nowhere_else(sandbox, control):
    r = control.post("/_sandbox/telegram/updates", json={"bot": "@sandbox_de_bot", "text": "/status", "chat_id": CHAT,
                                                         "from": {"id": 4711, "first_name": "Anna"}})
    assert r.status_code == 201
    message = r.json()["update"]["message"]
    assert message["chat"]["id"] == channel_chat_id("novastan_de") and message["from"]["id"] == 4711
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 7}]
    r = control.post("/_sandbox/telegram/updates", json={"bot": "@sandbox_de_bot", "text": "hi",
                                                         "chat_id": "@novastan_fr", "from": {"id": 4711}})
    assert r.status_code == 400 and "the bot is in no group" in r.json()["error"]
