"""Reading the TOML file strictly into the dataclasses of sections.py.

An unknown key, a wrong type, a value out of its range or a missing required
value is a problem that names the file and the [section] it is in; every
problem in the file is collected and raised at once (ConfigErrors).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
import types
import typing
from datetime import time as dt_time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from distributor.config.sections import RANGES, WEEKDAYS, Settings, SourceConfig
from distributor.errors import ConfigurationError
from distributor.links import link_problem
from distributor.posting import parse_window

DEFAULT_CONFIG = Path("config/distributor.toml")



def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get("DISTRIBUTOR_CONFIG")
    return Path(env) if env else DEFAULT_CONFIG


class ConfigErrors(ConfigurationError):
    """Every problem found in one config file, one message each."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    p = config_path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"config file not found: {p} (set --config or DISTRIBUTOR_CONFIG)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{p}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{p}: not UTF-8 text: {exc}") from None
    return settings_from_dict(raw, path=p.resolve())


def settings_from_dict(raw: dict[str, Any], *, path: Path) -> Settings:
    """Read the whole file, collecting every problem (a bad value is replaced
    by its default meanwhile, so that the rest is still checked); raise them
    all at once, as ConfigErrors."""
    data = dict(raw)
    data["path"] = path
    errors: list[str] = []
    settings = _build(Settings, data, where="", file=path, errors=errors)
    if settings is _INVALID:  # pragma: no cover - Settings has no required key besides path
        raise ConfigErrors(errors)
    _validate(settings, errors)
    if errors:
        raise ConfigErrors(errors)
    return settings


class _Invalid:
    """A value that could not be read (its problem is recorded)."""


_INVALID = _Invalid()


def _build(cls: type, data: Any, *, where: str, file: Path, errors: list[str]) -> Any:
    label = f"[{where}]" if where else "the top level"
    if not isinstance(data, dict):
        errors.append(f"{file}: {label} must be a table, got {type(data).__name__}")
        return _INVALID
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for k in data:
        if k not in fields:
            close = difflib.get_close_matches(k, fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(fields))})"
            errors.append(f"{file}: {label}: unknown key {k!r}{hint}")
    ranges = RANGES.get(cls, {})
    kwargs = {}
    complete = True
    for name, f in fields.items():
        if name in data:
            sub = f"{where}.{name}" if where else name
            value = _coerce(hints[name], data[name], where=sub, file=file, errors=errors)
            if value is not _INVALID and name in ranges and value not in ranges[name]:
                errors.append(f"{file}: {label} {name} = {data[name]!r} is out of range: "
                              f"must be {ranges[name]}")
                value = _INVALID
            if value is not _INVALID:
                kwargs[name] = value
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                complete = False
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            errors.append(f"{file}: {label}: missing required key {name!r}")
            complete = False
    return cls(**kwargs) if complete else _INVALID


def _coerce(tp: Any, value: Any, *, where: str, file: Path, errors: list[str]) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value, where=where, file=file, errors=errors)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _build(tp, value, where=where, file=file, errors=errors)
    if origin is Literal:
        if value not in args:
            errors.append(f"{file}: {where} = {value!r} is not one of {', '.join(repr(a) for a in args)}")
            return _INVALID
        return value
    if origin is tuple:
        if not isinstance(value, list):
            errors.append(f"{file}: {where} must be a list")
            return _INVALID
        items = [_coerce(args[0], v, where=f"{where}[{i}]", file=file, errors=errors) for i, v in enumerate(value)]
        return tuple(v for v in items if v is not _INVALID)
    if origin is dict:
        if not isinstance(value, dict):
            errors.append(f"{file}: [{where}] must be a table")
            return _INVALID
        table = {k: _coerce(args[1], v, where=f"{where}.{k}", file=file, errors=errors) for k, v in value.items()}
        return {k: v for k, v in table.items() if v is not _INVALID}
    if tp is Path:
        return Path(value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (str, int, float, bool):
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            errors.append(f"{file}: {where} must be {tp.__name__}, got {type(value).__name__} {value!r}")
            return _INVALID
        if tp is float and value != value:  # NaN passes every comparison's negation
            errors.append(f"{file}: {where} must be a number, got nan")
            return _INVALID
        return value
    raise TypeError(f"unsupported config type {tp!r}")  # a bug here, not in the file


def _url_template_problem(s: SourceConfig) -> str | None:
    if s.kind != "folder":
        return ": only a folder source has one (a feed's items carry their links)"
    if "{slug}" not in s.url_template:
        return " has no {slug} slot: every article would get the same link"
    leftover = s.url_template.replace("{slug}", "")
    if "{" in leftover or "}" in leftover:
        return ": the only slot is {slug}"
    problem = link_problem(s.url_template.replace("{slug}", "slug"))
    return f" is not a link: {problem}" if problem else None


def _validate(settings: Settings, errors: list[str]) -> None:
    file = settings.path
    d = settings.delivery
    if d.backoff_max_seconds < d.backoff_base_seconds:
        errors.append(f"{file}: [delivery] backoff_max_seconds = {d.backoff_max_seconds:g} is out of range: "
                      f"must be at least backoff_base_seconds ({d.backoff_base_seconds:g})")
    names = [s.name for s in settings.sources]
    for s in settings.sources:
        if names.count(s.name) > 1 and names.index(s.name) == settings.sources.index(s):
            errors.append(f"{file}: two sources are named {s.name!r}")
        if s.kind == "folder" and not s.path:
            errors.append(f"{file}: source {s.name!r} (folder) needs path")
        if s.kind == "feed" and not s.url:
            errors.append(f"{file}: source {s.name!r} (feed) needs url")
        if s.url_template and (problem := _url_template_problem(s)):
            errors.append(f"{file}: source {s.name!r}: url_template {s.url_template!r}{problem}")
        if s.language and s.language not in settings.editions and len(s.language) != 2:
            errors.append(f"{file}: source {s.name!r}: language {s.language!r} is not a 2-letter code")
    _validate_desk(settings, errors)
    web = settings.web
    if web.base_url and not web.base_url.startswith(("http://", "https://")):
        errors.append(f"{file}: [web] base_url {web.base_url!r} must start with https:// (or http://)")
    for code, edition in settings.editions.items():
        for kind in ("telegram", "twitter"):
            ch = getattr(edition.channels, kind)
            if ch is not None:
                try:
                    parse_window(ch.posting_window)
                except ValueError as exc:
                    errors.append(f"{file}: [editions.{code}.channels.{kind}] {exc}")
        nl = edition.channels.newsletter
        if nl is not None:
            if len(nl.postal_address) > 300 or any(
                    not c.isprintable() and c != "\n" for c in nl.postal_address):
                errors.append(f"{file}: [editions.{code}.channels.newsletter] postal_address must be at most "
                              "300 printable characters (lines separated by newlines)")
            if nl.digest_day not in WEEKDAYS:
                errors.append(f"{file}: [editions.{code}.channels.newsletter] digest_day "
                              f"{nl.digest_day!r} is not one of {', '.join(WEEKDAYS)}")
            try:
                hour, minute = (int(x) for x in nl.digest_time.split(":"))
                dt_time(hour, minute)
            except ValueError:
                errors.append(f"{file}: [editions.{code}.channels.newsletter] digest_time "
                              f"{nl.digest_time!r} is not a time like 09:00")
        if len(code) != 2 or not code.isalpha() or not code.islower():
            errors.append(f"{file}: [editions.{code}]: an edition is named by its ISO 639-1 language code, like 'de'")
        try:
            ZoneInfo(edition.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            errors.append(f"{file}: [editions.{code}] timezone {edition.timezone!r} is not a known time zone"
                          + _did_you_mean_zone(edition.timezone))


def _validate_desk(settings: Settings, errors: list[str]) -> None:
    """[desk.telegram], the editors' bot: each problem names its key."""
    bot = settings.desk.telegram
    if bot is None:
        return
    where = f"{settings.path}: [desk.telegram]"
    chat = bot.chat_id.strip()
    if not chat:
        errors.append(f"{where} chat_id is missing: the editors' group, its id (\"-100…\") or \"@name\"")
    elif not (chat.lstrip("-").isdigit() or (chat.startswith("@") and len(chat) > 1)):
        errors.append(f"{where} chat_id {bot.chat_id!r} is neither a chat id (\"-100…\") nor \"@name\"")
    if not bot.editors:
        errors.append(f"{where} editors is empty: list the Telegram user ids allowed to act")
    for uid in bot.editors:
        if uid <= 0:
            errors.append(f"{where} editors: {uid} is not a Telegram user id (a positive number)")
    for key, address in bot.editor_emails.items():
        if not key.isdigit() or int(key) not in bot.editors:
            errors.append(f"{where} editor_emails: {key!r} is not one of the editors' user ids")
        if "@" not in address.strip("@") or any(c.isspace() for c in address):
            errors.append(f"{where} editor_emails: {address!r} ({key}) is not an email address")
    if bot.mode == "live" and not bot.token_env:
        errors.append(f"{where} token_env is missing: live mode needs the variable holding the bot's token")
    if not bot.api_url.startswith(("https://", "http://")):
        errors.append(f"{where} api_url {bot.api_url!r} must start with https://")


def _did_you_mean_zone(name: str) -> str:
    from zoneinfo import available_timezones

    zones = sorted(available_timezones())
    by_lower = {z.lower(): z for z in zones}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""
