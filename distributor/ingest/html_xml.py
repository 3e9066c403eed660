"""HTML read by lxml in C, when the markup is also XML: the fast path of
html_reader.read_html.

Markup that is well-formed XML once HTML's named entities are written as
character references parses to the very tree html.parser gives (tags nest
as written, text runs between tags are the same strings), so lxml can read
it. Three things HTML pages always have are made XML first, each in a way
that leaves html.parser's tree as it was:

- a leading doctype is dropped (html.parser ends it at the first ">", and
  Beautiful Soup keeps it as a Doctype node, which no walk reads);
- a void element written without its slash (`<meta charset="utf-8">`,
  `<br>`, `<img src="…">`) gets one: html.parser closes these at once;
- `<script>` and `<style>` may hold text (never elements: html.parser reads
  their content as raw text). That text is not read: both are dropped
  before anything is, and Beautiful Soup's get_text() leaves their strings
  out (Script, Stylesheet), as xml_strings() does.

Anything else, or anything where the two could differ, goes to Beautiful
Soup: CDATA, processing instructions, any other declaration, a control
character reference, a tab or newline inside an attribute value (XML turns
it into a space), mixed-case or prefixed names, <template>/<rt>/<rp> with
content, a void element with content, or any XML error at all. The
differential test (tests/ingest/test_ingest_scale.py) compares both paths.
"""

from __future__ import annotations

import re
from typing import Any

from distributor.ingest.document import BLOCK_SET, HEADINGS, Para, bare_links, clean
from distributor.ingest.footer import Link

_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
# Declarations and CDATA; "<!-->" and "<!--->" are whole (empty) comments to an
# HTML5 parser (html.parser since Python 3.13.4) but open one in XML.
_XML_DECLARATION = re.compile(r"<!(?!--)|<!--->?")
# A tab or newline in a quoted attribute value.
_ATTR_WHITESPACE = re.compile(r"=\s*(?:\"[^\"\t\n]*[\t\n][^\"]*\"|'[^'\t\n]*[\t\n][^']*')")
_CHARREF = re.compile(r"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")
_XML_PREDEFINED = frozenset(("amp", "lt", "gt", "quot", "apos"))
_MULTI_VALUED = frozenset(("class", "rel", "rev", "accept-charset", "headers", "accesskey", "dropzone"))
# Beautiful Soup keeps the strings of these apart from the text (Script, Stylesheet, TemplateString…).
_STRING_CONTAINERS = frozenset(("script", "style", "template", "rt", "rp"))
# Of those, the two html.parser reads as raw text (no elements inside): they may hold text here.
_RAW_TEXT = frozenset(("script", "style"))
_VOID = frozenset(("area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "menuitem", "meta",
                   "param", "source", "track", "wbr", "basefont", "bgsound", "command", "frame", "image", "isindex",
                   "nextid", "spacer"))
# html.parser's doctype: "<!doctype", any case, to the first ">"; after
# nothing but white space and comments (which hold no "--" in XML).
_LEADING_DOCTYPE = re.compile(r"\A(\s*(?:<!--(?:(?!--).)*-->\s*)*)<!doctype[^>]*>", re.IGNORECASE | re.DOTALL)
# A void element's start tag without its slash, every attribute quoted (an
# unquoted or bare attribute is left alone, and XML refuses it).
_VOID_START = re.compile(r"<(%s)((?:\s+[^\s\"'<>/=]+\s*=\s*(?:\"[^\"<]*\"|'[^'<]*'))*)\s*>"
                         % "|".join(sorted(_VOID, key=len, reverse=True)))
_xml_parser: Any = None


def _etree() -> Any:
    from lxml import etree

    return etree


def xml_tree(content: str) -> XmlTag | None:
    """The lxml element of `content` wrapped in one root, or None."""
    global _xml_parser
    try:
        from lxml import etree
    except ImportError:  # pragma: no cover - lxml is a dependency
        return None
    if "\r" in content:
        return None
    doctype = _LEADING_DOCTYPE.match(content)
    if doctype:
        content = doctype.group(1) + content[doctype.end():]
    if "<" in content:
        content = _VOID_START.sub(r"<\1\2/>", content)
    if "<?" in content or ("<!" in content and _XML_DECLARATION.search(content)) \
            or _ATTR_WHITESPACE.search(content):
        return None
    if "&#" in content:
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
    for _node in root.iter(etree.PI, etree.Entity):
        return None  # processing instructions, entities (comments are fine)
    for el in root.iter(etree.Element):
        tag = el.tag
        if tag != tag.lower() or ":" in tag or "{" in tag:
            return None
        if tag in _STRING_CONTAINERS and (len(el) or (el.text and tag not in _RAW_TEXT)):
            # html.parser reads <script>/<style> content as text, not tags, and
            # bs4 keeps the strings of these apart from the text (Script, Stylesheet…)
            return None
        if tag in _VOID and (len(el) or el.text):
            return None  # html.parser closes <br>, <img>, <meta>… at once: no children
        for name in el.keys():
            if name != name.lower() or "{" in name:
                return None
    return XmlTag(root, set())


class XmlTag:
    """An lxml element seen as the bs4 Tag html.parser would have made of it:
    .name, .get(), [], .get_text() (comments are not text)."""

    __slots__ = ("el", "name", "dropped")

    def __init__(self, el: Any, dropped: set[Any]) -> None:
        self.el, self.name, self.dropped = el, el.tag, dropped

    def get(self, key: str, default: Any = None) -> Any:
        value = self.el.get(key)
        if value is None:
            return default
        return value.split() if key in _MULTI_VALUED else value

    def __getitem__(self, key: str) -> Any:
        value = self.el.get(key)
        if value is None:
            raise KeyError(key)
        return value.split() if key in _MULTI_VALUED else value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, XmlTag) and other.el is self.el

    def __hash__(self) -> int:
        return id(self.el)

    def get_text(self, separator: str = "") -> str:
        return separator.join(xml_strings(self.el, self.dropped))


def xml_strings(el: Any, dropped: set[Any]) -> list[str]:
    """The text runs below el in document order (bs4's strings: not those of
    a <script> or <style>, nor of comments)."""
    out: list[str] = []

    def visit(node: Any) -> None:
        if node.text and node.tag not in _RAW_TEXT:
            out.append(node.text)
        for child in node:
            if child not in dropped and isinstance(child.tag, str):
                visit(child)
            if child.tail:
                out.append(child.tail)

    visit(el)
    return out


class XmlWalk:
    """The walks of html_reader's soup walk over an lxml tree; a decomposed
    element is left in place and skipped (its tail, a string after it, stays)."""

    def __init__(self, root: XmlTag) -> None:
        self.dropped: set[Any] = root.dropped
        self._wrapped: dict[Any, XmlTag] = {root.el: root}
        self._gone: set[Any] = set()
        self._gone_for = 0  # len(self.dropped) when _gone was made
        # node -> its tags, and len(self.dropped) then (read_html asks for them again and again)
        self._tags: dict[Any, tuple[int, list[XmlTag]]] = {}

    def _wrap(self, el: Any) -> XmlTag:
        tag = self._wrapped.get(el)
        if tag is None:
            tag = self._wrapped[el] = XmlTag(el, self.dropped)
        return tag

    def _iter(self, el: Any) -> Any:
        """The elements below el in document order, but those decomposed
        and everything in them (lxml's iterator, in C, then a filter)."""
        from lxml import etree

        elements = el.iterdescendants(etree.Element)
        if not self.dropped:
            return elements
        if self._gone_for != len(self.dropped):  # the set only grows
            gone: set[Any] = set()
            for d in self.dropped:
                gone.update(d.iter(etree.Element))
            self._gone, self._gone_for = gone, len(self.dropped)
        gone = self._gone
        return [e for e in elements if e not in gone]

    def tags(self, node: XmlTag) -> list[XmlTag]:
        """The tags below node in document order (a list the caller does not change)."""
        cached = self._tags.get(node.el)
        if cached is not None and cached[0] == len(self.dropped):
            return cached[1]
        wrap = self._wrap
        tags = [wrap(e) for e in self._iter(node.el)]
        self._tags[node.el] = (len(self.dropped), tags)
        return tags

    def first(self, node: XmlTag, name: str, attr: str | None = None) -> XmlTag | None:
        for e in self._iter(node.el):
            if e.tag == name and (attr is None or e.get(attr) is not None):
                return self._wrap(e)
        return None

    def decompose(self, tag: XmlTag) -> None:
        self.dropped.add(tag.el)  # (the set keeps the proxy alive, so identity holds)

    def block(self, tag: XmlTag) -> Para | None:
        dropped = self.dropped
        el = tag.el
        anchors: list[Any] = []
        if not dropped:
            for node in el.iterdescendants():
                name = node.tag
                if not isinstance(name, str) or name in BLOCK_SET or name == "br":
                    anchors.clear()
                    break  # a comment, a block inside or a line break: read as below
                if name == "a" and node.get("href") is not None:
                    anchors.append(node)
            else:
                # Nothing decomposed, and below it only inline elements: its text
                # is every text run below it, which lxml joins in C.
                text = clean(_etree().tostring(el, method="text", encoding="unicode", with_tail=False)
                             .replace("\n", " "))
                return self._para(tag, text, anchors) if text else None
        parts: list[str] = []

        def visit(node: Any) -> bool:
            if node.text:
                parts.append(node.text.replace("\n", " "))
            for child in node:
                name = child.tag
                if isinstance(name, str) and child not in dropped:
                    if name in BLOCK_SET:
                        return False  # el.find(_BLOCK_TAGS) is not None
                    if name == "br":
                        parts.append("\n")
                    elif name == "a" and child.get("href") is not None:
                        anchors.append(child)
                    if not visit(child):
                        return False
                if child.tail:
                    parts.append(child.tail.replace("\n", " "))
            return True

        if not visit(tag.el):
            return None
        text = clean("".join(parts))
        if not text:
            return None
        return self._para(tag, text, anchors)

    def _para(self, tag: XmlTag, text: str, anchors: list[Any]) -> Para:
        links: tuple[Link, ...] = ()
        for a in anchors:
            href = a.get("href").strip()
            if href.startswith(("http://", "https://", "/")):
                links += (Link(clean(" ".join(xml_strings(a, self.dropped))), href),)
        links += tuple(link for link in bare_links(text) if link.href not in {x.href for x in links})
        return Para(text, links, heading=tag.name in HEADINGS)

    def text(self, tag: XmlTag) -> str:
        parts: list[str] = []
        dropped = self.dropped

        def visit(node: Any) -> None:
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
        return clean("".join(parts))
