"""SendGrid v3 mail/send body validation (reference §C.2–C.3), pure.

`validate_mail(body, now)` returns the list of errors SendGrid would answer
with 400 (`{"message", "field", "help"}`), empty when the body is valid. The
messages are SendGrid's own (its Mail Send errors page).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAX_CATEGORIES = 10
MAX_CUSTOM_ARGS_BYTES = 10_000
MAX_SCHEDULE_AHEAD = 72 * 3600
RESERVED_HEADERS = frozenset(h.lower() for h in (
    "x-sg-id", "x-sg-eid", "received", "dkim-signature", "Content-Type", "Content-Transfer-Encoding",
    "To", "From", "Subject", "Reply-To", "CC", "BCC"))
HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message."
EMAIL_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+\Z")
_INDEX = re.compile(r"\.\d+")

RECIPIENT_SHAPE = {
    "to": "The to array must at least have an email parameter with a valid email address and it may also "
          "contain a name parameter. e.g. {\"email\" : \"example@example.com\"} or {\"email\" : "
          "\"example@example.com\", \"name\" : \"Example Recipient\"}.",
    "cc": "The cc array, when used, must at least have an email parameter with a valid email address and it may "
          "also contain a name parameter. e.g. {\"email\" : \"example@example.com\"} or {\"email\" : "
          "\"example@example.com\", \"name\" : \"Example Recipient\"}.",
    "bcc": "The bcc array, when used, must at least have an email parameter with a valid email address and it may "
           "also contain a name parameter. e.g. {\"email\" : \"example@example.com\"} or {\"email\" : "
           "\"example@example.com\", \"name\" : \"Example Recipient\"}.",
}


def error(message: str, field: str | None) -> dict[str, Any]:
    return {"message": message, "field": field,
            "help": HELP + _INDEX.sub("", field) if field else None}


def is_email(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 320 and EMAIL_RE.match(value) is not None


def recipients(body: dict[str, Any]) -> list[tuple[int, str, dict[str, Any]]]:
    """(personalization index, kind, address object) of every recipient of a valid body."""
    out = []
    for i, p in enumerate(body.get("personalizations") or ()):
        for kind in ("to", "cc", "bcc"):
            for r in p.get(kind) or ():
                out.append((i, kind, r))
    return out


def validate_mail(body: Any, now: float) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        return [error("Bad Request", None)]
    errors: list[dict[str, Any]] = []
    add = errors.append
    template = body.get("template_id")
    if template is not None and not isinstance(template, str):
        add(error(f"The template ID must be a string, you provided {template!r}.", "template_id"))

    # ---- personalizations and recipients
    ps = body.get("personalizations")
    if not isinstance(ps, list) or not ps:
        add(error("The personalizations field is required and must have at least one personalization.",
                  "personalizations"))
        ps = []
    elif len(ps) > MAX_PERSONALIZATIONS:
        add(error(f"The personalization block is limited to 1000 personalizations per API request. You have "
                  f"provided {len(ps)} personalizations. Please consider splitting this into multiple requests "
                  f"and resending your request.", "personalizations"))
        ps = []
    seen: set[str] = set()
    total = 0
    every_p_has_subject = bool(ps)
    global_args = body.get("custom_args")
    global_size = _check_custom_args(global_args, None, "custom_args", add, 0)
    match_email = EMAIL_RE.match
    # The hot loop of a 1000-personalization request: kept flat on purpose.
    for i, p in enumerate(ps):
        if type(p) is not dict:
            add(error("The to parameter is required for all personalization objects.", f"personalizations.{i}"))
            continue
        to = p.get("to")
        if type(to) is not list or not to:
            add(error("The to array is required for all personalization objects, and must have at least one "
                      "email object with a valid email address.", f"personalizations.{i}.to"))
        for kind in ("to", "cc", "bcc"):
            lst = to if kind == "to" else p.get(kind)
            if lst is None:
                continue
            if type(lst) is not list:
                add(error(RECIPIENT_SHAPE[kind], f"personalizations.{i}.{kind}"))
                continue
            total += len(lst)
            for j, r in enumerate(lst):
                email = r.get("email") if type(r) is dict else None
                if type(email) is not str or len(email) > 320 or match_email(email) is None:
                    add(error("Does not contain a valid address.", f"personalizations.{i}.{kind}.{j}.email"))
                    continue
                name = r.get("name")
                if name is not None and (type(name) is not str or ";" in name or "," in name):
                    add(error(f"The {kind}.name field cannot contain ';' or ','.",
                              f"personalizations.{i}.{kind}.{j}.name"))
                low = email.lower()
                if low in seen:
                    add(error("Each email address in the personalization block should be unique between to, cc, "
                              f"and bcc. We found the first duplicate instance of [{email}] in the "
                              f"personalizations.{i}.{kind} field.", f"personalizations.{i}.{kind}"))
                seen.add(low)
        if len(p) == 1:  # only "to": nothing else to check
            every_p_has_subject = False
            continue
        where = f"personalizations.{i}"
        if "subject" in p:
            if not isinstance(p["subject"], str) or not p["subject"]:
                add(error("The subject of your email must be a string at least one character in length.",
                          f"{where}.subject"))
        else:
            every_p_has_subject = False
        if "headers" in p:
            _check_headers(p["headers"], f"{where}.headers", add)
        if "send_at" in p:
            _check_send_at(p["send_at"], f"{where}.send_at", now, add)
        if p.get("custom_args") is not None:
            _check_custom_args(global_args, p["custom_args"], f"{where}.custom_args", add, global_size)
        subs = p.get("substitutions")
        if subs is not None and (not isinstance(subs, dict) or not all(isinstance(v, str) for v in subs.values())):
            add(error("The substitution values must be an object of key/value pairs, where the values are all "
                      "strings.", f"{where}.substitutions"))
        if "from" in p and not (isinstance(p["from"], dict) and is_email(p["from"].get("email"))):
            add(error("The from email does not contain a valid address.", f"{where}.from.email"))
    if total > MAX_RECIPIENTS:
        add(error("There is a limit of 1000 total recipients (to + cc + bcc) per request.", "personalizations"))

    # ---- from, subject, content
    sender = body.get("from")
    if not isinstance(sender, dict) or "email" not in sender:
        add(error("The from object must be provided for every email send. It is an object that requires the email "
                  "parameter, but may also contain a name parameter.  e.g. {\"email\" : \"example@example.com\"}  "
                  "or {\"email\" : \"example@example.com\", \"name\" : \"Example Recipient\"}.", "from.email"))
    elif not is_email(sender["email"]):
        add(error("The from email does not contain a valid address.", "from.email"))
    for key in ("reply_to",):
        rt = body.get(key)
        if rt is not None and not (isinstance(rt, dict) and is_email(rt.get("email"))):
            add(error("The reply_to email does not contain a valid address.", "reply_to.email"))
    if body.get("reply_to") is not None and body.get("reply_to_list") is not None:
        add(error("The reply_to and reply_to_list properties are mutually exclusive.", "reply_to_list"))

    subject = body.get("subject")
    if subject is not None and (not isinstance(subject, str) or not subject):
        add(error("The subject of your email must be a string at least one character in length.", "subject"))
    elif subject is None and not template and not every_p_has_subject:
        add(error("The subject is required. You can get around this requirement if you use a template with a "
                  "subject defined or if every personalization has a subject defined.", "subject"))

    _check_content(body.get("content"), bool(template), add)
    _check_headers(body.get("headers"), "headers", add)
    _check_send_at(body.get("send_at"), "send_at", now, add)
    _check_categories(body.get("categories"), add)
    _check_attachments(body.get("attachments"), add)
    _check_asm(body.get("asm"), add)
    sandbox = ((body.get("mail_settings") or {}).get("sandbox_mode") or {}) \
        if isinstance(body.get("mail_settings"), dict) else {}
    if isinstance(sandbox, dict) and "enable" in sandbox and not isinstance(sandbox["enable"], bool):
        add(error("The sandbox mode enable param should be a boolean value.", "mail_settings.sandbox_mode.enable"))
    unique: dict[tuple[str, Any], dict[str, Any]] = {}
    for e in errors:
        unique.setdefault((e["message"], e["field"]), e)
    return list(unique.values())


def _check_content(content: Any, has_template: bool, add: Any) -> None:
    if content is None or content == []:
        if not has_template:
            add(error("Unless a valid template_id is provided, the content parameter is required. There must be at "
                      "least one defined content block. We typically suggest both text/plain and text/html blocks "
                      "are included, but only one block is required.", "content"))
        return
    if not isinstance(content, list):
        add(error("The content parameter must be an array of content blocks.", "content"))
        return
    types: list[str] = []
    for i, c in enumerate(content):
        if not isinstance(c, dict) or not isinstance(c.get("type"), str) or not c["type"]:
            add(error("A content type is required, this tells email clients how to display the email.",
                      f"content.{i}.type"))
            continue
        if re.search(r"[;\r\n]", c["type"]):
            add(error("Cannot contain ';', or CRLF characters.", f"content.{i}.type"))
        if not isinstance(c.get("value"), str) or not c["value"]:
            add(error("The content value must be a string at least one character in length.", f"content.{i}.value"))
        types.append(c["type"].lower())
    order = {"text/plain": 0, "text/html": 1}
    ranks = [order.get(t, 2) for t in types]
    if ranks != sorted(ranks) or types.count("text/plain") > 1 or types.count("text/html") > 1:
        add(error("If present, text/plain must be first, followed by text/html, followed by any other content.",
                  "content"))


def _check_headers(headers: Any, field: str, add: Any) -> None:
    if headers is None:
        return
    if not isinstance(headers, dict):
        add(error("The headers must be an object of key/value pairs.", field))
        return
    lowered: set[str] = set()
    for k, v in headers.items():
        if not isinstance(v, str):
            add(error("The header values must be strings.", field))
        if not k.isascii() or re.search(r"\s", k) or not k:
            add(error("Header keys can't contain non-ASCII characters and empty spaces.", field))
        if k.lower() in RESERVED_HEADERS:
            add(error("Header can not be one of the reserved keys.", field))
        if k.lower() in lowered:
            add(error("The headers can't contain duplicate keys.", field))
        lowered.add(k.lower())


def _check_send_at(send_at: Any, field: str, now: float, add: Any) -> None:
    if send_at is None:
        return
    if not isinstance(send_at, int) or isinstance(send_at, bool):
        add(error("The send_at parameter is expecting a UNIX timestamp as an integer. We will send immediately if "
                  "you include a send_at timestamp that is in the past.", field))
    elif send_at > now + MAX_SCHEDULE_AHEAD:
        add(error("Scheduling more than 72 hours in advance is forbidden.", field))


def _check_custom_args(global_args: Any, own: Any, field: str, add: Any, global_size: int) -> int:
    """Check one level of custom_args (the global one when own is None);
    returns a rough size (characters) of what was checked, for the next call."""
    args = global_args if own is None else own
    if args is None:
        return 0
    where = "custom_args" if own is None else field
    if not isinstance(args, dict) or not all(isinstance(v, str) for v in args.values()):
        add(error("All values of custom arguments object must be strings", where))
        return 0
    size = sum(len(k) + len(v) for k, v in args.items()) + 6 * len(args)
    if (size + global_size) * 4 < MAX_CUSTOM_ARGS_BYTES:  # UTF-8 needs at most 4 bytes a character
        return size
    merged = {**(global_args if isinstance(global_args, dict) else {}), **(own or {})}
    if len(json.dumps(merged, ensure_ascii=False).encode()) > MAX_CUSTOM_ARGS_BYTES:
        add(error(f"The combined size of both global and personalization custom arguments may not exceed "
                  f"{MAX_CUSTOM_ARGS_BYTES:,} bytes per personalization.", where))
    return size


def _check_categories(categories: Any, add: Any) -> None:
    if categories is None:
        return
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        add(error("Categories must be an array of strings.", "categories"))
        return
    if len(categories) > MAX_CATEGORIES:
        add(error(f"There is a limit of 10 categories for each email that is sent. You provided {len(categories)} "
                  f"categories.", "categories"))
    seen: set[str] = set()
    for c in categories:
        if len(c) > 255:
            add(error(f"Each category must not be longer than 255 characters. {c} exceeds this limit.", "categories"))
        if not c.isascii():
            add(error("Categories can not contain non-ASCII characters.", "categories"))
        if c in seen:
            add(error(f"The categories must be a unique list, and you have included {c} more than once.",
                      "categories"))
        seen.add(c)


def _check_attachments(attachments: Any, add: Any) -> None:
    if attachments is None:
        return
    if not isinstance(attachments, list):
        add(error("The attachments must be an array of attachment objects.", "attachments"))
        return
    for i, a in enumerate(attachments):
        a = a if isinstance(a, dict) else {}
        content = a.get("content")
        if not isinstance(content, str) or not content:
            add(error("The attachment content must be a string at least one character in length.",
                      f"attachments.{i}.content"))
        else:
            try:
                base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError):
                add(error("The attachment content must be base64 encoded.", f"attachments.{i}.content"))
        if not a.get("filename"):
            add(error("filename is required.", f"attachments.{i}.filename"))
        disposition = a.get("disposition")
        if disposition is not None and disposition not in ("inline", "attachment"):
            add(error(f"The disposition of your attachment can be either \"inline\" or \"attachment\". You "
                      f"provided {disposition}.", f"attachments.{i}.disposition"))


def _check_asm(asm: Any, add: Any) -> None:
    if asm is None:
        return
    if not isinstance(asm, dict) or not isinstance(asm.get("group_id"), int) or isinstance(asm["group_id"], bool):
        add(error("The ASM group ID must be an integer.", "asm.group_id"))
        return
    shown = asm.get("groups_to_display")
    if shown is not None:
        if not isinstance(shown, list) or not all(isinstance(g, int) for g in shown):
            add(error("The ASM Group IDs to display must be an array of integers.", "asm.groups_to_display"))
        elif len(shown) > 25:
            add(error("There is a limit of 25 unsubscribe groups that can be displayed to a user at a time.",
                      "asm.groups_to_display"))
