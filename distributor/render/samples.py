"""Sample articles, one per language: what `distributor check` renders every
template with, and what the golden files in tests/render/golden/ show."""

from __future__ import annotations

import datetime as dt

from distributor.config import Settings
from distributor.errors import ConfigurationError, RenderError
from distributor.model import Article, Author
from distributor.render.env import Templates

_PUBLISHED = dt.datetime(2023, 3, 9, 10, 0, tzinfo=dt.timezone.utc)
ISSUE_DATE = dt.date(2023, 3, 10)

_TEXT = {
    "de": ("Kasachstan unterstützt Chinas Friedensplan für die Ukraine",
           "Kasachstan unterstützt den chinesischen 12-Punkte-Plan für Frieden in der Ukraine. "
           "Eine intensivere Annäherung an China muss dies aber nicht bedeuten.",
           "Jean Monéger", "Redakteur für Novastan", "Robin Roth", ("Kasachstan", "China")),
    "fr": ("Le Kazakhstan soutient le plan de paix chinois pour l'Ukraine",
           "Le Kazakhstan soutient le plan en 12 points de la Chine pour la paix en Ukraine. "
           "Cela ne signifie pas pour autant un rapprochement « sans limites » avec Pékin.",
           "Jean Monéger", "rédacteur pour Novastan", "", ("Kazakhstan", "Chine")),
    "en": ("Kazakhstan backs China's peace plan for Ukraine",
           "Kazakhstan supports China's 12-point plan for peace in Ukraine. "
           "That does not have to mean a closer alignment with Beijing & Moscow's \"limitless friendship\".",
           "Jean Monéger", "editor at Novastan", "Robin Roth", ("Kazakhstan", "Central Asia")),
    "ru": ("Казахстан поддержал мирный план Китая по Украине",
           "Казахстан поддерживает китайский план из 12 пунктов по урегулированию на Украине. "
           "Но это ещё не означает сближения с Пекином.",
           "Жан Монеже", "редактор Novastan", "", ("Казахстан", "Китай")),
}


def sample_article(language: str) -> Article:
    title, lede, author, role, translator, tags = _TEXT.get(language, _TEXT["en"])
    return Article(
        title=title,
        lede=lede,
        language=language,
        url=f"https://novastan.org/{language}/kasachstan-china-ukraine/",
        author=Author(author, role),
        translator=translator or None,
        tags=tags,
        published=_PUBLISHED,
    )


def try_render_all(settings: Settings, templates: Templates, language: str) -> list[str]:
    """Render every entry template for `language`; the problems found."""
    from distributor.render.email import render_confirm, render_digest
    from distributor.render.telegram import render_telegram
    from distributor.render.twitter import render_tweet

    article = sample_article(language)
    utm = settings.render.utm
    attempts = [
        lambda: render_telegram(article, templates=templates, utm=utm),
        lambda: render_telegram(article.replace(image="https://novastan.example/a.jpg"), templates=templates, utm=utm),
        lambda: render_tweet(article, templates=templates, utm=utm),
        # An untitled article (the seed has none) leads with its lede.
        lambda: render_telegram(article.replace(title=""), templates=templates, utm=utm),
        lambda: render_tweet(article.replace(title=""), templates=templates, utm=utm),
        lambda: render_digest([article.replace(title="")], templates=templates, language=language, name="Novastan",
                              issue_date=ISSUE_DATE, utm=utm),
        lambda: render_digest([article], templates=templates, language=language, name="Novastan",
                              issue_date=ISSUE_DATE, utm=utm),
        lambda: render_confirm(templates=templates, language=language, name="Novastan",
                               confirm_url="https://novastan.example/confirm/TOKEN"),
    ]
    problems = []
    for attempt in attempts:
        try:
            attempt()
        except (ConfigurationError, RenderError) as exc:
            problems.append(f"{exc} [language {language}]")
    return problems
