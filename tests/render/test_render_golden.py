"""Golden files: every template in every language, byte for byte.

Regenerate after an intended change with

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/render/test_render_golden.py

and review the diff in git like any other change.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from distributor.model import Author
from distributor.render.email import render_confirm, render_digest
from distributor.render.samples import ISSUE_DATE, sample_article
from distributor.render.telegram import render_telegram
from distributor.render.twitter import render_tweet

from .conftest import UNSUBSCRIBE, NEWSLETTER, TELEGRAM, TWITTER, TWITTER_THREAD, UTM

GOLDEN = Path(__file__).parent / "golden"
LANGUAGES = ("de", "fr", "en", "ru")
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1 to create it"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{name} differs from its golden file (UPDATE_GOLDEN=1 to accept)"


def meta(msg) -> str:
    data = msg.to_json()
    for key in ("text", "html"):
        data.pop(key, None)
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def long_lede(language: str) -> str:
    return " ".join([sample_article(language).lede] * 4)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_telegram_golden(lang, templates):
    article = sample_article(lang)
    msg = render_telegram(article, templates=templates, config=TELEGRAM, utm=UTM)
    check_golden(f"{lang}/telegram.html", msg.text + "\n")
    check_golden(f"{lang}/telegram.meta.json", meta(msg))
    caption = render_telegram(article.replace(image="https://novastan.example/img/kasachstan.jpg"),
                              templates=templates, config=TELEGRAM, utm=UTM)
    check_golden(f"{lang}/telegram-caption.html", caption.text + "\n")
    check_golden(f"{lang}/telegram-caption.meta.json", meta(caption))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_twitter_golden(lang, templates):
    article = sample_article(lang)
    msg = render_tweet(article, templates=templates, config=TWITTER, utm=UTM)
    check_golden(f"{lang}/twitter.txt", msg.text + "\n")
    check_golden(f"{lang}/twitter.meta.json", meta(msg))
    thread = render_tweet(article.replace(lede=long_lede(lang)), templates=templates, config=TWITTER_THREAD, utm=UTM)
    check_golden(f"{lang}/twitter-thread.txt", "\n--- next post ---\n".join(thread.parts) + "\n")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_digest_golden(lang, templates):
    first = sample_article(lang)
    second = sample_article(lang).replace(
        title=first.title + " (2)", author=Author("Robin Roth"), translator=None,
        image="https://novastan.example/img/2.jpg", url=first.url.replace("ukraine", "ukraine-2"))
    msg = render_digest([first, second], templates=templates, language=lang, name="Novastan",
                        issue_date=ISSUE_DATE, newsletter=NEWSLETTER, utm=UTM,
                        unsubscribe_url=UNSUBSCRIBE, archive_url=f"https://novastan.example/archive/{lang}/{{issue}}")
    check_golden(f"{lang}/digest.html", msg.html)
    check_golden(f"{lang}/digest.txt", msg.text)
    check_golden(f"{lang}/digest.meta.json", meta(msg))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_confirm_golden(lang, templates):
    msg = render_confirm(templates=templates, language=lang, name="Novastan",
                         confirm_url="https://novastan.example/confirm/abc123")
    check_golden(f"{lang}/confirm.html", msg.html)
    check_golden(f"{lang}/confirm.txt", msg.text)
    check_golden(f"{lang}/confirm.meta.json", meta(msg))


HOSTILE = dict(
    title='<b>Bold</b> & "quotes" \'single\' </i> <tg-spoiler> 👩‍👩‍👧‍👦🇰🇿 שלום עולם مرحبا 日本語のタイトル',
    lede=("Ein sehr langer Absatz & <mehr> mit Sätzen. " * 250).strip(),
)


def test_hostile_golden(templates):
    article = sample_article("de").replace(**HOSTILE)
    check_golden("hostile/telegram.html", render_telegram(article, templates=templates, utm=UTM).text + "\n")
    check_golden("hostile/twitter.txt", render_tweet(article, templates=templates, utm=UTM).text + "\n")
    msg = render_digest([article], templates=templates, language="de", name="Novastan <&>",
                        issue_date=ISSUE_DATE, newsletter=NEWSLETTER, utm=UTM,
                        unsubscribe_url=UNSUBSCRIBE)
    check_golden("hostile/digest.html", msg.html)
    check_golden("hostile/digest.txt", msg.text)


def test_untitled_golden(templates):
    """The seed has no title: every variant leads with its lede (a digest of
    one untitled and one titled article shows both shapes)."""
    article = sample_article("de").replace(title="")
    check_golden("untitled/telegram.html", render_telegram(article, templates=templates, utm=UTM).text + "\n")
    check_golden("untitled/twitter.txt", render_tweet(article, templates=templates, utm=UTM).text + "\n")
    msg = render_digest([article, sample_article("de")], templates=templates, language="de", name="Novastan",
                        issue_date=ISSUE_DATE, newsletter=NEWSLETTER, utm=UTM,
                        unsubscribe_url=UNSUBSCRIBE)
    check_golden("untitled/digest.html", msg.html)
    check_golden("untitled/digest.txt", msg.text)
