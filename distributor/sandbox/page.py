"""GET /_sandbox/: what followers and subscribers would see.

Each Telegram post as a chat bubble in its channel (formatting rebuilt from the
entities Telegram would store), each tweet under its account, each email
rendered in a sandboxed frame. Plain HTML, no script.
"""

from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from distributor.sandbox.core import SandboxCore
    from distributor.sandbox.sendgrid import SendGridService
    from distributor.sandbox.telegram import TelegramService
    from distributor.sandbox.x import XService

TAGS = {"bold": "b", "italic": "i", "underline": "u", "strikethrough": "s", "code": "code", "pre": "pre",
        "spoiler": "span class=spoiler", "blockquote": "blockquote", "expandable_blockquote": "blockquote"}

STYLE = """
body{font:15px/1.4 system-ui,sans-serif;margin:0;background:#eef1f4;color:#111}
header{background:#17212b;color:#fff;padding:12px 20px}header a{color:#9cf}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(360px,1fr));gap:16px;padding:16px}
section{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 2px #0002}
h2{font-size:16px;margin:0 0 8px}h3{font-size:14px;margin:12px 0 6px;color:#456}
.chat{background:#d7e3ec;border-radius:6px;padding:8px}
.bubble{background:#fff;border-radius:10px;padding:6px 10px;margin:6px 0;max-width:95%;white-space:pre-wrap;
word-wrap:break-word}.bubble.user{background:#effdde;margin-left:auto}
.meta{color:#789;font-size:12px}.spoiler{background:#ccc;color:#ccc}.buttons button{margin:4px 4px 0 0}
.bubble img{max-width:100%;border-radius:6px;display:block;margin-bottom:4px}
.tweet{border-bottom:1px solid #e6ecf0;padding:8px 0;white-space:pre-wrap}
.mail{border:1px solid #dde;border-radius:6px;margin:8px 0}.mail .head{padding:6px 10px;background:#f6f8fa}
iframe{width:100%;height:360px;border:0;border-top:1px solid #dde}
pre{white-space:pre-wrap}table{border-collapse:collapse}td{padding:2px 8px 2px 0;font-size:13px}
"""


def entities_to_html(text: str, entities: list[dict[str, Any]]) -> str:
    """Telegram text + entities (UTF-16 offsets) back to HTML for display."""
    units = text.encode("utf-16-le")
    opens: dict[int, list[dict[str, Any]]] = {}
    closes: dict[int, list[dict[str, Any]]] = {}
    for e in entities:
        opens.setdefault(e["offset"], []).append(e)
        closes.setdefault(e["offset"] + e["length"], []).append(e)
    bounds = sorted({0, len(units) // 2, *opens, *closes})
    out = []
    for a, b in zip(bounds, bounds[1:] + [None]):
        for e in sorted(closes.get(a, []), key=lambda e: (-e["offset"], e["length"])):  # inner first
            out.append(_tag(e, closing=True))
        for e in sorted(opens.get(a, []), key=lambda e: -e["length"]):
            out.append(_tag(e))
        if b is not None:
            out.append(html.escape(units[2 * a:2 * b].decode("utf-16-le", "replace")))
    return "".join(out)


def _tag(e: dict[str, Any], closing: bool = False) -> str:
    kind = e["type"]
    if kind in ("text_link", "text_mention"):
        if closing:
            return "</a>"
        href = e.get("url") or f"tg://user?id={e.get('user', {}).get('id', '')}"
        return f'<a href="{html.escape(href)}">'
    tag = TAGS.get(kind)
    if tag is None:
        return ""
    return f"</{tag.split()[0]}>" if closing else f"<{tag}>"


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _telegram(telegram: TelegramService) -> str:
    chats: dict[int, list[dict[str, Any]]] = {}
    for (chat_id, _), msg in sorted(telegram.messages.items()):
        chats.setdefault(chat_id, []).append(msg)
    if not chats:
        return "<p class=meta>No Telegram posts yet.</p>"
    parts = []
    for chat_id, msgs in chats.items():
        chat = msgs[0]["chat"]
        name = "@" + chat["username"] if chat.get("username") else chat.get("title") or chat.get("first_name", "")
        parts.append(f"<h3>{html.escape(str(name))} <span class=meta>({chat['type']}, {chat_id})</span></h3>"
                     f"<div class=chat>")
        for m in msgs:
            from_user = "from" in m and not m["from"].get("is_bot")
            body = ""
            if "photo" in m:
                big = m["photo"][-1]
                src = big.get("sandbox_url") or f"/_sandbox/files/{big['file_id']}"
                body += f'<img src="{html.escape(src)}" alt="photo">'
                body += entities_to_html(m.get("caption", ""), m.get("caption_entities", []))
            elif "document" in m:
                doc = m["document"]
                body += (f'<a href="/_sandbox/files/{html.escape(doc["file_id"])}">📎 '
                         f'{html.escape(doc.get("file_name", "document"))}</a><br>')
                body += entities_to_html(m.get("caption", ""), m.get("caption_entities", []))
            else:
                body += entities_to_html(m.get("text", ""), m.get("entities", []))
            rows = (m.get("reply_markup") or {}).get("inline_keyboard") or []
            if rows:
                body += "<div class=buttons>" + "".join(
                    f"<button disabled>{html.escape(str(b.get('text', '')))}</button>" for row in rows for b in row
                ) + "</div>"
            edited = " · edited" if "edit_date" in m else ""
            parts.append(f"<div class='bubble{' user' if from_user else ''}'>{body}"
                         f"<div class=meta>#{m['message_id']} · {_when(m['date'])}{edited}</div></div>")
        parts.append("</div>")
    return "".join(parts)


def _tweets(x: XService) -> str:
    tweets = sorted(x.tweets.values(), key=lambda t: t["time"])
    if not tweets:
        return "<p class=meta>No posts on X yet.</p>"
    parts = []
    for t in tweets:
        media = (t["request"].get("media") or {}).get("media_ids") or []
        extra = f" · {len(media)} image(s)" if media else ""
        reply = (t["request"].get("reply") or {}).get("in_reply_to_tweet_id")
        extra += f" · reply to {html.escape(str(reply))}" if reply else ""
        parts.append(f"<div class=tweet><b>@{html.escape(t['username'])}</b> "
                     f"{html.escape(t['data']['text'])}<div class=meta>{t['data']['id']} · "
                     f"{_when(t['time'])}{extra}</div></div>")
    return "".join(parts)


def _mail(sendgrid: SendGridService) -> str:
    if not sendgrid.mail:
        return "<p class=meta>No email sent yet.</p>"
    parts = []
    for m in list(sendgrid.mail)[-50:]:
        body = json.loads(m["raw"])
        ps = body.get("personalizations") or []
        rcpt = [r["email"] for p in ps for k in ("to", "cc", "bcc") for r in p.get(k) or ()]
        shown = ", ".join(rcpt[:5]) + (f" and {len(rcpt) - 5} more" if len(rcpt) > 5 else "")
        subject = body.get("subject") or (ps[0].get("subject") if ps else "") or "(template)"
        sender = body.get("from") or {}
        content = {c.get("type"): c.get("value", "") for c in body.get("content") or []}
        headers = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>"
                          for k, v in (body.get("headers") or {}).items())
        rendered = (f'<iframe sandbox srcdoc="{html.escape(content["text/html"], quote=True)}"></iframe>'
                    if "text/html" in content else f"<pre>{html.escape(content.get('text/plain', ''))}</pre>")
        parts.append(
            f"<div class=mail><div class=head><b>{html.escape(str(subject))}</b><br>"
            f"From {html.escape(str(sender.get('name', '')))} &lt;{html.escape(str(sender.get('email', '')))}&gt;"
            f" to {html.escape(shown)}<div class=meta>{m['message_id']} · {_when(m['time'])}"
            f" · categories {html.escape(', '.join(body.get('categories') or []) or '-')}</div>"
            f"{f'<table>{headers}</table>' if headers else ''}</div>{rendered}</div>")
    return "".join(parts)


def render_page(core: SandboxCore, telegram: TelegramService, x: XService, sendgrid: SendGridService) -> str:
    counts = {s: len(core.log.select(s)) for s in ("telegram", "x", "sendgrid")}
    faults = core.faults.to_json()
    return (
        "<!doctype html><html><head><meta charset=utf-8><title>distributor sandbox</title>"
        f"<style>{STYLE}</style></head><body><header><b>distributor sandbox</b> · accepted calls: "
        + " · ".join(f"{k} {v}" for k, v in counts.items())
        + (f" · {len(faults)} fault(s) pending" if faults else "")
        + " · <a href=/_sandbox/requests>requests</a> · <a href=/_sandbox/accounts>accounts</a>"
        " · <a href=/_sandbox/events>events</a></header><main>"
        f"<section><h2>Telegram</h2>{_telegram(telegram)}</section>"
        f"<section><h2>X</h2>{_tweets(x)}</section>"
        f"<section><h2>Newsletter</h2>{_mail(sendgrid)}</section>"
        "</main></body></html>"
    )
