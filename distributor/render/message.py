"""What the render layer hands to a sender (and to `distributor preview`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TOKEN_SLOT = "{token}"  # filled per recipient at send time (channels/newsletter.py: a SendGrid substitution)


@dataclass(frozen=True)
class RenderedMessage:
    channel: str  # "telegram" | "twitter" | "newsletter"
    text: str  # Telegram: the HTML to send; X: the (first) post; newsletter: the plain-text part
    length: int  # counted as the platform counts
    limit: int
    language: str = ""
    truncated: bool = False
    warnings: tuple[str, ...] = ()
    # Newsletter (an email)
    html: str | None = None
    subject: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Telegram
    parse_mode: str | None = None
    photo: str | None = None  # send as sendPhoto with `text` as caption
    link_preview: dict[str, Any] | None = None  # Bot API LinkPreviewOptions
    # X: every post of a thread, in order (parts[0] == text); () when single
    parts: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The shape `distributor preview --json` prints."""
        out: dict[str, Any] = {"channel": self.channel, "text": self.text}
        if self.channel == "newsletter":
            out["html"] = self.html
            out["subject"] = self.subject
            out["headers"] = dict(self.headers)
        out.update(
            length=self.length,
            limit=self.limit,
            truncated=self.truncated,
            warnings=list(self.warnings),
            language=self.language,
        )
        if self.channel == "telegram":
            out.update(parse_mode=self.parse_mode, photo=self.photo, link_preview=self.link_preview)
        if self.channel == "twitter":
            out["parts"] = list(self.parts) if self.parts else [self.text]
        return out
