"""Benchmark: ingestion throughput, against the floor of any ingestion.

Writes N article files to a temp folder (copies of examples/articles with the
title, a sentence and the footer varied per copy, so every file parses to a
distinct article and hashes differently) and measures, rounds interleaved:

  baseline   list the folder, read every file, hashlib.sha256 of its bytes (the floor)
  parse      distributor.ingest.parse.parse_file on every file (no database)
  ingest     distributor.ingest.pipeline.ingest into a fresh SQLite database:
             parse, store the article, plan its deliveries (routing)
  re-ingest  the same folder again, nothing changed (content hash unchanged)

Figures are articles/second (median of the rounds) and the time per article as
a multiple of the baseline's. Peak memory of one full ingest is measured apart
(tracemalloc slows what it traces), with the baseline's peak beside it.

    .venv/bin/python bench/bench_ingest.py [--articles 300] [--rounds 5] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from distributor.config import load_settings  # noqa: E402
from distributor.ingest.parse import parse_file  # noqa: E402
from distributor.ingest.pipeline import ingest  # noqa: E402
from distributor.store import Store  # noqa: E402

EXAMPLES = ROOT / "examples" / "articles"

CONFIG = """
[database]
url = "sqlite:///{db}"

[[sources]]
name = "articles"
kind = "folder"
path = "{articles}"

[editions.de]
timezone = "Europe/Berlin"
[editions.de.channels.telegram]
chat_id = "@novastan_de"
[editions.de.channels.twitter]
[editions.de.channels.newsletter]
from_email = "newsletter@novastan.example"

[editions.fr]
timezone = "Europe/Paris"
[editions.fr.channels.telegram]
chat_id = "@novastan_fr"
[editions.fr.channels.newsletter]
from_email = "newsletter@novastan.example"

[editions.en]
timezone = "Europe/London"
[editions.en.channels.telegram]
chat_id = "@novastan_en"
[editions.en.channels.twitter]
[editions.en.channels.newsletter]
from_email = "newsletter@novastan.example"
"""

# Footer variants per language, in the house style (each one read as a footer by
# distributor.ingest.footer, which the generated set is checked against).
FOOTERS = {
    "de": [
        None,  # the original
        "Noch mehr Zentralasien findet ihr auf Telegram und Twitter. Abonniert auch unseren wöchentlichen Newsletter.",
        "Mehr Zentralasien gibt es auf Telegram und X. Für Zentralasien direkt in eurer Mailbox abonniert unseren Newsletter.",
    ],
    "fr": [
        None,
        "Retrouvez-nous sur Telegram, Twitter et Facebook, et abonnez-vous à notre newsletter hebdomadaire.",
    ],
}


def vary(path: Path, i: int) -> tuple[str, str]:
    """The i-th copy of an example file: (file name, text)."""
    text = path.read_text(encoding="utf-8")
    lang = path.name[:2]
    stamp = f"Ausgabe {i}" if lang == "de" else f"édition {i}" if lang == "fr" else f"issue {i}"
    if path.suffix == ".txt":
        lines = text.rstrip("\n").split("\n")
        longest = max(range(len(lines)), key=lambda k: len(lines[k]))
        lines[longest] = f"{lines[longest]} ({stamp}.)"
        variants = FOOTERS.get(lang, [None])
        footer = variants[(i // 6) % len(variants)]  # i % 6 picks the example
        if footer and len(lines) > 4 and re.search(r"Telegram|Newsletter|newsletter", lines[-1]):
            lines[-1] = footer
        text = "\n".join(lines) + "\n"
    elif path.suffix == ".md":
        text = re.sub(r'(?m)^title: "', f'title: "({stamp}) ', text, count=1)
        # Each copy is its own article: its own url (ingest takes one url for one article).
        text = re.sub(r"(?m)^url: (\S+?)/?$", lambda m: f"url: {m.group(1)}-{i}/", text, count=1)
        text = text.replace("\n\nThe ", f"\n\nIn this {stamp}: the ", 1)
        if (i // 6) % 2:
            text = text.replace("every Monday", "every week")
    elif path.suffix == ".html":
        text = re.sub(r"<title>", f"<title>({stamp}) ", text, count=1)
        text = re.sub(r'(rel="canonical" href="[^"?]+?)/?(?=[?"])', lambda m: f"{m.group(1)}-{i}/", text, count=1)
        text = re.sub(r"<p>", f"<p>{stamp}. ", text, count=1)
    return f"{path.stem}-{i:04d}{path.suffix}", text


def write_articles(folder: Path, n: int) -> list[Path]:
    examples = sorted(p for p in EXAMPLES.iterdir() if p.is_file())
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        name, text = vary(examples[i % len(examples)], i)
        (folder / name).write_text(text, encoding="utf-8")
        out.append(folder / name)
    return out


# ------------------------------------------------------------------ the measured steps


def baseline(folder: Path) -> int:
    """The floor: find the files, read them, hash them."""
    n = 0
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            hashlib.sha256(path.read_bytes()).hexdigest()
            n += 1
    return n


def parse_all(files: list[Path]) -> int:
    for path in files:
        parse_file(path)
    return len(files)


class Db:
    """A fresh SQLite database per round, opened (and migrated) before the clock starts."""

    def __init__(self, work: Path, articles: Path):
        self.work, self.articles, self.count = work, articles, 0

    def fresh(self):  # type: ignore[no-untyped-def]
        self.count += 1
        cfg = self.work / f"distributor-{self.count}.toml"
        cfg.write_text(CONFIG.format(db=self.work / f"db-{self.count}.sqlite", articles=self.articles),
                       encoding="utf-8")
        settings = load_settings(cfg)
        return settings, Store.open(settings)


def run_ingest(settings, store, expect: str, n: int) -> int:  # type: ignore[no-untyped-def]
    (report,) = ingest(settings, store)
    if report.error or report.item_errors:
        raise SystemExit(f"ingest failed: {report.error or report.item_errors[:3]}")
    got = {"new": len(report.new), "unchanged": report.unchanged}[expect]
    if got != n:
        raise SystemExit(f"expected {n} {expect} articles, got {report.summary()}")
    return n


def timed(fn: Callable[[], int]) -> float:
    gc.collect()
    start = time.perf_counter()
    n = fn()
    return n / (time.perf_counter() - start)


def peak_memory(fn: Callable[[], object]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="a fast smoke run: 30 articles, 1 round")
    args = ap.parse_args()
    n, rounds = (30, 1) if args.quick else (args.articles, args.rounds)

    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        articles = work / "articles"
        files = write_articles(articles, n)
        db = Db(work, articles)

        # Check the generated articles once: all parse, all distinct, footers found.
        parsed = [parse_file(p) for p in files]
        distinct = len({json.dumps(a.to_json(), sort_keys=True, default=str) for a in parsed})
        with_channels = sum(1 for a in parsed if a.channels)

        # Warm-up (imports, template and regex caches, the first migration).
        baseline(articles)
        settings, store = db.fresh()
        with store:
            run_ingest(settings, store, "new", n)

        rates: dict[str, list[float]] = {"baseline": [], "parse": [], "ingest": [], "re-ingest": []}
        opens: list[float] = []
        for _ in range(rounds):
            rates["baseline"].append(timed(lambda: baseline(articles)))
            rates["parse"].append(timed(lambda: parse_all(files)))
            started = time.perf_counter()
            settings, store = db.fresh()
            opens.append(time.perf_counter() - started)
            with store:
                rates["ingest"].append(timed(lambda: run_ingest(settings, store, "new", n)))
                rates["re-ingest"].append(timed(lambda: run_ingest(settings, store, "unchanged", n)))
        store_open = statistics.median(opens)

        mem_base = peak_memory(lambda: baseline(articles))
        settings, store = db.fresh()
        with store:
            mem_ingest = peak_memory(lambda: run_ingest(settings, store, "new", n))
            mem_again = peak_memory(lambda: run_ingest(settings, store, "unchanged", n))
        db_size = (work / f"db-{db.count}.sqlite").stat().st_size
    finally:
        shutil.rmtree(work, ignore_errors=True)

    base = statistics.median(rates["baseline"])
    labels = {
        "baseline": "baseline (read + sha256)",
        "parse": "parse_file",
        "ingest": "ingest, fresh SQLite (parse+store+route)",
        "re-ingest": "re-ingest, nothing changed",
    }
    print(f"\n{'step':42} {'articles/s':>11} {'ms/article':>11} {'x baseline time':>16}   rounds (articles/s)")
    for key, label in labels.items():
        rate = statistics.median(rates[key])
        spread = " ".join(f"{r:.0f}" for r in rates[key])
        print(f"{label:42} {rate:11.0f} {1000 / rate:11.3f} {base / rate:15.1f}x   {spread}")
    print(f"\npeak traced memory (tracemalloc): baseline {mem_base / 1e6:.2f} MB, "
          f"ingest {mem_ingest / 1e6:.2f} MB, re-ingest {mem_again / 1e6:.2f} MB; "
          f"process maxrss {_maxrss_mb():.0f} MB")
    print(f"Store.open (create + migrate a fresh SQLite db, not in the figures above): {store_open * 1000:.0f} ms; "
          f"database after one ingest: {db_size / 1e6:.2f} MB")
    print(f"({n} articles from {len(list(EXAMPLES.iterdir()))} examples, {distinct} distinct, "
          f"{with_channels} naming channels; {rounds} round(s), median; {os.cpu_count()} CPUs)")


def _maxrss_mb() -> float:
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 if sys.platform != "darwin" else rss / 1e6


if __name__ == "__main__":
    main()
