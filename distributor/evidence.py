"""What an attempt records and what editors read of a delivery gone wrong:
the attempt's payload (the message and the exact request), a surprise as
evidence, and the reason a held delivery shows."""

from __future__ import annotations

import json
import os
import traceback

from distributor.channels import Request
from distributor.render import RenderedMessage

__all__ = ["surprise", "held_reason", "attempt_payload", "message_from_payload"]


def surprise(exc: BaseException) -> str:
    """An unexpected exception as evidence: its type and message, and where it
    was raised (the traceback's last frame), on one line."""
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip().replace("\n", " ")
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        text += f" (raised in {last.name} at {os.path.basename(last.filename)}:{last.lineno})"
    return text


def held_reason(delivery_id: int, why: str) -> str:
    return (f"outcome unknown: {why}. What was sent is in the attempt log. If it is on the channel, "
            f"`distributor cancel {delivery_id}`; if not, `distributor release {delivery_id}`.")


def attempt_payload(message: RenderedMessage, request: Request) -> str:
    """An attempt's record: the rendered message (what recovery compares with
    the account's posts, what editors read) and, under "request", the exact
    request the channel's payload builder made."""
    return json.dumps({**message.to_json(), "request": request.to_json()}, ensure_ascii=False)


def message_from_payload(payload: str | None) -> RenderedMessage | None:
    if not payload:
        return None
    data = json.loads(payload)
    parts = tuple(data.get("parts") or ())
    return RenderedMessage(channel=data["channel"], text=data["text"], length=data.get("length", 0),
                           limit=data.get("limit", 0), parts=parts if len(parts) > 1 else ())
