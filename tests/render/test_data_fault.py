"""A Telegram refusal is blamed on what causes it: the article's data (a
RenderError on that delivery) or the template (a ConfigurationError)."""

from __future__ import annotations

import pytest

from distributor.errors import ConfigurationError, RenderError
from distributor.model import Article
from distributor.render.env import Templates
from distributor.render.telegram import render_telegram

from .conftest import TELEGRAM, UTM

ARTICLE = Article(title="Titel", lede="Ein Satz.", language="de", url="https://novastan.org/de/x/")


def outlet(tmp_path, body: str) -> Templates:
    (tmp_path / "telegram").mkdir()
    (tmp_path / "telegram" / "article.html.j2").write_text(body, encoding="utf-8")
    return Templates(tmp_path)


def test_markup_in_the_article_shown_unescaped_is_the_datas_fault(tmp_path):
    templates = outlet(tmp_path, '<b>{{ title }}</b>\n{{ lede | safe }}\n<a href="{{ url }}">mehr</a>')
    render_telegram(ARTICLE, templates=templates, config=TELEGRAM, utm=UTM)  # ordinary text is fine
    with pytest.raises(RenderError) as err:
        render_telegram(ARTICLE.replace(lede="Ein <div>Satz</div> mit Markup."), templates=templates,
                        config=TELEGRAM, utm=UTM)
    message = str(err.value)
    assert "the article's data (lede)" in message and "the data's fault" in message
    assert "unsupported tag <div>" in message


def test_a_template_that_telegram_refuses_is_the_templates_fault(tmp_path):
    templates = outlet(tmp_path, "<div>{{ title }}</div>\n{{ lede }}")
    with pytest.raises(ConfigurationError) as err:
        render_telegram(ARTICLE, templates=templates, config=TELEGRAM, utm=UTM)
    assert "telegram/article.html.j2 (de) produces HTML Telegram refuses" in str(err.value)
