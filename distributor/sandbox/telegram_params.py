"""Request parameters and errors of the Telegram emulator.

`TgError` and the Bot API error envelope (`error_body`, `fault_response`),
the per-bot update state (`BotState`), and the readers that turn raw
parameters into checked values: numbers, flags, JSON objects, reply markup
and parsed message text or captions (parse_mode / entities, length limits).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, overload

from starlette.responses import Response

from distributor.render.telegram_html import EntityParseError, ParsedText, entities_from_json, parse_html, plain
from distributor.sandbox.faults import Fault
from distributor.sandbox.http import json_response

MAX_TEXT = 4096
MAX_CAPTION = 1024
FAULT_DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class TgError(Exception):
    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters


def bad(description: str) -> TgError:
    return TgError(400, f"Bad Request: {description}")


def error_body(status: int, description: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return body


def fault_response(fault: Fault) -> Response:
    status = fault.status or 500
    params = None
    if fault.retry_after is not None:
        params = {"retry_after": fault.retry_after}
    if status == 429:
        description = f"Too Many Requests: retry after {fault.retry_after}"
    else:
        description = FAULT_DESCRIPTIONS.get(status, "Internal Server Error")
    return json_response(error_body(status, fault.description or description, params), status)


@dataclass
class BotState:
    updates: list[dict[str, Any]] = field(default_factory=list)
    next_update_id: int = 1
    confirmed: int = 0  # every update_id below this is gone
    webhook: dict[str, Any] | None = None
    allowed_updates: list[str] | None = None
    arrived: asyncio.Event | None = None
    poll_generation: int = 0


# ------------------------------------------------------------------ params


@overload
def _int(params: dict[str, Any], name: str, *, default: int) -> int: ...
@overload
def _int(params: dict[str, Any], name: str, *, default: None = None) -> int | None: ...
def _int(params: dict[str, Any], name: str, *, default: int | None = None) -> int | None:
    v = params.get(name)
    if v is None or v == "":
        return default
    if isinstance(v, bool):
        raise bad(f"{name} is invalid")
    try:
        return int(v)
    except (TypeError, ValueError):
        raise bad(f"invalid {name} specified") from None


def _bool(params: dict[str, Any], name: str) -> bool:
    v = params.get(name)
    if isinstance(v, bool):
        return v
    return str(v).lower() in ("true", "1") if v is not None else False


def _obj(params: dict[str, Any], name: str, what: str) -> Any:
    v = params.get(name)
    if v is None or v == "":
        return None
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except ValueError:
            raise bad(f"can't parse {what} JSON object") from None
    return v


def _reply_markup(params: dict[str, Any]) -> dict[str, Any] | None:
    markup = _obj(params, "reply_markup", "reply keyboard markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad("can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is not None:
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays")
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise bad("BUTTON_DATA_INVALID")
                if not any(k in button for k in ("url", "callback_data", "switch_inline_query", "login_url",
                                                 "web_app", "pay", "copy_text", "callback_game",
                                                 "switch_inline_query_current_chat",
                                                 "switch_inline_query_chosen_chat")):
                    raise bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
    return markup


def parse_text(text: str, params: dict[str, Any], *, prefix: str = "") -> ParsedText:
    """Apply parse_mode / entities to a text or caption (prefix "caption_")."""
    mode = params.get("parse_mode") or ""
    explicit = _obj(params, f"{prefix}entities", "entities")
    try:
        if mode:
            if mode.lower() == "html":
                return parse_html(text)
            if mode.lower() in ("markdownv2", "markdown"):
                from distributor.sandbox.telegram_markdown import parse_markdown_v2

                return parse_markdown_v2(text) if mode.lower() == "markdownv2" else parse_markdown_v2(text, legacy=True)
            raise bad("unsupported parse_mode")
        if explicit is not None:
            return entities_from_json(explicit, text)
        return plain(text)
    except EntityParseError as exc:
        raise bad(f"can't parse entities: {exc}") from None


def message_text(params: dict[str, Any]) -> ParsedText:
    """The `text` of sendMessage / editMessageText, parsed and checked (1..4096)."""
    text = params.get("text")
    if not isinstance(text, str) or not text:
        raise bad("message text is empty")
    parsed = parse_text(text, params)
    if parsed.length == 0:
        raise bad("message text is empty")
    if parsed.length > MAX_TEXT:
        raise bad("message is too long")
    return parsed


def message_caption(params: dict[str, Any]) -> ParsedText:
    """The optional `caption` of sendPhoto / editMessageCaption, parsed and checked (..1024)."""
    caption = params.get("caption") or ""
    parsed = parse_text(caption, params, prefix="caption_") if caption else ParsedText("")
    if parsed.length > MAX_CAPTION:
        raise bad("message caption is too long")
    return parsed
