"""Recognisers for the special lines around an article body, in de/fr/en/ru.

Cross-links ("Lest auch auf Novastan: …"), the author line ("Jean Monéger,
Redakteur für Novastan"), the translator line ("Aus dem Französischen von
Robin Roth"), and site boilerplate that is neither body nor footer (photo-of-
the-day navigation, support boxes, paywall stubs, leaked shortcodes). They are
taken out before the footer is looked for, so that "the last few paragraphs"
means the last few paragraphs of text.

Every function takes one paragraph's plain text and answers None when the line
is not of its kind. Wording outside Novastan's own (verified German) is
modelled on reference/footers-and-feeds.md §4.2.
"""

from __future__ import annotations

import functools
import re

from distributor.ingest.prefilter import Needles

_I = re.IGNORECASE

_CROSS_LINK = re.compile(
    r"^(?:"
    r"lest auch|lies auch|mehr zum thema|weiterlesen"
    r"|(?:à )?lire (?:aussi|également)|pour aller plus loin"
    r"|read (?:also|more)|see also|related"
    r"|читайте (?:также|ещё|еще|подробнее|також)"
    r")(?: (?:auf|bei|sur|on|на) [\w.]+)?\s*[:：]\s*(?P<title>\S.*)$",
    _I | re.DOTALL,
)

# Roles in both genders: Redakteur/Redakteurin, rédacteur/rédactrice,
# correspondant/correspondante, корреспондент/корреспондентка (English and
# "journaliste" have one form).
_ROLE_WORDS = (
    r"(?:(?:freie|leitende|stellvertretende)[rn]? )?"
    r"(?:(?:chef|co-?)?redakteur(?:in)?|korrespondent(?:in)?|autor(?:in)?|journalist(?:in)?)"
    r"|praktikant(?:in)?|reporter(?:in)?|volontär(?:in)?|übersetzer(?:in)?"
    r"|rédact(?:eur|rice)(?: en chef)?|correspondant(?:e)?|journaliste|reporter|contribut(?:eur|rice)"
    r"|envoyée? spéciale?|pigiste|stagiaire|traduct(?:eur|rice)"
    r"|(?:[\w.-]+['’]s )?(?:(?:chief |deputy |managing |contributing |senior )?editor(?:-in-chief)?"
    r"|correspondent|journalist|reporter|(?:staff )?writer|contributor|translator|intern|freelance \w+)"
    r"|корреспондент\w*|журналист\w*|редактор\w*|обозревател\w*|автор\w*"
)
# "Par …", "Von …", "By …", "Автор: …" may lead any author line.
_BY = r"(?:(?:von|by|par)\s+|(?:автор|текст)\s*[:：]\s*)?"
# A personal name: one to five capitalised words, with the usual particles.
# Case-sensitive inside the otherwise case-insensitive patterns: "Von der
# Regierung" must not read as a byline.
_CAPITALISED = r"[A-ZÀ-ÖØ-ÞА-ЯЁІЇЄ][\w’'.-]+"
_NAME = rf"(?-i:{_CAPITALISED} (?:(?:{_CAPITALISED}|von|van|de|du|der|la|le|al|ibn|bin) ){{0,3}}{_CAPITALISED})"
_AUTHOR_COMMA = re.compile(
    rf"^{_BY}(?P<name>{_NAME})\s*(?:,|\s[–—-])\s*(?P<role>(?:{_ROLE_WORDS})\b[^\n]{{0,80}}?)\.?$", _I
)
_AUTHOR_TWO_LINES = re.compile(rf"^(?P<name>{_NAME})\n(?P<role>(?:{_ROLE_WORDS})\b[^\n]{{0,80}}?)\.?$", _I)
_AUTHOR_BYLINE = re.compile(rf"^(?:von|by|par|автор\s*[:：]|текст\s*[:：])\s*(?P<name>{_NAME})\.?$", _I)

_TRANSLATOR = re.compile(
    r"^(?:"
    r"aus dem \w+(?: (?:ins deutsche )?übersetzt)? von|übersetzt(?: aus dem \w+)? von|übersetzung(?: aus dem \w+)?\s*[:：]"
    r"|tradu(?:it|ite)(?: de l['’]\w+| du \w+| de \w+)? par|traduction(?: de l['’]\w+| du \w+)?\s*(?:[:：]|par)"
    r"|translated(?: from (?:the )?\w+)? by|translation\s*[:：]"
    r"|перев(?:од|ела|ёл|ел)(?: с \w+)?\s*[:：]?|переклад(?: з \w+)?\s*[:：]?"
    r")\s*(?P<name>[^\n]{2,120}?)\.?$",
    _I,
)

_BOILERPLATE = re.compile(
    r"findet alle unsere bilder des tages|hier geht[’']s zu mehr bildern des tages"
    r"|find all our (?:pictures|photos) of the day|retrouvez toutes nos photos du jour"
    r"|^unterstützt novastan\b|als vereinsgetragene, unabhängige plattform lebt novastan"
    r"|^artikel im namen der redaktion von novastan"
    r"|le reste de cet article est réservé aux abonné|il vous reste \d+ ?% de cet article"
    r"|^déjà abonné|^abonnez-vous maintenant, pour seulement",
    _I,
)
# Searched in every paragraph: prefiltered by the phrases it is made of (prefilter.py).
_BOILERPLATE_NEEDLES = Needles(_BOILERPLATE)
_PAYWALL = re.compile(r"réservé aux abonné|il vous reste \d+ ?% de cet article|^déjà abonné", _I)
_SHORTCODE = re.compile(r"^\[/?[a-z0-9_]+(?:\s[^\]]*)?\]$", _I)
# Auto-excerpts end in a cut-off cross-link or an ellipsis marker: "… Lest… [...]".
_TRUNCATED_TAIL = re.compile(
    r"(?:\s*\b(?:lest|lire|read|find|findet|читайте)\w*\s*(?:…|\.\.\.))?\s*(?:\[\s*(?:…|\.\.\.|&hellip;|&#8230;)\s*\]|read more)\s*$"
    r"|\s*\b(?:lest|lire|read|find|findet|читайте)\s*(?:…|\.\.\.)\s*$",
    _I,
)
_CREDIT = re.compile(r"^(?:foto|kredit|bild|credit|photo|crédit|фото)\s*:\s*\S", _I)
_WRAPPERS = "*_()[]«»„“”\"' \u00a0"


def cross_link_title(text: str) -> str | None:
    """The linked title of a "read also" line, without quotes or a bare URL."""
    m = _CROSS_LINK.match(_unwrap(text))
    if not m:
        return None
    title = re.sub(r"\s*<?https?://\S+>?", "", m.group("title")).strip()
    return title.strip(_WRAPPERS).strip() or None


def author_of(text: str) -> tuple[str, str | None] | None:
    """(name, role) of an author line: "Name, Rolle", "Name⏎Rolle" or "Von Name"."""
    line = _unwrap(text)
    # (_AUTHOR_TWO_LINES matches only a line with a line break in it.)
    for pattern in (_AUTHOR_COMMA, _AUTHOR_TWO_LINES) if "\n" in line else (_AUTHOR_COMMA,):
        m = pattern.match(line)
        if m:
            return m.group("name").strip(), m.group("role").strip()
    m = _AUTHOR_BYLINE.match(line)
    if m:
        return m.group("name").strip(), None
    return None


def translator_of(text: str) -> str | None:
    m = _TRANSLATOR.match(_unwrap(text))
    return m.group("name").strip().strip(_WRAPPERS) if m else None


def is_boilerplate(text: str) -> bool:
    """Site chrome that is neither article text nor footer."""
    stripped = text.strip()
    return bool((stripped[:1] == "[" and _SHORTCODE.match(stripped)) or _BOILERPLATE_NEEDLES.search(_unwrap(text)))


def is_paywall(text: str) -> bool:
    return bool(_PAYWALL.search(_unwrap(text)))


def is_credit(text: str) -> bool:
    return bool(_CREDIT.match(_unwrap(text)))


def strip_truncation(text: str) -> str:
    """Remove an excerpt's cut-off tail ("… Lest… [...]", "Read More")."""
    tail = text.rstrip()
    # Every such tail ends in "…", "...", "]" or "more": most paragraphs are
    # passed without running the regex (which tries every position).
    if not tail.endswith(("…", "...", "]")) and tail[-4:].lower() != "more":
        return tail
    return _TRUNCATED_TAIL.sub("", text).rstrip()


@functools.lru_cache(maxsize=256)
def _unwrap(text: str) -> str:
    """The line without surrounding emphasis or parentheses: "(Traduit par X)".
    (Cached: each paragraph is asked for by four recognisers in a row.)"""
    line = text.strip()
    while len(line) > 2 and line[0] + line[-1] in ("()", "**", "__", "[]"):
        line = line[1:-1].strip()
    return line.strip("*_ ")
