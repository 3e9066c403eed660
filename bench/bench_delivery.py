"""Benchmark: what the dispatcher costs per delivery, over a bare client call.

Starts the sandbox in this process (rate limits off) on 127.0.0.1, ingests M
Telegram-only Markdown articles (front matter `channels: [telegram]`, channel
pacing off) into a fresh database, and measures, rounds interleaved:

  baseline   M raw python-telegram-bot `Bot.send_message` calls to the same sandbox
             chat, with the very texts the dispatcher sends (pre-rendered): no DB, no render
  dispatch   `Dispatcher(settings, store).drain(max_wait=0)` sending all M: per delivery
             render + claim + send + record (committed DB writes around the call)

on SQLite, and on PostgreSQL when it answers at --pg (a temporary database per
round, dropped after). Figures are deliveries/second (median of the rounds),
the ratio to the baseline, and the overhead per delivery in ms (the difference
of the per-delivery times). Every delivery must be sent (the script fails otherwise).

    .venv/bin/python bench/bench_delivery.py [--articles 200] [--rounds 3] [--quick] [--no-pg]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from distributor.config import Settings, load_settings  # noqa: E402
from distributor.delivery import Dispatcher  # noqa: E402
from distributor.ingest.pipeline import ingest  # noqa: E402
from distributor.render import render_article  # noqa: E402
from distributor.sandbox.clients import telegram_bot  # noqa: E402
from distributor.sandbox.server import SandboxHandle, start_sandbox  # noqa: E402
from distributor.store import Store  # noqa: E402

PG_ADMIN_URL = os.environ.get("DISTRIBUTOR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
CHAT = "@novastan_de"

CONFIG = """
[database]
url = "{db}"

[sandbox]
host = "127.0.0.1"
autostart = false
telegram_per_chat_per_minute = 0
telegram_per_second = 0
x_tweets_per_window = 0

[[sources]]
name = "articles"
kind = "folder"
path = "{articles}"

[editions.de]
timezone = "Europe/Berlin"
[editions.de.channels.telegram]
chat_id = "{chat}"
min_interval_seconds = 0
timeout_seconds = 10
[editions.de.channels.twitter]
min_interval_seconds = 0
timeout_seconds = 10
"""

ARTICLE = """---
title: "Kirgistan: Neue Regeln für Medien, Folge {i}"
url: https://novastan.org/de/kirgistan/neue-regeln-medien-{i}/
language: de
published: 2025-03-{day:02d}T08:00:00+00:00
tags: [Kirgistan, Medien]
author: "Anna Keller, Korrespondentin für Novastan"
channels: [telegram]
---

Die Regierung in Bischkek plant neue Regeln für Medien und NGOs (Folge {i}). Journalistinnen und Journalisten fürchten um ihre Arbeit, Beobachter sprechen von einem Rückschritt.

## Was das Gesetz vorsieht

Onlinemedien sollen sich künftig registrieren lassen, ausländische Förderung muss offengelegt werden. Verstöße können zur Sperrung führen.

Noch mehr Zentralasien findet ihr auf Telegram.
"""


def write_articles(folder: Path, m: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(m):
        (folder / f"medien-{i:04d}.md").write_text(ARTICLE.format(i=i, day=1 + i % 28), encoding="utf-8")


def settings_for(work: Path, db_url: str, articles: Path, port: int, tag: str) -> Settings:
    path = work / f"distributor-{tag}.toml"
    path.write_text(CONFIG.format(db=db_url, articles=articles, chat=CHAT), encoding="utf-8")
    settings = load_settings(path)
    return dataclasses.replace(settings, sandbox=dataclasses.replace(settings.sandbox, port=port))


# ------------------------------------------------------------------ databases


class Databases:
    """A fresh database per round: a SQLite file, or a temporary PostgreSQL database."""

    def __init__(self, work: Path):
        self.work, self.count, self.pg_names = work, 0, []
        self.admin: sa.Engine | None = None

    def sqlite(self) -> str:
        self.count += 1
        return f"sqlite:///{self.work / f'db-{self.count}.sqlite'}"

    def pg_available(self) -> str | None:
        """None when PostgreSQL answers, else why not."""
        try:
            self.admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT",
                                          connect_args={"connect_timeout": 3})
            with self.admin.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return None
        except Exception as exc:  # noqa: BLE001 - any failure means: skip PostgreSQL
            self.admin = None
            return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"

    def postgres(self) -> str:
        assert self.admin is not None
        name = f"distributor_bench_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        self.pg_names.append(name)
        return sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    def drop_postgres(self) -> None:
        if self.admin is None:
            return
        with self.admin.connect() as conn:
            for name in self.pg_names:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.pg_names.clear()
        self.admin.dispose()


# ------------------------------------------------------------------ the measured steps


def prepare(settings: Settings, m: int) -> tuple[Store, list]:  # type: ignore[type-arg]
    """Open (migrate) the database and ingest the articles: M pending Telegram deliveries."""
    store = Store.open(settings)
    (report,) = ingest(settings, store)
    if report.error or report.item_errors or len(report.new) != m:
        raise SystemExit(f"ingest: {report.summary()} {report.error or report.item_errors[:3]}")
    pending = store.deliveries(status="pending")
    if len(pending) != m or {d.channel for d in pending} != {"de.telegram"}:
        raise SystemExit(f"expected {m} pending de.telegram deliveries, got {len(pending)}: "
                         f"{sorted({d.channel for d in pending})}")
    messages = [render_article(settings, store.get_article(s.id).article, "telegram") for s in report.new]
    return store, messages


async def raw_sends(url: str, messages: list) -> int:  # type: ignore[type-arg]
    import telegram

    bot = telegram_bot(url, "de")
    async with bot:  # getMe and shutdown, as the channel does once per dispatcher
        for msg in messages:
            preview = telegram.LinkPreviewOptions(**msg.link_preview) if msg.link_preview else None
            await bot.send_message(chat_id=CHAT, text=msg.text, parse_mode=msg.parse_mode or "HTML",
                                   link_preview_options=preview)
    return len(messages)


async def dispatch(settings: Settings, store: Store, m: int) -> int:
    dispatcher = Dispatcher(settings, store)
    try:
        report = await dispatcher.drain(max_wait=0)
    finally:
        await dispatcher.aclose()
    sent = report.count("sent")
    if sent != m or report.waiting:
        others = [(o.status, o.detail) for o in report.outcomes if o.status != "sent"][:3]
        raise SystemExit(f"dispatcher sent {sent} of {m} ({report.waiting} still pending): {others}")
    return sent


def timed(coro_fn) -> float:  # type: ignore[no-untyped-def]
    gc.collect()
    start = time.perf_counter()
    n = asyncio.run(coro_fn())
    return n / (time.perf_counter() - start)


def run_backend(label: str, handle: SandboxHandle, work: Path, articles: Path, m: int, rounds: int,
                new_db) -> dict[str, list[float]]:  # type: ignore[no-untyped-def]
    port = int(handle.url.rsplit(":", 1)[1])
    rates: dict[str, list[float]] = {"baseline": [], "dispatch": []}
    for r in range(rounds + 1):  # round 0 warms up (imports, templates, connections) and is dropped
        handle.reset()
        settings = settings_for(work, new_db(), articles, port, f"{label}-{r}")
        store, messages = prepare(settings, m)
        try:
            base = timed(lambda: raw_sends(handle.url, messages))
            handle.reset()
            disp = timed(lambda: dispatch(settings, store, m))
        finally:
            store.close()
        if r:
            rates["baseline"].append(base)
            rates["dispatch"].append(disp)
    return rates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="a fast smoke run: 20 articles, 1 round")
    ap.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = ap.parse_args()
    m, rounds = (20, 1) if args.quick else (args.articles, args.rounds)

    work = Path(tempfile.mkdtemp(prefix="bench-delivery-"))
    dbs = Databases(work)
    results: dict[str, dict[str, list[float]]] = {}
    pg_note = "skipped (--no-pg)" if args.no_pg else dbs.pg_available()
    try:
        articles = work / "articles"
        write_articles(articles, m)
        boot = settings_for(work, dbs.sqlite(), articles, 0, "boot")  # the sandbox's accounts come from it
        handle = start_sandbox(boot, port=0)
        try:
            results["SQLite"] = run_backend("sqlite", handle, work, articles, m, rounds, dbs.sqlite)
            if pg_note is None:
                results["PostgreSQL"] = run_backend("pg", handle, work, articles, m, rounds, dbs.postgres)
        finally:
            handle.stop()
    finally:
        dbs.drop_postgres()
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{'database':11} {'step':46} {'deliveries/s':>12} {'ms each':>8} {'vs baseline':>12}   "
          f"rounds (deliveries/s)")
    for db, rates in results.items():
        base = statistics.median(rates["baseline"])
        disp = statistics.median(rates["dispatch"])
        for key, label, rate in (("baseline", "baseline: raw Bot.send_message", base),
                                 ("dispatch", "Dispatcher.drain (render+claim+send+record)", disp)):
            spread = " ".join(f"{x:.0f}" for x in rates[key])
            print(f"{db:11} {label:46} {rate:12.0f} {1000 / rate:8.2f} {rate / base:11.2f}x   {spread}")
        print(f"{db:11} {'overhead per delivery':46} {'':12} {1000 / disp - 1000 / base:8.2f}")
    if pg_note:
        print(f"\nPostgreSQL ({PG_ADMIN_URL}): {pg_note}")
    print(f"\n({m} Telegram deliveries per round, {rounds} round(s) after a warm-up, median; sandbox in this "
          f"process on 127.0.0.1, rate limits and pacing off; {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
