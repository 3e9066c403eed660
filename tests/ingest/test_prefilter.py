"""The regex prefilter (ingest/prefilter.py) never changes an answer: it may
only skip a search that could not have matched."""

from __future__ import annotations

import ast
import random
import re
from pathlib import Path

import pytest

from distributor.ingest import footer, markers, prefilter
from distributor.ingest.formats import read_html, read_markdown, read_text
from distributor.ingest.prefilter import Needles, fold

ROOT = Path(__file__).resolve().parents[2]
PREFILTERED = [p for _, p in footer._NAME_PATTERNS] + [footer._CTA, markers._BOILERPLATE]
# Letters the regex engine matches case-insensitively with letters they are not the lowercase of.
TRICKY = "İıſKÅẞσςΣµμ\u0307ᲀвᲂоᲃсᲄᲅтΘϑ"


def _texts() -> list[str]:
    """Paragraphs of every example and fixture article, and every string in the
    ingest tests (the footer tests' sentences above all)."""
    texts: list[str] = []
    readers = {".txt": read_text, ".md": read_markdown, ".html": read_html}
    for folder in (ROOT / "examples" / "articles", ROOT / "tests" / "fixtures" / "articles"):
        for path in sorted(folder.iterdir()):
            if path.suffix in readers:
                texts += [p.text for p in readers[path.suffix](path.read_text(encoding="utf-8")).paras]
    for path in sorted((ROOT / "tests" / "ingest").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) > 2:
                texts.append(node.value)
    rng = random.Random(3)
    variants = []
    for text in texts[:400]:
        variants += [text.upper(), text.title(), text.swapcase()]
        chars = list(text)
        for _ in range(max(1, len(chars) // 8)):
            i = rng.randrange(len(chars))
            chars[i] = rng.choice(TRICKY + chars[i].upper())
        variants.append("".join(chars))
    return texts + variants


TEXTS = _texts()


def test_fold_compares_letters_as_the_regex_engine_does():
    """Every character the engine takes for a needle's letter, with or without
    IGNORECASE, folds to that letter's fold (all of Unicode)."""
    alphabet = {c for p in PREFILTERED for term in Needles(p).terms for n in term for c in n}
    alphabet |= set("abcdefghijklmnopqrstuvwxyzäöüßéèêàçабвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґ")
    everything = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    for c in sorted(alphabet):
        for flags in (re.IGNORECASE, 0):
            for m in re.finditer(re.escape(c), everything, flags):
                assert fold(m.group()) == fold(c), (c, m.group(), hex(ord(m.group())))


def test_fold_keeps_the_order_of_a_text():
    """fold(part) is a part of fold(whole): a prefilter on a paragraph holds for its sentences."""
    for text in TEXTS[:600]:
        for cut in range(0, len(text), 7):
            assert fold(text[cut:cut + 23]) in fold(text)


@pytest.mark.parametrize("pattern", PREFILTERED + [footer._ADDRESS, markers._CROSS_LINK, markers._TRANSLATOR,
                                                    markers._AUTHOR_COMMA, markers._TRUNCATED_TAIL],
                         ids=lambda p: p.pattern[:30])
def test_needles_never_refuse_a_text_the_pattern_matches(pattern):
    needles = Needles(pattern)
    for text in TEXTS:
        if pattern.search(text):
            assert needles.may_match(fold(text)), text


def test_the_needles_are_the_strings_a_match_needs():
    def terms(source: str, flags: int = 0) -> set[frozenset[str]]:
        return set(map(frozenset, Needles(re.compile(source, flags)).terms))

    assert terms(r"\bTwitter\w*", re.I) == {frozenset({"twitter"})}
    assert terms(r"\btik ?tok\b|\bтикток") == {frozenset({"tik", "tok"}), frozenset({"тикток"})}
    assert terms(r"a(?:bc)?d") == {frozenset({"a", "d"})}
    assert terms(r"(?:xa|yb)z+w") == {frozenset({"xa", "z", "w"}), frozenset({"yb", "z", "w"})}
    assert terms(r"(?<=ab)cd(?!ef)") == {frozenset({"cd"})}
    assert terms(r"(?-i:Ab)c", re.I) == {frozenset({"ab", "c"})}
    # Nothing to require: always searched.
    assert Needles(re.compile(r"\w+|x")).always
    assert Needles(re.compile(r"(a)b\1")).always  # a back-reference is not read: no claim
    assert Needles(re.compile(r"(?:ab)*")).always


def test_the_prefilter_changes_no_answer(monkeypatch):
    """Footer, channel and boilerplate answers over the corpus, with the
    prefilter and with every search run."""

    def answers() -> list[object]:
        out: list[object] = []
        for text in TEXTS:
            links = [footer.Link(w, f"https://t.me/{w}") for w in text.split()[:2]]
            out.append((footer.channels_in(text), footer.channels_in(text, links), footer.is_footer(text),
                        footer.is_footer(text, links), markers.is_boilerplate(text)))
        return out

    filtered = answers()
    assert sum(1 for a in filtered if a[0]) > 50 and sum(1 for a in filtered if a[2]) > 20  # a real corpus
    monkeypatch.setattr(prefilter.Needles, "may_match", lambda self, folded: True)
    monkeypatch.setattr(prefilter.NeedleSet, "possible", lambda self, folded: tuple(range(len(self.needles))))
    footer._single_kind.cache_clear()  # (their answers were cached with the prefilter on)
    footer._channels_in.cache_clear()
    assert answers() == filtered


def test_a_needle_set_answers_as_each_pattern_s_needles_do():
    names = prefilter.NeedleSet([p for _, p in footer._NAME_PATTERNS] + [re.compile(r"\w+|x")])
    for text in TEXTS:
        folded = fold(text)
        assert names.possible(folded) == tuple(i for i, n in enumerate(names.needles) if n.may_match(folded))
