"""Cuts land only on grapheme-cluster boundaries (UAX #29, the oracle being the
`regex` module's \\X): ZWJ families, flags, decomposed Hangul, Indic conjuncts,
combining marks and prepended marks are never split, by fit() nor pretrim()."""

from __future__ import annotations

import regex
from hypothesis import example, given, settings
from hypothesis import strategies as st

from distributor.model import Article
from distributor.render.telegram import render_telegram
from distributor.render.textlimits import ELLIPSIS, clean, fit, pretrim
from distributor.render.twitter import render_tweet

from .conftest import TELEGRAM, TWITTER, UTM

HANGUL = "\u1112\u1161\u11ab"  # 한, decomposed into three jamo (NFD)
CONJUNCT = "\u0915\u094d\u0937"  # क्ष: ka + virama + ssa, one cluster (GB9c)
CLUSTERS = [
    HANGUL, CONJUNCT, "\u0938\u094d\u0924\u0947",  # स्ते
    "👨\u200d👩\u200d👧\u200d👦", "🇰🇿", "👍🏽", "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
    "e\u0301", "a\u0308\u0323", "\u0600\u0661",  # an Arabic prepended mark with its digit
    "\r\n", "a", "Ü", "日", "می\u200cخواهم",
]


def boundaries(s: str) -> set[int]:
    return {0, *(m.end() for m in regex.finditer(r"\X", s))}


def shown_prefix(cut_text: str) -> str:
    return cut_text.removesuffix(ELLIPSIS).rstrip(" ")


def test_decomposed_hangul_is_cut_between_syllables_only():
    word = HANGUL * 10
    cut = fit(word, lambda s: len(s) <= 8)
    body = shown_prefix(cut.text)
    assert body == HANGUL * 2 and cut.kept == 6


def test_a_devanagari_conjunct_is_never_split():
    word = CONJUNCT * 10
    cut = fit(word, lambda s: len(s) <= 8)
    assert shown_prefix(cut.text) == CONJUNCT * 2
    head, _ = pretrim("नमस्ते", 2, url_aware=False)
    assert head == "नमस्ते"  # न, म, स्ते: the third cluster is whole


def test_a_family_emoji_stays_whole_in_a_hard_cut():
    family = "👨\u200d👩\u200d👧\u200d👦"
    body = shown_prefix(fit(family * 5, lambda s: len(s) <= 12).text)
    assert body == family


cluster_text = st.lists(st.sampled_from([*CLUSTERS, " ", ". ", ", ", "\u0301", "\u200d"]), max_size=60).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=cluster_text, budget=st.integers(min_value=0, max_value=80))
@example(text=HANGUL * 3, budget=3)
@example(text=f"{CONJUNCT * 3} {HANGUL}", budget=5)
def test_fit_never_splits_a_grapheme_cluster(text, budget):
    text = clean(text)  # as every renderer gives its fields to fit()
    cut = fit(text, lambda s: len(s) <= budget)
    shown = shown_prefix(cut.text)
    assert text.startswith(shown)
    ok = boundaries(text)
    assert len(shown) in ok, (text, cut)
    assert cut.kept in ok


@settings(max_examples=300, deadline=None)
@given(text=cluster_text, budget=st.integers(min_value=0, max_value=80), url_aware=st.booleans())
def test_pretrim_never_splits_a_grapheme_cluster(text, budget, url_aware):
    head, _ = pretrim(text, budget, url_aware=url_aware)
    assert text.startswith(head) and len(head) in boundaries(text)


@settings(max_examples=60, deadline=None)
@given(lede=cluster_text.map(lambda s: s * 40))
def test_posts_never_split_a_grapheme_cluster(lede, templates):
    article = Article(title="", lede=lede, language="en", url="https://novastan.org/en/x/")
    tweet = render_tweet(article, templates=templates, config=TWITTER, utm=UTM)
    post = render_telegram(article.replace(image="https://novastan.example/a.jpg"),
                           templates=templates, config=TELEGRAM, utm=UTM)
    clean_lede = clean(lede)
    for shown in (tweet.text.split("\n")[0], post.text.split("\n")[0]):
        shown = shown_prefix(shown)
        if shown and clean_lede.startswith(shown):
            assert len(shown) in boundaries(clean_lede)


@settings(max_examples=300, deadline=None)
@given(text=cluster_text | st.text(max_size=120), slack=st.integers(min_value=0, max_value=40),
       url_aware=st.booleans())
def test_pretrim_of_a_text_no_longer_than_the_limit_is_the_text_as_the_count_finds(text, slack, url_aware):
    # pretrim skips the count when the text has no more code points than the limit: no token
    # costs more than its length (a cluster is one code point or more; a URL on X min(23, clusters)).
    from distributor.render.textlimits import _pretrim_scan

    limit = len(text) + slack
    assert pretrim(text, limit, url_aware=url_aware) == (text, False)
    assert _pretrim_scan(text, limit, url_aware=url_aware) == (text, False)
