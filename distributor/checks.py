"""`distributor check`: everything that can be validated before anything runs.

Returns (problems, notes): each problem a line naming what and where.
Secrets are checked for presence only and never printed.
"""

from __future__ import annotations

import os

from distributor.config import Settings
from distributor.errors import ConfigurationError
from distributor.store.outbox import DeliveryStatus

# The environment variables each channel kind needs, by config key.
SECRET_KEYS = {
    "telegram": ("token_env",),
    "twitter": ("consumer_key_env", "consumer_secret_env", "access_token_env", "access_token_secret_env"),
    "newsletter": ("api_key_env",),
}


def run_checks(settings: Settings) -> tuple[list[str], list[str]]:
    problems: list[str] = []
    notes: list[str] = [f"config {settings.path} read"]
    _check_sources(settings, problems, notes)
    _check_channels(settings, problems, notes)
    _check_editor_bot(settings, problems, notes)
    _check_web(settings, problems, notes)
    _check_database(settings, problems, notes)
    _check_templates(settings, problems, notes)
    return problems, notes


def _check_sources(settings: Settings, problems: list[str], notes: list[str]) -> None:
    if not settings.sources:
        problems.append(f"{settings.path}: no [[sources]] configured: nothing would ever be ingested")
    for s in settings.sources:
        if s.kind == "folder":
            root = settings.resolve(s.path)
            if not root.is_dir():
                problems.append(f"source {s.name!r}: folder {root} does not exist")
            elif not os.access(root, os.R_OK | os.X_OK):
                problems.append(f"source {s.name!r}: folder {root} is not readable")
            else:
                notes.append(f"source {s.name!r}: folder {root} readable")
        elif not s.url.startswith(("http://", "https://")):
            path = settings.resolve(s.url.removeprefix("file://"))
            if not path.is_file() or not os.access(path, os.R_OK):
                problems.append(f"source {s.name!r}: feed file {path} is not a readable file")
            else:
                notes.append(f"source {s.name!r}: feed file {path} readable")
        else:
            notes.append(f"source {s.name!r}: feed {s.url} (not fetched by check)")


def _check_editor_bot(settings: Settings, problems: list[str], notes: list[str]) -> None:
    """[desk.telegram]: its token's variable is set in live mode (never printed)."""
    bot = settings.desk.telegram
    if bot is None:
        return
    if bot.mode == "sandbox":
        notes.append(f"editors' bot: sandbox mode, group {bot.chat_id}, {len(bot.editors)} editor(s)")
    elif not os.environ.get(bot.token_env):
        problems.append(f"editors' bot [desk.telegram]: {bot.token_env} is not set (the bot's token)")
    else:
        notes.append(f"editors' bot: live, {bot.token_env} set, group {bot.chat_id}, {len(bot.editors)} editor(s)")


def _check_channels(settings: Settings, problems: list[str], notes: list[str]) -> None:
    if not settings.editions:
        problems.append(f"{settings.path}: no [editions.*] configured: every article would be skipped")
    for code, edition in settings.editions.items():
        configured = edition.channels.configured()
        if not configured:
            notes.append(f"edition {code}: no channels configured (every named channel is skipped)")
        for kind, channel in configured.items():
            where = f"[editions.{code}.channels.{kind}]"
            if channel.mode == "sandbox":
                notes.append(f"{code}.{kind}: sandbox mode ({settings.sandbox.base_url})")
                continue
            for key in SECRET_KEYS[kind]:
                env = getattr(channel, key)
                if not env:
                    problems.append(f"{where}: live mode needs {key} (the environment variable holding the secret)")
                elif not os.environ.get(env):
                    problems.append(f"{where}: the secret variable {env} ({key}) is not set in the environment")
            if not [p for p in problems if p.startswith(where)]:
                notes.append(f"{code}.{kind}: live mode, secrets present")


def _check_web(settings: Settings, problems: list[str], notes: list[str]) -> None:
    """A live newsletter needs the reader side: signed tokens, an https base
    URL for one-click unsubscribe (RFC 8058), and the webhook's key."""
    from distributor.newsletter.tokens import uses_live_newsletter

    web = settings.web
    if not uses_live_newsletter(settings):
        notes.append(f"web: {web.public_url} (sandbox: test signing secret unless {web.secret_env or 'secret_env'} is set)")
        return
    before = len(problems)
    if not web.secret_env:
        problems.append("[web]: a live newsletter needs secret_env (the variable holding the token signing secret)")
    elif not os.environ.get(web.secret_env):
        problems.append(f"[web]: the secret variable {web.secret_env} (secret_env) is not set in the environment: "
                        "unsubscribe and confirmation links cannot be signed")
    if not web.base_url.startswith("https://"):
        problems.append("[web]: a live newsletter needs an https base_url: unsubscribe links are built from it "
                        "and mail providers ignore one-click unsubscribe over http (RFC 8058)")
    if not web.sendgrid_public_key:
        problems.append("[web]: a live newsletter needs sendgrid_public_key (SendGrid's Signed Event Webhook key): "
                        "without it bounces and complaints are never read back")
    else:
        from distributor.web.webhook import load_public_key

        try:
            load_public_key(web.sendgrid_public_key)
        except ValueError as exc:
            problems.append(f"[web]: sendgrid_public_key: {exc}")
    if len(problems) == before:
        notes.append(f"web: {web.public_url}, signing secret present")


def _check_database(settings: Settings, problems: list[str], notes: list[str]) -> None:
    from distributor.store.db import create_engine

    url = settings.database_url
    try:
        engine = create_engine(url)
        with engine.connect():
            pass
        engine.dispose()
        notes.append("database reachable")
    except ConfigurationError as exc:
        problems.append(str(exc))
    except Exception as exc:  # noqa: BLE001 - any driver error is a problem to report
        problems.append(f"database: cannot connect: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")


def _check_templates(settings: Settings, problems: list[str], notes: list[str]) -> None:
    from distributor.render import check_templates

    found = check_templates(settings)
    problems.extend(found)
    if not found:
        notes.append("templates compile")


def config_warnings(settings: Settings) -> list[str]:
    """Settings that do not stop anything but that an editor should fix."""
    out = []
    for code, edition in settings.editions.items():
        nl = edition.channels.newsletter
        if nl is not None and nl.mode == "live" and not nl.postal_address.strip():
            out.append(f"[editions.{code}.channels.newsletter]: no postal_address: CAN-SPAM requires the "
                       "sender's postal address in every digest")
    return out


def article_warnings(settings: Settings) -> list[str]:
    """Stored articles with deliveries still to go out that lack a link or a
    title: not configuration problems (check still passes), but editors should
    know before they go out. Empty when the database cannot be read (the
    database check reports that)."""
    import sqlalchemy as sa

    from distributor.store import Store, group_by_article
    from distributor.store.db import create_engine

    try:
        engine = create_engine(settings.database_url)
    except ConfigurationError:
        return []  # reported by _check_database
    try:
        if not sa.inspect(engine).has_table("articles"):
            return []  # nothing ingested yet (and check creates no schema)
        store = Store(engine)
        stored = store.list_articles()
        by_article = group_by_article(store.deliveries())
    except Exception:  # noqa: BLE001 - a database problem is reported by _check_database
        return []
    finally:
        engine.dispose()
    out = []
    for s in stored:
        waiting = sorted({d.channel for d in by_article.get(s.id, []) if d.status in _NOT_OUT_YET})
        if not waiting:
            continue
        a = s.article
        where = f"article #{s.id} {a.label!r} ({s.source}: {s.key}), for {', '.join(waiting)}"
        if not a.url:
            out.append(f"{where}: will go out without a link")
        if not a.title:
            out.append(f"{where}: has no title; its posts lead with the lede")
    return out


# Delivery states in which the message has not gone out yet.
_NOT_OUT_YET = (DeliveryStatus.PENDING, DeliveryStatus.AWAITING_APPROVAL, DeliveryStatus.HELD,
                DeliveryStatus.FAILED)

