"""HTML into a Document: a WordPress post body (feed content) or a whole page.

The tree is Beautiful Soup's (html.parser), or for markup that is also XML
the same tree read by lxml in C (html_xml.py: WordPress content is, and so
are pages once their doctype and void elements are seen to; Beautiful
Soup's tree building was most of an ingest). It is searched with plain
walks, not find_all()/select_one(), whose generic matching cost much of the
rest. Each helper says which bs4 call it stands for: the results are the same.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Protocol, TypeVar

from bs4 import BeautifulSoup, NavigableString, Tag

from distributor.ingest.document import BLOCK_SET, HEADINGS, Document, Para, bare_links, clean
from distributor.ingest.footer import Link
from distributor.ingest.html_xml import XmlWalk, xml_tree

XML_FAST_PATH = True  # off: always Beautiful Soup (the tests compare both)

_DROP_TAGS = ("script", "style", "noscript", "nav", "aside", "form", "iframe", "svg", "button", "template")
_PAGE_CHROME = ("header", "footer")
_CONTENT_SELECTORS = (".entry-content", "article", "main", '[role="main"]', ".post-content", "body")


class _Node(Protocol):
    """An element as read_html uses it: a bs4 Tag, or html_xml's XmlTag standing for one."""

    @property
    def name(self) -> str: ...
    def get(self, key: str, default: Any = None) -> Any: ...
    def __getitem__(self, key: str) -> Any: ...
    def get_text(self, separator: str = "") -> str: ...


N = TypeVar("N", bound=_Node)


class _Walk(Protocol[N]):
    """What read_html needs of a tree: a Beautiful Soup one (_SoupWalk) or an lxml one (XmlWalk)."""

    def tags(self, node: N) -> list[N]: ...
    def first(self, node: N, name: str, attr: str | None = None) -> N | None: ...
    def block(self, el: N) -> Para | None: ...
    def text(self, el: N) -> str: ...
    def decompose(self, tag: N) -> None: ...


def read_html(content: str) -> Document:
    """A WordPress post body (feed content) or a whole page (see the module doc)."""
    fast = xml_tree(content) if XML_FAST_PATH else None
    if fast is not None:
        return _read(fast, XmlWalk(fast))
    return _read(BeautifulSoup(content, "html.parser"), _SOUP_WALK)


def _read(soup: N, walk: _Walk[N]) -> Document:
    """read_html over either tree."""
    tags = walk.tags(soup)
    meta = _html_meta(tags)
    for tag in [t for t in tags if t.name in _DROP_TAGS]:  # soup.find_all(_DROP_TAGS)
        walk.decompose(tag)
    found = _select_content(walk.tags(soup))
    root = found if found is not None else soup
    if root.name in ("body", "main") or root is soup:
        for tag in [t for t in walk.tags(root) if t.name in _PAGE_CHROME]:  # root.find_all(_PAGE_CHROME)
            walk.decompose(tag)

    h1 = walk.first(soup, "h1")
    if h1 is not None and clean(h1.get_text(" ")):
        meta["title"] = clean(h1.get_text(" "))

    paras: list[Para] = []
    for el in [t for t in walk.tags(root) if t.name in BLOCK_SET]:  # root.find_all(BLOCK_TAGS)
        if el.name == "h1":
            continue  # the title
        para = walk.block(el)
        if para is not None:
            paras.append(para)
    if not paras:
        # Feed content without <p>: text separated by <br> or newlines.
        text = walk.text(root)
        paras = [Para(line, bare_links(line), heading=False) for line in text.split("\n") if line]
    if "image" not in meta:
        img = walk.first(root, "img", "src")
        if img is not None:
            meta["image"] = img["src"]
    return Document(paras, meta)


class _SoupWalk:
    """The walks over a Beautiful Soup tree."""

    @staticmethod
    def tags(node: Tag) -> list[Tag]:
        return _tags(node)

    @staticmethod
    def first(node: Tag, name: str, attr: str | None = None) -> Tag | None:
        return _first(node, name, attr)

    @staticmethod
    def block(el: Tag) -> Para | None:
        return _html_block(el)

    @staticmethod
    def text(el: Tag) -> str:
        return _html_text(el)

    @staticmethod
    def decompose(tag: Tag) -> None:
        tag.decompose()


_SOUP_WALK = _SoupWalk()


def _tags(node: Tag) -> list[Tag]:
    """Every tag below node, in document order."""
    return [d for d in node.descendants if isinstance(d, Tag)]


def _first(node: Tag, name: str, attr: str | None = None) -> Tag | None:
    """node.find(name) / node.find(name, attr=True)."""
    for d in node.descendants:
        if isinstance(d, Tag) and d.name == name and (attr is None or d.get(attr) is not None):
            return d
    return None


def _select_content(tags: list[N]) -> N | None:
    """The first of _CONTENT_SELECTORS that matches, as soup.select_one() of
    each in turn would find it."""
    first: dict[str, N] = {}
    for t in tags:
        name = t.name
        classes = t.get("class") or ()
        if classes:
            if isinstance(classes, str):
                classes = classes.split()
            if "entry-content" in classes:
                return t  # the first selector's first match: nothing later can come before it
            if "post-content" in classes and ".post-content" not in first:
                first[".post-content"] = t
        if name in ("article", "main", "body") and name not in first:
            first[name] = t
        if '[role="main"]' not in first and t.get("role") == "main":
            first['[role="main"]'] = t
    for selector in _CONTENT_SELECTORS:
        if selector in first:
            return first[selector]
    return None


def _html_block(el: Tag) -> Para | None:
    """One block element as a paragraph with its links; None for an empty
    one, or a wrapper whose inner blocks are read instead."""
    parts: list[str] = []
    anchors: list[Tag] = []
    for node in el.descendants:
        if type(node) is NavigableString:  # not a Comment, CData or Doctype
            parts.append(str(node).replace("\n", " "))
        elif isinstance(node, Tag):
            name = node.name
            if name in BLOCK_SET:
                return None  # el.find(BLOCK_TAGS) is not None
            if name == "br":
                parts.append("\n")
            elif name == "a" and node.get("href") is not None:
                anchors.append(node)
    text = clean("".join(parts))
    if not text:
        return None
    links = tuple(
        Link(clean(a.get_text(" ")), _attr(a, "href").strip())
        for a in anchors
        if _attr(a, "href").strip().startswith(("http://", "https://", "/"))
    )
    links += tuple(link for link in bare_links(text) if link.href not in {x.href for x in links})
    return Para(text, links, heading=el.name in HEADINGS)


def _attr(tag: Tag, name: str) -> str:
    """A single-valued attribute's value (bs4 types every attribute as maybe a list)."""
    value = tag[name]
    return value if isinstance(value, str) else " ".join(value)


def _html_text(el: Tag) -> str:
    """Visible text of an element; <br> becomes a line break."""
    parts: list[str] = []
    for node in el.descendants:
        if type(node) is NavigableString:  # not a Comment, CData or Doctype
            parts.append(str(node).replace("\n", " "))
        elif isinstance(node, Tag) and node.name == "br":
            parts.append("\n")
    return clean("".join(parts))


def _html_meta(tags: list[N]) -> dict[str, Any]:
    """Page metadata from the document's tags (all of them, in order)."""
    meta: dict[str, Any] = {}
    metas = [t for t in tags if t.name == "meta"]

    def prop(name: str) -> str | None:
        # soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name})
        tag = next((t for t in metas if _attr_is(t, "property", name)), None) \
            or next((t for t in metas if _attr_is(t, "name", name)), None)
        value = tag.get("content") if tag else None
        return value.strip() if isinstance(value, str) and value.strip() else None

    html = next((t for t in tags if t.name == "html"), None)
    lang = html.get("lang") if html is not None else None
    if isinstance(lang, str) and lang.strip():
        meta["language"] = lang.strip()
    canonical = next((t for t in tags if t.name == "link" and _attr_is(t, "rel", "canonical")
                      and t.get("href") is not None), None)
    url = (canonical["href"] if canonical else None) or prop("og:url")
    if url:
        meta["url"] = url
    if prop("og:image"):
        meta["image"] = prop("og:image")
    tags_ = [t["content"] for t in metas if _attr_is(t, "property", "article:tag") and t.get("content") is not None]
    if tags_:
        meta["tags"] = tags_
    published = prop("article:published_time")
    if published:
        try:
            meta["published"] = dt.datetime.fromisoformat(published)
        except ValueError:
            pass
    title_tag = next((t for t in tags if t.name == "title"), None)
    title = prop("og:title") or (clean(title_tag.get_text(" ")) if title_tag else None)
    site = prop("og:site_name")
    if title:
        # "Titel - Novastan Deutsch" → "Titel"
        if site:
            title = re.sub(rf"\s*[-–|·]\s*{re.escape(site)}\s*$", "", title)
        meta["title"] = title
    return meta


def _attr_is(tag: _Node, attr: str, value: str) -> bool:
    """bs4's attrs={attr: value} match: the value, or one of a multi-valued
    attribute's values (rel="canonical nofollow"), or all of them joined."""
    got = tag.get(attr)
    if isinstance(got, list):
        return value in got or " ".join(got) == value
    return got == value
