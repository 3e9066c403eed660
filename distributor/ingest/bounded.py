"""The parse of one article, bounded in time and memory.

A thread cannot be killed, so a watchdog thread could only report a runaway
parse, never stop it. The bound therefore has two parts:

- Small inputs (up to INLINE_MAX_CHARS, which covers real articles many
  times over) are parsed in-process: the size itself is the bound. Parsing
  is near linear at that size (about a second and tens of MB for 256 K
  characters of HTML on a slow machine).
- Larger inputs are parsed in a child process (`python -m
  distributor.ingest.bounded_worker`) that limits its own address space
  (RLIMIT_AS) and is killed when it is not done within
  PARSE_TIMEOUT_SECONDS. Both end in a ParseError naming the article.
  BeautifulSoup's cost grows faster than linearly with a page's size (4 MB
  of HTML takes ~20 s), so this is where the limits bite. A smaller input
  goes there too when a linear look finds what html.parser reads in
  quadratic time (hundreds of "<" that open no tag: needs_worker()).

Above that, the sources refuse anything over the source's max_bytes before it
is read or parsed at all.
"""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
from typing import Callable

from distributor.errors import ParseError
from distributor.model import Article, RawArticle

INLINE_MAX_CHARS = 256 * 1024
PARSE_TIMEOUT_SECONDS = 60.0
PARSE_MEMORY_BYTES = 1 << 30
# html.parser is quadratic in "<" that open no complete tag ("<a <a <a …": it
# rescans from each one to the end): more than this many go to the worker.
INLINE_MAX_STRAY_LT = 500
_COMPLETE_TAG = re.compile(r"<[^<>]*>")


def needs_worker(raw: RawArticle) -> bool:
    """Whether the size alone does not bound this parse (a cheap, linear look)."""
    if len(raw.content) > INLINE_MAX_CHARS:
        return True
    if raw.format == "text":
        return False
    opened = raw.content.count("<")
    return opened > INLINE_MAX_STRAY_LT and opened - len(_COMPLETE_TAG.findall(raw.content)) > INLINE_MAX_STRAY_LT


def parse_in_worker(raw: RawArticle, default_language: str | None, url_template: str | None = None) -> Article:
    """Parse `raw` in a child process (bounded_worker.py) limited to
    PARSE_MEMORY_BYTES and killed after PARSE_TIMEOUT_SECONDS; either is a
    ParseError naming the article."""
    size = f"{len(raw.content)} characters"
    payload = pickle.dumps((raw, default_language, url_template, PARSE_MEMORY_BYTES))
    proc = subprocess.Popen([sys.executable, "-m", "distributor.ingest.bounded_worker"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(payload, timeout=PARSE_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise ParseError(f"{raw.key}: parsing took longer than {PARSE_TIMEOUT_SECONDS:g}s ({size}); "
                         "refused") from None
    last = (err.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1][:200]
    if last.startswith("MemoryError"):
        raise ParseError(over_memory(raw))
    try:
        status, value = pickle.loads(out)
    except Exception:  # noqa: BLE001 - killed or crashed half-way through its answer
        raise ParseError(f"{raw.key}: the parse ({size}) failed in its worker "
                         f"(exit status {proc.returncode}): {last}") from None
    if status == "ok":
        return value
    raise ParseError(value)


def over_memory(raw: RawArticle) -> str:
    return (f"{raw.key}: parsing needed more than {PARSE_MEMORY_BYTES // (1 << 20)} MiB "
            f"({len(raw.content)} characters); refused")
