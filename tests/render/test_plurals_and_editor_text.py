"""Plural forms per language ("1 new article", "5 новых статей") and an
editor's subject and intro checked before they reach a message."""

from __future__ import annotations

import datetime as dt

import pytest

from distributor.errors import RenderError
from distributor.render import i18n
from distributor.render.email import editor_intro, editor_subject, render_digest
from distributor.render.samples import sample_article
from .conftest import NEWSLETTER, UNSUBSCRIBE, UTM


@pytest.mark.parametrize("language, count, expected", [
    ("en", 1, "1 new article"), ("en", 2, "2 new articles"), ("en", 0, "0 new articles"),
    ("de", 1, "1 neuer Artikel"), ("de", 2, "2 neue Artikel"), ("de", 0, "0 neue Artikel"),
    ("fr", 1, "1 nouvel article"), ("fr", 0, "0 nouvel article"), ("fr", 2, "2 nouveaux articles"),
    ("ru", 1, "1 новая статья"), ("ru", 2, "2 новые статьи"), ("ru", 4, "4 новые статьи"),
    ("ru", 5, "5 новых статей"), ("ru", 11, "11 новых статей"), ("ru", 12, "12 новых статей"),
    ("ru", 14, "14 новых статей"), ("ru", 21, "21 новая статья"), ("ru", 22, "22 новые статьи"),
    ("ru", 25, "25 новых статей"), ("ru", 101, "101 новая статья"), ("ru", 111, "111 новых статей"),
    ("ru", 0, "0 новых статей"),
    ("kk", 1, "1 new article"),  # an unknown language falls back to English
])
def test_plural_forms(language, count, expected):
    assert i18n.plural(count, language) == expected


def test_every_language_has_every_plural_category_it_uses():
    for language, forms in i18n.NEW_ARTICLES.items():
        used = {i18n.plural_category(n, language) for n in range(0, 200)}
        assert used == set(forms), language


@pytest.mark.parametrize("language, one", [("de", "1 neuer Artikel"), ("fr", "1 nouvel article"),
                                           ("en", "1 new article"), ("ru", "1 новая статья")])
def test_a_digest_of_one_says_so_in_the_singular(templates, language, one):
    msg = render_digest([sample_article(language)], templates=templates, language=language, name="Novastan",
                        issue_date=dt.date(2025, 3, 14), newsletter=NEWSLETTER, utm=UTM, unsubscribe_url=UNSUBSCRIBE)
    assert one in msg.html and one in msg.text


@pytest.mark.parametrize("bad, message", [
    ("a\r\nBcc: x@example.org", "line break"), ("a\nb", "line break"), ("a\rb", "line break"),
    ("a\x00b", "control character"), ("   ", "empty"), ("x" * 201, "at most 200"),
])
def test_a_bad_subject_is_refused_with_a_clear_message(bad, message):
    with pytest.raises(RenderError, match=message):
        editor_subject(bad)


def test_a_subject_and_intro_are_tidied():
    assert editor_subject("  Wahlen   in Kasachstan ") == "Wahlen in Kasachstan"
    assert editor_subject(None) == ""
    assert editor_intro(" a\r\n\r\nb ") == "a\n\nb"
    with pytest.raises(RenderError, match="control character"):
        editor_intro("a\x1bb")
    with pytest.raises(RenderError, match="at most 2000"):
        editor_intro("x" * 2001)


def test_the_intro_is_escaped_and_the_subject_replaces_the_default(templates):
    msg = render_digest([sample_article("en")], templates=templates, language="en", name="Novastan",
                        issue_date=dt.date(2025, 3, 14), newsletter=NEWSLETTER, utm=UTM, unsubscribe_url=UNSUBSCRIBE,
                        subject="Our elections issue", intro='<img src=x onerror="alert(1)"> & more\n\nSecond')
    assert msg.subject == "Our elections issue"
    assert "<img src=x" not in msg.html and '&lt;img src=x onerror="alert(1)"&gt; &amp; more' in msg.html
    assert "Second</p>" in msg.html and "Here are this week's articles." not in msg.html
    assert "<title>Our elections issue</title>" in msg.html
