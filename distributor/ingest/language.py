"""Language detection (ISO 639-1) for articles that do not say their language.

A deliberately small, deterministic detector: stop-word counts for the Latin
languages, letter sets for Cyrillic ones. Library detectors (langdetect and
friends) are seeded-random and drift between versions; an article must route
the same way on every run, so we prefer a detector we can read and test.

It answers with a confidence so the caller can decide when to trust it:
"sure" is used silently, "weak" is a guess that earns a warning, None means
the text gave nothing to go on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# The most frequent function words of each language. Words shared by several
# languages ("in", "de", "la") are fine: they raise every candidate equally.
_STOP_WORDS: dict[str, frozenset[str]] = {
    "de": frozenset(
        "der die das und ist nicht ein eine einen einem dem den des mit sich auf für von zu im "
        "auch es sie er wird werden hat haben sind war wie als aber oder noch nach bei aus über "
        "dass um nur kann vor seit ihr euch wir unsere unseren zum zur durch gegen diese dieser".split()
    ),
    "fr": frozenset(
        "le la les et est un une des du de que qui dans pour pas sur au aux avec ce cette il elle "
        "sont ont été par plus mais ou où ne se son sa ses leur nous vous être était entre depuis".split()
    ),
    "en": frozenset(
        "the and is are was were of to in that for on with as by this from at it an be has have "
        "not but or which their its they will been would who our you your more than".split()
    ),
    "es": frozenset(
        "el la los las y es de que en un una por con para no se su al lo como más pero sus le ya "
        "este está del también fue han".split()
    ),
    "it": frozenset(
        "il la le gli e è di che in un una per con non si sono del della dei al alla come più ma "
        "anche questo nel delle degli ha".split()
    ),
    "ru": frozenset(
        "и в не на что с по это как из за от для к о у же но он она они был была были также его "
        "ее её все так уже при во со чтобы или".split()
    ),
    "uk": frozenset(
        "і в не на що з по це як із за від для до та також його її вони був була є але щоб або "
        "вже при у".split()
    ),
}

# A word shared by n languages counts 1/n for each of them, so the words that
# tell languages apart decide, and a short text still gets a clear answer.
_WEIGHTS: dict[str, dict[str, float]] = {}
for _lang, _words in _STOP_WORDS.items():
    for _w in _words:
        _WEIGHTS.setdefault(_w, {})[_lang] = 0.0
for _w, _langs in _WEIGHTS.items():
    for _lang in _langs:
        _langs[_lang] = 1.0 / len(_langs)

# Letters that only one Cyrillic language uses; they settle ru vs uk quickly.
_UK_LETTERS = re.compile(r"[іїєґІЇЄҐ]")
_RU_LETTERS = re.compile(r"[ыэъёЫЭЪЁ]")
_CYRILLIC = re.compile(r"[а-яёіїєґА-ЯЁІЇЄҐ]")
_CYRILLIC_RUN = re.compile(r"[а-яёіїєґА-ЯЁІЇЄҐ]+")
_LATIN_RUN = re.compile(r"[a-zA-ZÀ-ÿ]+")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")

# Below these the text is too short to say anything.
_SURE_HITS = 4.0
_SURE_RATIO = 1.6
_MIN_CYRILLIC_LETTERS = 20


@dataclass(frozen=True)
class Guess:
    language: str
    confidence: Literal["sure", "weak"]


def detect_language(text: str) -> Guess | None:
    """The language of `text`, or None when there is nothing to go on."""
    cyrillic = _count(_CYRILLIC_RUN, text) if _CYRILLIC.search(text) else 0
    words = _lowered_words(text)
    # Latin letters are counted only when there is Cyrillic to compare them with.
    if cyrillic and cyrillic > _count(_LATIN_RUN, text):
        return _detect_cyrillic(text, words, cyrillic)
    return _detect_by_stop_words(words, ("de", "fr", "en", "es", "it"))


def _lowered_words(text: str) -> list[str]:
    """The words of the text, each lowercased. Every character but "İ" keeps
    its length and whether it is a letter (or an apostrophe) when lowercased
    (checked over all of Unicode in tests/ingest/test_parse_formats.py), so the
    words of the lowercased text are the lowercased words: one lower() and
    one findall instead of a lower() per word. (A Greek final sigma may come
    out as σ rather than ς: no stop word has either.)"""
    if "\u0130" in text:
        return list(map(str.lower, _WORD.findall(text)))
    return _WORD.findall(text.lower())


def _count(letters: re.Pattern[str], text: str) -> int:
    """How many characters of `text` the runs of `letters` cover (one list
    item per run, not per letter)."""
    return sum(map(len, letters.findall(text)))


def _detect_cyrillic(text: str, words: list[str], letters: int) -> Guess | None:
    uk_marks = len(_UK_LETTERS.findall(text))
    ru_marks = len(_RU_LETTERS.findall(text))
    by_words = _scores(words, ("ru", "uk"))
    uk = uk_marks + by_words["uk"]
    ru = ru_marks + by_words["ru"]
    if uk == ru:
        return None
    language = "uk" if uk > ru else "ru"
    sure = letters >= _MIN_CYRILLIC_LETTERS and max(uk, ru) >= _SURE_RATIO * min(uk, ru) + 2
    return Guess(language, "sure" if sure else "weak")


def _detect_by_stop_words(words: list[str], candidates: tuple[str, ...]) -> Guess | None:
    scores = _scores(words, candidates)
    ranked = sorted(candidates, key=lambda lang: (-scores[lang], candidates.index(lang)))
    best, runner_up = ranked[0], ranked[1]
    top, second = scores[best], scores[runner_up]
    if top == 0 or top == second:
        return None
    if top >= _SURE_HITS and top >= _SURE_RATIO * second:
        return Guess(best, "sure")
    return Guess(best, "weak")


def _scores(words: list[str], candidates: tuple[str, ...]) -> dict[str, float]:
    scores = dict.fromkeys(candidates, 0.0)
    # The stop words among the words, in their order, each with its weights for
    # these candidates (added up in the same order: the same floats).
    table = _WEIGHTS_FOR.get(candidates) or _weights_for(candidates)
    for pairs in filter(None, map(table.get, words)):
        for lang, weight in pairs:
            scores[lang] += weight
    return scores


def _weights_for(candidates: tuple[str, ...]) -> dict[str, tuple[tuple[str, float], ...]]:
    """word -> its (language, weight) pairs among the candidates, in _WEIGHTS' order."""
    table = {w: tuple((lang, weight) for lang, weight in langs.items() if lang in candidates)
             for w, langs in _WEIGHTS.items()}
    return {w: pairs for w, pairs in table.items() if pairs}


_WEIGHTS_FOR: dict[tuple[str, ...], dict[str, tuple[tuple[str, float], ...]]] = {
    c: _weights_for(c) for c in (("de", "fr", "en", "es", "it"), ("ru", "uk"))}
