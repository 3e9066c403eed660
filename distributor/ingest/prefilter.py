"""A cheap, exact "can this regular expression match here?" before running it.

Python's regex engine is slow on case-insensitive alternations: it tries
every branch at every position (footer.py's channel names and calls to
action cost ~150 µs per paragraph each). Most paragraphs hold none of the
words those patterns are made of. `Needles(pattern)` reads the pattern once
(with the standard library's own regex parser) and collects the literal
strings a match cannot do without: for each alternative, the runs of plain
characters it must contain. `may_match(fold(text))` is then a few substring
tests. It never says no when the pattern could match, so

    needles.may_match(folded) or pattern.search(text) is None

always holds, and a caller that skips the search on a "no" gets the same
answer the search would have given. Anything the reader does not understand
(a back-reference, a conditional, an unknown opcode) is taken as "could
match anything": the prefilter is then always yes, never wrong.

Case: `fold` maps each character the way the regex engine compares them
under IGNORECASE (its simple lowercase, plus the engine's extra equivalences
such as "ı" with "i" and "ſ" with "s"), so a literal that matches a text
character case-insensitively has the same fold. A case-sensitive literal
matches only itself, whose fold is the same too. tests/ingest/test_prefilter.py
checks this for every character of every pattern's needles against the
engine, over all of Unicode.
"""

from __future__ import annotations

import re
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from collections.abc import Sequence
from typing import Any

# str.lower() is the engine's simple lowercase except for "İ" (it gives "i"
# and a combining dot above: the dot is dropped) and a final sigma. The
# engine also takes some lowercase letters as one ("ı" and "i", "ſ" and "s",
# "ς" and "σ", Cyrillic "в" and its rounded form…: re._casefix): each such
# group is mapped to one of its letters.


def _fixes() -> dict[int, int | None]:
    from re import _casefix  # type: ignore[attr-defined]

    parent: dict[int, int] = {}

    def root(c: int) -> int:
        while parent.get(c, c) != c:
            c = parent[c]
        return c

    for lower, others in _casefix._EXTRA_CASES.items():
        for other in others:
            a, b = sorted((root(lower), root(other)))
            parent[b] = a
    table: dict[int, int | None] = {c: root(c) for c in parent if root(c) != c}
    table[0x0307] = None
    return table


_FIXES = _fixes()
_FIX_CHARS = re.compile("[%s]" % "".join(re.escape(chr(c)) for c in sorted(_FIXES)))
_MAX_TERMS = 64  # a pattern whose needles would be more alternatives than this: always tried


def fold(text: str) -> str:
    """The text as the needles are compared with it (see the module doc)."""
    low = text.lower()
    return low.translate(_FIXES) if _FIX_CHARS.search(low) else low


Terms = list[frozenset[str]]  # any of these sets, every string of the set: a match needs one
_ALWAYS: Terms = [frozenset()]


class _Unknown(Exception):
    pass


class Needles:
    """The strings any match of `pattern` contains (see the module doc)."""

    __slots__ = ("pattern", "terms", "always")

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        try:
            terms = _sequence(list(sre_parse.parse(pattern.pattern, pattern.flags)))
        except (_Unknown, RecursionError, ValueError, TypeError, re.error):
            terms = _ALWAYS
        # Longest first within a set: the rarest string usually decides.
        self.terms: tuple[tuple[str, ...], ...] = tuple(
            tuple(sorted(t, key=len, reverse=True)) for t in terms)
        self.always = any(not t for t in self.terms)

    def may_match(self, folded: str) -> bool:
        """False only when `pattern` cannot match the text `folded` was folded from."""
        if self.always:
            return True
        for term in self.terms:
            for needle in term:
                if needle not in folded:
                    break
            else:
                return True
        return False

    def search(self, text: str, folded: str | None = None) -> re.Match[str] | None:
        """pattern.search(text), skipped when the needles say it cannot match."""
        if not self.may_match(fold(text) if folded is None else folded):
            return None
        return self.pattern.search(text)


class NeedleSet:
    """The needles of several patterns, looked for in a text in one pass:
    possible(folded) is the indices of the patterns whose needles are all
    there (each pattern's may_match), in order."""

    __slots__ = ("needles", "strings", "always", "_touched")

    def __init__(self, patterns: Sequence[re.Pattern[str]]) -> None:
        self.needles = tuple(Needles(p) for p in patterns)
        self.strings = tuple(sorted({s for n in self.needles for t in n.terms for s in t}))
        self.always = tuple(i for i, n in enumerate(self.needles) if n.always)
        # For each string, the patterns with a term that holds it.
        self._touched = {s: frozenset(i for i, n in enumerate(self.needles) for t in n.terms if s in t)
                         for s in self.strings}

    def possible(self, folded: str) -> tuple[int, ...]:
        present = {s for s in self.strings if s in folded}
        if not present:
            return self.always
        candidates = set(self.always).union(*(self._touched[s] for s in present))
        return tuple(i for i in sorted(candidates)
                     if self.needles[i].always or any(present.issuperset(t) for t in self.needles[i].terms))


def _product(a: Terms, b: Terms) -> Terms:
    """Both required: a term of each. When that makes too many terms, only the
    side with fewer is kept (requiring less is never wrong)."""
    if len(a) * len(b) > _MAX_TERMS:
        return a if len(a) <= len(b) else b
    return _simplest({x | y for x in a for y in b})


def _simplest(terms: set[frozenset[str]] | Terms) -> Terms:
    """Without the terms that ask more than another one does (a superset of
    it): they can never decide."""
    unique = sorted(set(terms), key=len)
    return [t for i, t in enumerate(unique) if not any(u <= t for u in unique[:i])]


def _sequence(items: list[Any]) -> Terms:
    """The terms of a sequence of parsed regex items: each element's terms,
    all required; a run of consecutive literals is one string."""
    terms: Terms = _ALWAYS
    run: list[str] = []

    def end_run() -> None:
        nonlocal terms
        if run:
            needle = fold("".join(run))
            if needle:
                terms = _product(terms, [frozenset((needle,))])
            run.clear()

    for op, av in items:
        if op is sre_constants.LITERAL:
            run.append(chr(av))
            continue
        end_run()
        if op is sre_constants.SUBPATTERN:
            terms = _product(terms, _sequence(list(av[-1])))
        elif op is sre_constants.ATOMIC_GROUP:
            terms = _product(terms, _sequence(list(av)))
        elif op is sre_constants.BRANCH:
            alternatives: Terms = []
            for branch in av[1]:
                alternatives.extend(_sequence(list(branch)))
            if any(not t for t in alternatives) or len(alternatives) > _MAX_TERMS:
                alternatives = _ALWAYS
            terms = _product(terms, _simplest(alternatives))
        elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT):
            low, _high, body = av
            if low >= 1:
                terms = _product(terms, _sequence(list(body)))
        elif op in (sre_constants.AT, sre_constants.IN, sre_constants.ANY, sre_constants.NOT_LITERAL,
                    sre_constants.ASSERT, sre_constants.ASSERT_NOT, sre_constants.CATEGORY):
            pass  # requires no particular string (a lookaround's text is not part of the match)
        else:
            raise _Unknown(op)  # GROUPREF, GROUPREF_EXISTS, …: no claim is made
    end_run()
    return terms
