"""Readers: plain text, Markdown with front matter, and HTML into one shape.

Each reader turns its format into a `Document`: paragraphs of plain text with
the links they hold, in reading order, plus whatever metadata the format
carries (front matter, <title>, og: tags). Deciding what a paragraph *is*
(lede, cross-link, author, footer) happens once, in parse.py, for all formats.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from bs4 import BeautifulSoup, NavigableString, Tag

from distributor.errors import ParseError
from distributor.ingest.footer import Link


@dataclass(frozen=True)
class Para:
    text: str
    links: tuple[Link, ...] = ()
    # True/False when the format says (Markdown "#", HTML <h2>); None when a
    # plain-text heuristic must decide.
    heading: bool | None = None


@dataclass
class Document:
    paras: list[Para]
    meta: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


_URL = re.compile(r"<?(https?://[^\s<>\"')\]]+[^\s<>\"')\].,;:!?])>?")
_SPACES = re.compile(r"[ \t\u00a0\u2009\u202f]+")


def _bare_links(text: str) -> tuple[Link, ...]:
    return tuple(Link(m.group(1), m.group(1)) for m in _URL.finditer(text))


def _clean(text: str) -> str:
    """Collapse runs of spaces (and &nbsp;) on each line; drop empty lines."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


# ------------------------------------------------------------------- text

_TITLE_PREFIX = re.compile(r"^(?:titel|title|titre|заголовок)\s*[:：]\s*(?P<title>\S.*)$", re.I)
_UNDERLINE = re.compile(r"^(?:=+|-+)$")
_SENTENCE_FINAL = tuple(".:;,!…")


def read_text(content: str) -> Document:
    """Plain text in the seed's shape: one paragraph per line.

    A title is taken from the text only when it is unmistakable: "Titel: …",
    a "# " line, an underlined first line, or a short first line without
    final punctuation standing alone before a blank line. The seed has none
    of these: its first line is the lede.
    """
    lines = content.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    meta: dict[str, Any] = {}
    title, rest = _title_line(lines)
    if title:
        meta["title"] = title
        lines = rest
    paras: list[Para] = []
    for block in _blocks(lines):
        if _looks_hard_wrapped(block):
            block = [" ".join(block)]
        for line in block:
            text = _clean(line)
            if text:
                paras.append(Para(text, _bare_links(text)))
    return Document(paras, meta)


def _title_line(lines: list[str]) -> tuple[str | None, list[str]]:
    if not lines:
        return None, lines
    first = lines[0].strip()
    m = _TITLE_PREFIX.match(first)
    if m:
        return m.group("title").strip(), lines[1:]
    if first.startswith("# "):
        return first[2:].strip(), lines[1:]
    if len(lines) > 2 and _UNDERLINE.match(lines[1].strip()):
        return first, lines[2:]
    stands_alone = len(lines) > 2 and not lines[1].strip() and any(line.strip() for line in lines[2:])
    if stands_alone and len(first) <= 150 and len(first.split()) <= 20 and not first.endswith(_SENTENCE_FINAL):
        return first, lines[2:]
    return None, lines


def _blocks(lines: list[str]) -> list[list[str]]:
    blocks: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b]


def _looks_hard_wrapped(block: list[str]) -> bool:
    """Lines broken at a fixed width (email-style) rather than one per paragraph:
    all short, and most of them stop mid-sentence. One-paragraph-per-line text
    like the seed ends nearly every line with punctuation."""
    if len(block) < 2:
        return False
    inner = [line.rstrip() for line in block[:-1]]
    if max(len(line) for line in block) > 100:
        return False
    mid_sentence = sum(1 for line in inner if not line.endswith(_LINE_FINAL))
    return mid_sentence * 2 > len(inner)


_LINE_FINAL = tuple(".!?:…\"“”»")


# --------------------------------------------------------------- markdown

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?P<yaml>.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_MD_HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<text>.*?)\s*#*\s*$")
_MD_RULE = re.compile(r"^(?:[-*_]\s*){3,}$")
_MD_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_MD_QUOTE = re.compile(r"^\s*>\s?")
# Link text and alt text hold no "[" (the innermost brackets are the link, as
# in CommonMark), so an unclosed "[" is never rescanned from every one after it.
_MD_IMAGE = re.compile(r"!\[(?P<alt>[^\[\]]*)\]\((?P<src>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
_MD_LINK = re.compile(r"\[(?P<text>[^\[\]]+)\]\((?P<href>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
_MD_AUTOLINK = re.compile(r"<(?P<href>https?://[^>\s]+)>")
# Emphasis spans at most 2,000 characters: an unmatched marker then costs a
# bounded scan, not one over the rest of the line from every marker after it.
_MD_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~)(?=\S)(.{1,2000}?)(?<=\S)\1")
_MD_CODE = re.compile(r"`([^`]*)`")


def _load_yaml(text: str) -> Any:
    """yaml.safe_load, with libyaml's C loader when present (the same
    values, ten times faster); an error is reported by the pure-Python
    loader, whose messages show where."""
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is not None:
        try:
            return yaml.load(text, Loader=loader)  # noqa: S506 - CSafeLoader is the safe loader
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)


def read_markdown(content: str) -> Document:
    meta: dict[str, Any] = {}
    m = _FRONT_MATTER.match(content)
    if m:
        try:
            loaded = _load_yaml(m.group("yaml"))
        except yaml.YAMLError as exc:
            raise ParseError(f"front matter is not valid YAML: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ParseError("front matter must be a mapping of keys to values")
        meta = {str(k).lower(): v for k, v in (loaded or {}).items()}
        content = content[m.end():]

    paras: list[Para] = []
    images: list[str] = []
    title: str | None = None
    for block in _md_blocks(content.split("\n")):
        heading = _MD_HEADING.match(block[0])
        if heading:
            text, links = _md_inline(heading.group("text"), images)
            if len(heading.group("hashes")) == 1 and title is None and not paras and "title" not in meta:
                title = text  # a leading "# Title" is the title, not a subheading
            elif text:
                paras.append(Para(text, links, heading=True))
            continue
        text, links = _md_inline(_md_join(block), images)
        text = _clean(text)
        if text:
            paras.append(Para(text, links, heading=False))
    if title:
        meta["title"] = title
    if images and not meta.get("image"):
        meta["image"] = images[0]
    return Document(paras, meta)


def _md_blocks(lines: list[str]) -> list[list[str]]:
    """Paragraphs; headings and list items stand alone; rules are dropped."""
    blocks: list[list[str]] = [[]]
    for raw in lines:
        line = _MD_QUOTE.sub("", raw)
        if not line.strip() or _MD_RULE.match(line.strip()):
            blocks.append([])
        elif _MD_HEADING.match(line.strip()) or _MD_LIST_ITEM.match(line):
            blocks.extend([[_MD_LIST_ITEM.sub("", line).strip()], []])
        else:
            blocks[-1].append(line)
    return [b for b in blocks if b]


def _md_join(block: list[str]) -> str:
    """Soft breaks join with a space; "  " or "\\" at the end is a hard break."""
    out = ""
    for line in block:
        hard = line.endswith("  ") or line.rstrip().endswith("\\")
        out += line.rstrip().removesuffix("\\").rstrip() + ("\n" if hard else " ")
    return out


def _md_inline(text: str, images: list[str]) -> tuple[str, tuple[Link, ...]]:
    for m in _MD_IMAGE.finditer(text):
        images.append(m.group("src"))
    text = _MD_IMAGE.sub("", text)
    links: list[Link] = []

    def keep_link(m: re.Match[str]) -> str:
        anchor = _strip_emphasis(m.group("text"))
        links.append(Link(anchor, m.group("href")))
        return anchor

    text = _MD_LINK.sub(keep_link, text)
    text = _MD_AUTOLINK.sub(lambda m: m.group("href"), text)
    text = _strip_emphasis(_MD_CODE.sub(r"\1", text))
    # Bare URLs in the text are links too; keep anchor order by position.
    known = {link.href for link in links}
    extra = [link for link in _bare_links(text) if link.href not in known]
    ordered = sorted(links + extra, key=lambda link: _position(text, link.text))
    return text, tuple(ordered)


def _strip_emphasis(text: str) -> str:
    previous = None
    while previous != text:  # nested: ***bold italic***
        previous, text = text, _MD_EMPHASIS.sub(r"\2", text)
    return text


def _position(text: str, needle: str) -> int:
    at = text.find(needle)
    return at if at >= 0 else len(text)


# ------------------------------------------------------------------- html

_BLOCK_TAGS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "figcaption", "dd", "dt")
_DROP_TAGS = ("script", "style", "noscript", "nav", "aside", "form", "iframe", "svg", "button", "template")
_PAGE_CHROME = ("header", "footer")
_CONTENT_SELECTORS = (".entry-content", "article", "main", '[role="main"]', ".post-content", "body")


def read_html(content: str) -> Document:
    """A WordPress post body (feed content) or a whole page.

    The tree is Beautiful Soup's (html.parser), or for markup that is also
    well-formed XML the same tree read by lxml in C (_xml_tree: WordPress
    content is, and Beautiful Soup's tree building was most of an ingest).
    It is searched with plain walks, not find_all()/select_one(), whose
    generic matching cost much of the rest. Each helper says which bs4 call
    it stands for: the results are the same."""
    fast = _xml_tree(content) if XML_FAST_PATH else None
    if fast is not None:
        soup, walk = fast, _XmlWalk(fast)
    else:
        soup, walk = BeautifulSoup(content, "html.parser"), _SOUP_WALK
    _tags, _first, _html_block, _html_text = walk.tags, walk.first, walk.block, walk.text
    tags = _tags(soup)
    meta = _html_meta(tags)
    for tag in [t for t in tags if t.name in _DROP_TAGS]:  # soup.find_all(_DROP_TAGS)
        walk.decompose(tag)
    found = _select_content(_tags(soup))
    root: Tag = found if found is not None else soup
    if root.name in ("body", "main") or root is soup:
        for tag in [t for t in _tags(root) if t.name in _PAGE_CHROME]:  # root.find_all(_PAGE_CHROME)
            walk.decompose(tag)

    h1 = _first(soup, "h1")
    if h1 is not None and _clean(h1.get_text(" ")):
        meta["title"] = _clean(h1.get_text(" "))

    paras: list[Para] = []
    for el in [t for t in _tags(root) if t.name in _BLOCK_SET]:  # root.find_all(_BLOCK_TAGS)
        if el.name == "h1":
            continue  # the title
        para = _html_block(el)
        if para is not None:
            paras.append(para)
    if not paras:
        # Feed content without <p>: text separated by <br> or newlines.
        text = _html_text(root)
        paras = [Para(line, _bare_links(line), heading=False) for line in text.split("\n") if line]
    if "image" not in meta:
        img = _first(root, "img", "src")
        if img is not None:
            meta["image"] = img["src"]
    return Document(paras, meta)


_BLOCK_SET = frozenset(_BLOCK_TAGS)
_HEADINGS = frozenset(("h2", "h3", "h4", "h5", "h6"))


class _SoupWalk:
    """The walks over a Beautiful Soup tree."""

    @staticmethod
    def tags(node):  # type: ignore[no-untyped-def]
        return _tags(node)

    @staticmethod
    def first(node, name, attr=None):  # type: ignore[no-untyped-def]
        return _first(node, name, attr)

    @staticmethod
    def block(el):  # type: ignore[no-untyped-def]
        return _html_block(el)

    @staticmethod
    def text(el):  # type: ignore[no-untyped-def]
        return _html_text(el)

    @staticmethod
    def decompose(tag) -> None:  # type: ignore[no-untyped-def]
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


def _select_content(tags: list[Tag]) -> Tag | None:
    """The first of _CONTENT_SELECTORS that matches, as soup.select_one() of
    each in turn would find it."""
    first: dict[str, Tag] = {}
    for t in tags:
        classes = t.get("class") or ()
        if isinstance(classes, str):
            classes = classes.split()
        for key, hit in ((".entry-content", "entry-content" in classes), ("article", t.name == "article"),
                         ("main", t.name == "main"), ('[role="main"]', t.get("role") == "main"),
                         (".post-content", "post-content" in classes), ("body", t.name == "body")):
            if hit and key not in first:
                first[key] = t
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
            if name in _BLOCK_SET:
                return None  # el.find(_BLOCK_TAGS) is not None
            if name == "br":
                parts.append("\n")
            elif name == "a" and node.get("href") is not None:
                anchors.append(node)
    text = _clean("".join(parts))
    if not text:
        return None
    links = tuple(
        Link(_clean(a.get_text(" ")), a["href"].strip())
        for a in anchors
        if a["href"].strip().startswith(("http://", "https://", "/"))
    )
    links += tuple(link for link in _bare_links(text) if link.href not in {x.href for x in links})
    return Para(text, links, heading=el.name in _HEADINGS)


def _html_text(el: Tag) -> str:
    """Visible text of an element; <br> becomes a line break."""
    parts: list[str] = []
    for node in el.descendants:
        if type(node) is NavigableString:  # not a Comment, CData or Doctype
            parts.append(str(node).replace("\n", " "))
        elif isinstance(node, Tag) and node.name == "br":
            parts.append("\n")
    return _clean("".join(parts))


def _html_meta(tags: list[Tag]) -> dict[str, Any]:
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
    title = prop("og:title") or (_clean(title_tag.get_text(" ")) if title_tag else None)
    site = prop("og:site_name")
    if title:
        # "Titel - Novastan Deutsch" → "Titel"
        if site:
            title = re.sub(rf"\s*[-–|·]\s*{re.escape(site)}\s*$", "", title)
        meta["title"] = title
    return meta


def _attr_is(tag: Tag, attr: str, value: str) -> bool:
    """bs4's attrs={attr: value} match: the value, or one of a multi-valued
    attribute's values (rel="canonical nofollow"), or all of them joined."""
    got = tag.get(attr)
    if isinstance(got, list):
        return value in got or " ".join(got) == value
    return got == value


# ------------------------------------------------------------------- html as XML
#
# Markup that is well-formed XML once HTML's named entities are written as
# character references parses to the very tree html.parser gives (tags nest
# as written, text runs between tags are the same strings), so lxml can read
# it. Anything else, or anything where the two could differ, goes to
# Beautiful Soup: a doctype, CDATA, processing instructions, a control
# character reference, a tab or newline inside an attribute value (XML turns
# it into a space), mixed-case or prefixed names, or any XML error at all.

XML_FAST_PATH = True  # off: always Beautiful Soup (the tests compare both)
_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
_XML_UNSAFE = re.compile(r"<!(?!--)|<\?|=\s*\"[^\"]*[\t\n][^\"]*\"|=\s*'[^']*[\t\n][^']*'")
_CHARREF = re.compile(r"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")
_XML_PREDEFINED = frozenset(("amp", "lt", "gt", "quot", "apos"))
_MULTI_VALUED = frozenset(("class", "rel", "rev", "accept-charset", "headers", "accesskey", "dropzone"))
_STRING_CONTAINERS = frozenset(("script", "style", "template", "rt", "rp"))
_VOID = frozenset(("area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "menuitem", "meta",
                   "param", "source", "track", "wbr", "basefont", "bgsound", "command", "frame", "image", "isindex",
                   "nextid", "spacer"))
_xml_parser = None


def _xml_tree(content: str):  # type: ignore[no-untyped-def]
    """The lxml element of `content` wrapped in one root, or None."""
    global _xml_parser
    try:
        from lxml import etree
    except ImportError:  # pragma: no cover - lxml is a dependency
        return None
    if "\r" in content or _XML_UNSAFE.search(content):
        return None
    for m in _CHARREF.finditer(content):
        code = int(m.group(1), 16) if m.group(1) else int(m.group(2))
        if code < 32 or 127 <= code <= 159 or code > 0x10FFFF:
            return None
    if "&" in content:
        from bs4.dammit import EntitySubstitution

        table = EntitySubstitution.HTML_ENTITY_TO_CHARACTER
        unknown = False

        def ref(m: re.Match[str]) -> str:
            nonlocal unknown
            name = m.group(1)
            if name in _XML_PREDEFINED:
                return m.group(0)
            chars = table.get(name)
            if chars is None:
                unknown = True
                return m.group(0)
            return "".join(f"&#{ord(c)};" for c in chars)

        content = _ENTITY.sub(ref, content)
        if unknown:
            return None
    if _xml_parser is None:
        _xml_parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False,
                                      huge_tree=False, recover=False)
    try:
        root = etree.fromstring(f"<distributor-root>{content}</distributor-root>", _xml_parser)
    except (etree.XMLSyntaxError, ValueError):
        return None
    for el in root.iter():
        tag = el.tag
        if isinstance(tag, str):
            if tag != tag.lower() or ":" in tag or "{" in tag:
                return None
            if tag in _STRING_CONTAINERS and (len(el) or el.text):
                # html.parser reads <script>/<style> content as text, not tags, and
                # bs4 keeps the strings of these apart from the text (Script, Stylesheet…)
                return None
            if tag in _VOID and (len(el) or el.text):
                return None  # html.parser closes <br>, <img>, <meta>… at once: no children

            for name in el.attrib:
                if name != name.lower() or "{" in name:
                    return None
        elif tag is not etree.Comment:
            return None  # processing instructions, entities
    return _XmlTag(root, set())


class _XmlTag:
    """An lxml element seen as the bs4 Tag html.parser would have made of it:
    .name, .get(), [], .get_text() (comments are not text)."""

    __slots__ = ("el", "name", "dropped", "_attrs")

    def __init__(self, el, dropped: set) -> None:  # type: ignore[no-untyped-def]
        self.el, self.name, self.dropped, self._attrs = el, el.tag, dropped, None

    def _attributes(self) -> dict:
        if self._attrs is None:
            self._attrs = {k: (v.split() if k in _MULTI_VALUED else v) for k, v in self.el.attrib.items()}
        return self._attrs

    def get(self, key: str, default=None):  # type: ignore[no-untyped-def]
        return self._attributes().get(key, default)

    def __getitem__(self, key: str):  # type: ignore[no-untyped-def]
        return self._attributes()[key]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _XmlTag) and other.el is self.el

    def __hash__(self) -> int:
        return id(self.el)

    def get_text(self, separator: str = "") -> str:
        return separator.join(_xml_strings(self.el, self.dropped))


def _xml_strings(el, dropped: set) -> list[str]:  # type: ignore[no-untyped-def]
    """The text runs below el in document order (bs4's strings)."""
    out: list[str] = []

    def visit(node) -> None:  # type: ignore[no-untyped-def]
        if node.text and isinstance(node.tag, str):
            out.append(node.text)
        for child in node:
            if child not in dropped and isinstance(child.tag, str):
                visit(child)
            if child.tail:
                out.append(child.tail)

    visit(el)
    return out


class _XmlWalk:
    """The walks of _SoupWalk over an lxml tree; a decomposed element is left
    in place and skipped (its tail, a string after it, stays)."""

    def __init__(self, root: _XmlTag) -> None:
        self.dropped: set = root.dropped

    def _iter(self, el):  # type: ignore[no-untyped-def]
        """The elements below el in document order, but those decomposed
        and everything in them (lxml's iterator, in C, then a filter)."""
        from lxml import etree

        elements = el.iterdescendants(etree.Element)
        if not self.dropped:
            return elements
        gone = set()
        for d in self.dropped:
            gone.update(d.iter(etree.Element))
        return [e for e in elements if e not in gone]

    def tags(self, node: _XmlTag) -> list[_XmlTag]:
        return [_XmlTag(e, self.dropped) for e in self._iter(node.el)]

    def first(self, node: _XmlTag, name: str, attr: str | None = None) -> _XmlTag | None:
        for e in self._iter(node.el):
            if e.tag == name and (attr is None or e.get(attr) is not None):
                return _XmlTag(e, self.dropped)
        return None

    def decompose(self, tag: _XmlTag) -> None:
        self.dropped.add(tag.el)  # (the set keeps the proxy alive, so identity holds)

    def block(self, tag: _XmlTag) -> Para | None:
        parts: list[str] = []
        anchors: list[_XmlTag] = []
        dropped = self.dropped

        def visit(node) -> bool:  # type: ignore[no-untyped-def]
            if node.text:
                parts.append(node.text.replace("\n", " "))
            for child in node:
                name = child.tag
                if isinstance(name, str) and child not in dropped:
                    if name in _BLOCK_SET:
                        return False  # el.find(_BLOCK_TAGS) is not None
                    if name == "br":
                        parts.append("\n")
                    elif name == "a" and child.get("href") is not None:
                        anchors.append(_XmlTag(child, dropped))
                    if not visit(child):
                        return False
                if child.tail:
                    parts.append(child.tail.replace("\n", " "))
            return True

        if not visit(tag.el):
            return None
        text = _clean("".join(parts))
        if not text:
            return None
        links = tuple(
            Link(_clean(" ".join(_xml_strings(a.el, dropped))), a["href"].strip())
            for a in anchors
            if a["href"].strip().startswith(("http://", "https://", "/"))
        )
        links += tuple(link for link in _bare_links(text) if link.href not in {x.href for x in links})
        return Para(text, links, heading=tag.name in _HEADINGS)

    def text(self, tag: _XmlTag) -> str:
        parts: list[str] = []
        dropped = self.dropped

        def visit(node) -> None:  # type: ignore[no-untyped-def]
            if node.text and isinstance(node.tag, str):
                parts.append(node.text.replace("\n", " "))
            for child in node:
                if isinstance(child.tag, str) and child not in dropped:
                    if child.tag == "br":
                        parts.append("\n")
                    visit(child)
                if child.tail:
                    parts.append(child.tail.replace("\n", " "))

        visit(tag.el)
        return _clean("".join(parts))
