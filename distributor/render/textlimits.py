"""Counting and cutting text the way each platform counts it.

Everything here works on *plain* text. Markup is produced after cutting (the
templates escape), so a cut can never land inside a tag or an entity. A cut
lands at a sentence or word boundary; only a single word longer than the
whole budget is cut inside, and then never inside a URL, a hashtag or a
mention (those are dropped whole) nor inside a grapheme cluster.

Grapheme clusters are Unicode's extended grapheme clusters (UAX #29), as the
`regex` module's \\X finds them: ZWJ emoji sequences, flags, decomposed Hangul
syllables and Indic conjuncts are each one cluster, and no cut lands inside one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import regex

from distributor.render.telegram_html import utf16_len  # noqa: F401  (re-exported: Telegram's unit)

ELLIPSIS = "…"

# Sentence ends: . ! ? … (plus closing quotes/brackets) followed by a space, or a
# CJK full stop. The cut is made after the punctuation.
_SENTENCE_END = re.compile(r"[.!?…](?:[\"'»«“”’)\]]*)(?=\s)|[。！？]")
# Word boundaries: before a whitespace run, or after CJK punctuation.
_WORD_END = re.compile(r"(?=\s)|(?<=[，、。！？；：])")
_URLISH = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|www\.)|^\S+\.[a-z]{2,}(?:/\S*)?$", re.IGNORECASE)
# How far back a sentence end may be, relative to the best word cut, and still
# be preferred to it (a cut that throws away most of the budget is worse).
SENTENCE_MIN_SHARE = 0.7


# ------------------------------------------------------------ sanitising

_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # C0/C1 controls except \t \n \r
    "\ud800-\udfff"  # lone surrogates: not encodable as UTF-8
    "\ufeff\ufffe\uffff]"  # BOM and non-characters (X rejects them)
)


def clean(text: str | None, *, single_line: bool = True) -> str:
    """Text made safe to send anywhere: no control characters, no surrogates,
    normalised newlines; one line (whitespace runs collapsed) unless asked."""
    if not text:
        return ""
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if single_line:
        return " ".join(text.split())
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# ------------------------------------------------------------ pre-trimming

_URL_HINT = re.compile(r"[.。．｡]|://")
# A URL counts this much on X however long it is (twitter-text transformedURLLength).
TWITTER_URL_WEIGHT = 23


def pretrim(text: str, limit: int, *, url_aware: bool) -> tuple[str, bool]:
    """A prefix of `text` that is certainly over `limit` (or `text` itself).

    Counting is slow on long text (twitter-text is superlinear on 10,000 CJK
    characters), and nothing past this prefix could fit anyway: every
    grapheme cluster costs at least 1, on X a token that may hold a URL at
    least min(23, its clusters). Whitespace runs and link-like tokens are
    kept whole, so the later cut still never splits them.
    """
    if len(text) <= limit:  # no token costs more than its length: all of it is within the bound
        return text, False
    return _pretrim_scan(text, limit, url_aware=url_aware)


def _pretrim_scan(text: str, limit: int, *, url_aware: bool) -> tuple[str, bool]:
    """`pretrim`'s count, token by token."""
    cost = 0
    for m in re.finditer(r"\s+|\S+", text):
        token = m.group()
        if token[0].isspace() or (url_aware and _URL_HINT.search(token)):
            cost += (len(token) if token[0].isspace()
                     else min(TWITTER_URL_WEIGHT, _clusters(token, TWITTER_URL_WEIGHT)))
            if cost > limit:
                end = boundary_at_or_before(text, m.end())
                return text[:end], end < len(text)
            continue
        need = limit - cost + 1  # clusters of this token that push us over
        over = _cluster_end(token, need)
        if over is not None:
            # A cluster may start before the token (a mark after a space).
            return text[: boundary_at_or_before(text, m.start() + over)], True
        cost += _clusters(token, need)
    return text, False


def _clusters(s: str, cap: int) -> int:
    """Grapheme clusters in s, counting no further than cap."""
    n = 0
    for _ in _CLUSTER.finditer(s):
        n += 1
        if n >= cap:
            break
    return n


def _cluster_end(s: str, k: int) -> int | None:
    """The index just past the k-th cluster of s, or None if s has fewer."""
    n = 0
    for m in _CLUSTER.finditer(s):
        n += 1
        if n == k:
            return m.end()
    return None


# ------------------------------------------------------------ cutting


@dataclass(frozen=True)
class Cut:
    text: str  # what to show (with the ellipsis when cut)
    kept: int  # how many characters of the original were kept
    truncated: bool


def fit(text: str, fits: Callable[[str], bool], *, ellipsis: str = ELLIPSIS) -> Cut:
    """The longest cut of `text` for which `fits(candidate)` holds.

    `fits` is the platform's whole-message check (render + count), so what
    surrounds the field is accounted for exactly, whatever the template does.
    It must be monotonic: a shorter candidate never fits worse.
    """
    if fits(text):
        return Cut(text, len(text), False)
    if not fits(""):
        return Cut("", 0, bool(text))

    bounds = cluster_boundaries(text)

    def whole(head: str) -> str:
        """head, shortened to end on a cluster boundary of text."""
        end = len(head)
        while end not in bounds:
            end -= 1
        return head[:end]

    def candidate(end: int) -> str:
        head = whole(text[:end].rstrip())
        if not head:
            return ""
        last = head.split()[-1] if head.split() else head
        if last[0] in "#@＃" or _URLISH.search(last):
            return head + " " + ellipsis  # keep a tag or link whole and unglued
        return whole(head.rstrip(",;:–—-")) + ellipsis

    word_ends = sorted({m.start() for m in _WORD_END.finditer(text) if 0 < m.start() < len(text)} & bounds)
    best = _largest(word_ends, lambda e: fits(candidate(e)))
    if best is not None:
        # Prefer the end of a sentence when it does not throw too much away.
        sentence_ends = [m.end() for m in _SENTENCE_END.finditer(text[:best + 1]) if m.end() in bounds]
        for end in reversed(sentence_ends):
            if end < best * SENTENCE_MIN_SHARE:
                break
            if end <= best:
                sentence = whole(text[:end].rstrip())
                cand = sentence + " " + ellipsis
                if fits(cand):
                    return Cut(cand, end, True)
        return Cut(candidate(best), best, True)

    # No word fits whole: the first word is longer than the budget.
    first = text.split()[0] if text.split() else text
    if first[0] in "#@" or _URLISH.search(first):
        return Cut("", 0, True)  # never show half a link or half a tag
    start = text.index(first)
    ends = sorted(e - start for e in bounds if start < e < start + len(first))
    best = _largest(ends, lambda e: fits(first[:e] + ellipsis))
    if best is None:
        return Cut("", 0, True)
    return Cut(first[:best] + ellipsis, start + best, True)


def _largest(sorted_ends: list[int], ok: Callable[[int], bool]) -> int | None:
    """Binary search: the largest end for which ok() holds (ok is monotonic)."""
    lo, hi, found = 0, len(sorted_ends) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        if ok(sorted_ends[mid]):
            found = sorted_ends[mid]
            lo = mid + 1
        else:
            hi = mid - 1
    return found


_CLUSTER = regex.compile(r"\X")


def cluster_boundaries(s: str) -> set[int]:
    """Every index of s where a cut splits no grapheme cluster (0 and len(s) too)."""
    return {0, *(m.end() for m in _CLUSTER.finditer(s))}


def boundary_at_or_before(s: str, i: int) -> int:
    """The last cluster boundary of s at or before index i."""
    if i >= len(s):
        return len(s)
    last = 0
    for m in _CLUSTER.finditer(s):
        if m.end() > i:
            break
        last = m.end()
    return last
