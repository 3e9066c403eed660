"""Pure rendering: data in, message out, every platform rule checked here.

    render_article(settings, article, "telegram" | "twitter" | "newsletter")
    render_edition_digest(settings, "de", articles, issue_date)
    check_templates(settings) -> ["file:line: problem", ...]
"""

from distributor.render.env import Templates
from distributor.render.message import RenderedMessage
from distributor.render.samples import check_templates
from distributor.render.variants import CHANNELS, render_article, render_edition_confirm, render_edition_digest

__all__ = [
    "CHANNELS",
    "RenderedMessage",
    "Templates",
    "check_templates",
    "render_article",
    "render_edition_confirm",
    "render_edition_digest",
]
