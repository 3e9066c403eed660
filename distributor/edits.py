"""What goes out for a stored article on one channel: the template's render,
or an editor's edit of it (store/edits.py, checked by render/edits.py).

`render_sent` is the one call for a post's text: the dispatcher's send, its
send without the photo, a correction's edit of a sent post, and the desk's
preview make it, so the page shows what is sent. `digest_articles` is the
digest's: its articles with a newsletter entry's edited text. An edit is used
only while it is current (written for the article's version); an out-of-date
one is not sent (the template's render of the new version is), and the desk
shows it as out of date until an editor saves it again or removes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from distributor.config import Settings
from distributor.errors import RenderError
from distributor.model import Article
from distributor.render import RenderedMessage, render_article
from distributor.render.edits import EditRefused, apply_edit, check_edit, edited_article
from distributor.store import Store, StoredArticle
from distributor.store.edits import Edit, Edits

__all__ = ["render_sent", "digest_articles", "current_edit"]


def current_edit(store: Store, stored: StoredArticle, kind: str) -> Edit | None:
    """The article's edit for `kind` if it is current, else None."""
    edit = Edits(store.engine).get(stored.id, kind)
    return edit if edit is not None and edit.current(stored.version) else None


# render_sent's `edit` when the caller did not read it: it is looked up.
LOOK_UP: Any = object()


def render_sent(settings: Settings, store: Store, stored: StoredArticle, kind: str, *,
                article: Article | None = None, edit: Edit | None = LOOK_UP) -> RenderedMessage:
    """The message for `kind` as it goes out (`article`: the stored one
    changed for this send, e.g. without its photo). A current edit is checked
    again against this render (RenderError if it no longer fits). `edit`: the
    article's edit for `kind` (current or not) when the caller read it with
    the article (the dispatcher's one query), else it is looked up."""
    article = article if article is not None else stored.article
    if edit is LOOK_UP:
        edit = current_edit(store, stored, kind)
    elif edit is not None and not edit.current(stored.version):
        edit = None
    if kind == "newsletter":
        return render_article(settings, edited_article(article, edit.text) if edit else article, kind)
    base = render_article(settings, article, kind)
    if edit is None:
        return base
    try:
        text = check_edit(kind, edit.text, base)
    except EditRefused as exc:
        raise RenderError(f"the editor's text (by {edit.actor}) no longer fits: {exc}") from None
    return apply_edit(base, kind, text)


def digest_articles(store: Store, stored: Sequence[StoredArticle]) -> list[Article]:
    """The articles as a digest issue shows them: a current newsletter edit's
    text in place of the entry's."""
    edits = Edits(store.engine).get_many([s.id for s in stored], "newsletter") if stored else {}
    out = []
    for s in stored:
        edit = edits.get(s.id)
        out.append(edited_article(s.article, edit.text) if edit is not None and edit.current(s.version)
                   else s.article)
    return out
