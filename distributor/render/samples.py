"""Sample articles, one per language: what `distributor check` renders every
template with (check_templates), and what the golden files in
tests/render/golden/ show."""

from __future__ import annotations

import datetime as dt

import jinja2

from distributor.config import Settings
from distributor.errors import ConfigurationError, RenderError
from distributor.model import Article, Author
from distributor.render import i18n
from distributor.render.email import render_confirm, render_digest
from distributor.render.env import Templates, display_path, syntax_error_at
from distributor.render.telegram import render_telegram
from distributor.render.twitter import render_tweet

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


def check_templates(settings: Settings) -> list[str]:
    """Problems with the templates, one line each ("file:line: message");
    empty when all is well. Used by `distributor check`.

    Parses every template file (outlet and built-in, every language folder),
    then renders each entry template with a sample article in each edition's
    language, so an undefined variable or a bad `extends` shows up too.
    """
    try:
        templates = Templates.from_settings(settings)
    except ConfigurationError as exc:
        return [str(exc)]
    problems: list[str] = []
    for base in (templates.outlet_dir, templates.builtin_dir):
        if base is None:
            continue
        for path in sorted(base.rglob("*.j2")):
            try:
                templates.env("en").parse(path.read_text(encoding="utf-8"), name=path.name, filename=str(path))
            except jinja2.TemplateSyntaxError as exc:
                problems.append(syntax_error_at(exc))
            except UnicodeDecodeError as exc:
                problems.append(f"{display_path(str(path))}: not UTF-8 text: {exc}")
    if problems:
        return problems
    languages = list(settings.editions) or list(i18n.STRINGS)
    for language in languages:
        for line in try_render_all(settings, templates, language):
            if line not in problems:
                problems.append(line)
    return problems
