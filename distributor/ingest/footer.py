"""Channel detection: find an article's footer and the channels it names.

A Novastan footer is the last paragraph, e.g. "Noch mehr Zentralasien findet ihr
auf unseren Social Media Kanälen, schaut mal vorbei bei Twitter, Facebook,
Telegram, Linkedin oder Instagram. … zu unserem wöchentlichen Newsletter
anmelden." The routing of every article hangs on reading it right, and on not
reading a body sentence ("Die Regierung hat Telegram gesperrt.") as one.

A paragraph is a footer only when it sits among the last few paragraphs of the
body (the caller has already removed author, translator and cross-link lines)
and it
  (a) names two or more channels *and* speaks to the reader (a call to action
      or "uns/our/nous/наш…"), or
  (b) has one sentence that names a channel and holds a call to action, or
  (c) links to two or more social hosts.
Rule (a) is stricter than "names two channels": a closing body sentence such as
"Die Regierung hat Telegram und WhatsApp gesperrt." names two but is no footer.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from distributor.ingest.prefilter import Needles, NeedleSet, fold
from distributor.model import CHANNEL_KINDS, ChannelRef

# How many trailing body paragraphs may hold the footer.
FOOTER_WINDOW = 3


@dataclass(frozen=True)
class Link:
    """An anchor in a paragraph: its visible text and its target."""

    text: str
    href: str


# ------------------------------------------------------------ channel names

_I = re.IGNORECASE
# (kind, pattern) in no particular order; matching is on word boundaries.
# Case-sensitive where the name is also an everyday word ("Signal", "Threads").
_NAME_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("twitter", re.compile(r"\btwitter\w*", _I)),
    ("facebook", re.compile(r"\bfacebook\w*", _I)),
    ("telegram", re.compile(r"\btelegram\w*|\bтелеграм\w*", _I)),
    ("linkedin", re.compile(r"\blinked[ -]?in\b", _I)),
    ("instagram", re.compile(r"\binsta(?:gram)?\b|\bинстаграм\w*", _I)),
    ("youtube", re.compile(r"\byoutube\b|\bютуб\w*", _I)),
    ("tiktok", re.compile(r"\btik ?tok\b|\bтикток\w*", _I)),
    ("mastodon", re.compile(r"\bmastodon\b|\bмастодон\w*", _I)),
    ("bluesky", re.compile(r"\bblue ?sky\b|\bbsky\b", _I)),
    ("threads", re.compile(r"\bThreads\b")),
    ("vk", re.compile(r"\bvk(?:ontakte)?\b|\bвконтакте\b|\bВК\b", _I)),
    ("whatsapp", re.compile(r"\bwhats ?app\b|\bватсап\w*|\bвотсап\w*", _I)),
    ("signal", re.compile(r"\bSignal\b")),
    ("discord", re.compile(r"\bdiscord\b", _I)),
    ("dzen", re.compile(r"(?:\bяндекс\.)?\bдзен\w*|\bdzen\b|\byandex[ .]zen\b", _I)),
    ("podcast", re.compile(r"\bpodcast\w*|\bподкаст\w*", _I)),
    ("rss", re.compile(r"\brss\b", _I)),
    (
        "newsletter",
        re.compile(
            r"\bnewsletter\w*|\binfolettre\w*|\blettre d['’]information\b|\bрассылк\w*|\bрозсилк\w*"
            r"|\brundbrief\w*|\bmailing ?list\w*|\bmailingliste\w*"
            r"|\b(?:in|into|to|dans) (?:eure|eurer|deine|deiner|ihre|ihrer|your|votre) "
            r"(?:mailbox|inbox|postfach|boîte (?:mail|e-mail|aux lettres))\b|\binbox\b",
            _I,
        ),
    ),
)

# Each with the strings a match of it cannot do without (prefilter.py): most
# paragraphs name no channel, and 17 case-insensitive searches of each were
# a quarter of a feed's parse.
_NAMES = NeedleSet([pattern for _kind, pattern in _NAME_PATTERNS])

# A bare "X" is the network only in a context that says so, because "X" is
# also a letter, a placeholder and part of names ("Malcolm X"):
#   * "X (ex-Twitter)", "X (vormals Twitter)", "X/Twitter" and the like;
#   * an anchor "X" linking to x.com (handled by the host map below);
#   * an item of an enumeration of other channels: "auf X, Facebook und
#     Telegram", "Telegram oder X" — only directly next to another channel
#     name across a list separator, and not right after a capitalised word.
_BARE_X = re.compile(r"(?<![\w.-])X(?![\w-])")
_X_ALIAS = re.compile(
    r"^\s*(?:\(\s*(?:ex|formerly|vormals|ehemals|früher|anciennement|ранее|бывший)?[\s-]*twitter\s*\)|/\s*twitter\b)",
    _I,
)
_LIST_GAP = re.compile(r"^\s*(?:[,/|&;]|\bund\b|\boder\b|\bsowie\b|\bet\b|\bou\b|\band\b|\bor\b|\bи\b|\bили\b)\s*$", _I)
_WORD_BEFORE = re.compile(r"(\w+)\s*$")
_PREPOSITIONS = frozenset("auf bei on sur via in на в у".split())

# ---------------------------------------------------------------- link hosts

_HOSTS: dict[str, str] = {
    "twitter.com": "twitter", "mobile.twitter.com": "twitter", "x.com": "twitter",
    "t.me": "telegram", "telegram.me": "telegram", "telegram.dog": "telegram",
    "facebook.com": "facebook", "m.facebook.com": "facebook", "fb.com": "facebook", "fb.me": "facebook",
    "linkedin.com": "linkedin", "instagram.com": "instagram",
    "youtube.com": "youtube", "m.youtube.com": "youtube", "youtu.be": "youtube",
    "vk.com": "vk", "vk.ru": "vk", "tiktok.com": "tiktok", "bsky.app": "bluesky",
    "threads.net": "threads", "threads.com": "threads",
    "wa.me": "whatsapp", "whatsapp.com": "whatsapp", "chat.whatsapp.com": "whatsapp",
    "signal.me": "signal", "signal.group": "signal",
    "discord.gg": "discord", "discord.com": "discord",
    "dzen.ru": "dzen", "zen.yandex.ru": "dzen",
    "podcasts.apple.com": "podcast",
    "eepurl.com": "newsletter", "mailchi.mp": "newsletter", "sibforms.com": "newsletter",
}
_HOST_SUFFIXES: tuple[tuple[str, str], ...] = (
    (".list-manage.com", "newsletter"), (".substack.com", "newsletter"), (".sibforms.com", "newsletter"),
)
_NEWSLETTER_PATH = re.compile(r"/(?:newsletter|abonnement|anmeldung|subscribe|inscription|рассылк)", _I)
_MASTODON_PATH = re.compile(r"^/@[\w.]+/?$")
_RSS_PATH = re.compile(r"/feed/?$|\.rss$|/rss/?$", _I)

# ------------------------------------------------- calls to action, address

_CTA = re.compile(
    "|".join(
        (
            # de
            r"\bfolg(?:t|e|en sie) uns\b|(?:^|(?<=[.!?]\s)|(?<=\n))folg(?:t|e|en sie)\b[^.!?]{0,40}\b(?:auf|bei)\b"
            r"|\bschaut?\b[^.!?]{0,40}\bvorbei\b|\bbesucht uns\b"
            r"|\bfindet ihr (?:uns )?(?:auch )?(?:auf|bei)\b|\babonn?ier(?:t|e|en)\b|\b(?:meldet|melde) (?:euch|dich)\b"
            r"|\banmelden\b|\bmelden sie sich\b|\btretet\b|\btreten sie\b|\bbleib(?:t|en sie) auf dem laufenden\b",
            # fr
            r"\bsuivez[- ]nous\b|\bretrouvez[- ]nous\b|\brejoignez[- ]nous\b|\bmerci de nous suivre\b"
            r"|(?:^|(?<=[.!?]\s)|(?<=\n))(?:suivez|retrouvez)\b[^.!?]{0,40}\bsur\b"
            r"|\babonnez[- ]vous\b|\binscrivez[- ]vous\b|\bvous (?:y )?(?:inscrire|abonner)\b|\brecevez\b",
            # en
            r"\bfollow us\b|(?:^|(?<=[.!?]\s)|(?<=\n))follow\b[^.!?]{0,40}\bon\b|\bfind us on\b|\bjoin (?:us|our)\b|\bread us on\b"
            r"|\bcheck us out\b|\bsubscribe\b"
            r"|\bsign up\b|\bdon['’]t miss\b|\bstay (?:up to date|tuned|in touch)\b",
            # ru, uk
            r"\bподписывайтесь\b|\bподпишитесь\b|\bподписаться\b|\bчитайте нас\b|\bследите за\b"
            r"|\bприсоединяйтесь\b|\bпідписуйтесь\b|\bпідпишіться\b|\bстежте за\b|\bприєднуйтесь\b",
        )
    ),
    _I,
)
# The imperative "Follow <outlet> on …" counts only at the start of a sentence,
# so that "officials follow the orders posted on Telegram" stays a report.
# The paragraph speaks to its reader: the outlet's "us/our" or the reader's "you".
_ADDRESS = re.compile(
    r"\b(?:uns(?:ere\w*)?|euch|eure\w*|ihr|dich|nous|nos|notre|vous|votre|vos|us|our|you|your"
    r"|нас|наш\w*|вас|ваш\w*)\b",
    _I,
)
_CTA_NEEDLES = Needles(_CTA)
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


# ------------------------------------------------------------------ public


@functools.lru_cache(maxsize=4096)  # an outlet's footer links are the same in every article
def kind_of_url(href: str) -> str | None:
    """The channel kind a link points to, from its host and path."""
    try:
        parts = urlsplit(href.strip())
    except ValueError:
        return None
    host = (parts.hostname or "").lower().removeprefix("www.")
    if not host:
        return None
    if host in _HOSTS:
        return _HOSTS[host]
    for suffix, kind in _HOST_SUFFIXES:
        if host.endswith(suffix):
            return kind
    if _NEWSLETTER_PATH.search(parts.path):
        return "newsletter"
    if _MASTODON_PATH.match(parts.path):
        return "mastodon"
    if _RSS_PATH.search(parts.path):
        return "rss"
    return None


def channels_in(text: str, links: Sequence[Link] = ()) -> tuple[ChannelRef, ...]:
    """The channels `text` names or links, in order of first mention, each once."""
    return _channels_in(text, tuple(links))


@functools.lru_cache(maxsize=512)  # the footer is asked again (is_footer, then its channels)
def _channels_in(text: str, links: tuple[Link, ...]) -> tuple[ChannelRef, ...]:
    folded = fold(text)
    order: list[str] = []
    urls: dict[str, str] = {}
    for _, kind, url in sorted(_mentions(text, links, folded), key=lambda m: m[0]):
        if kind not in order:
            order.append(kind)
        if url and kind not in urls:
            urls[kind] = url
    return tuple(ChannelRef(kind, urls.get(kind)) for kind in order)


def is_footer(text: str, links: Sequence[Link] = ()) -> bool:
    """Does this paragraph, placed at the end of an article, read as a footer?"""
    social_links = {kind_of_url(link.href) for link in links} - {None, "newsletter", "rss"}
    if len(social_links) >= 2:
        return True
    folded = fold(text)
    if len(channels_in(text, links)) >= 2 and (_CTA_NEEDLES.search(text, folded) or _ADDRESS.search(text)):
        return True
    if not _CTA_NEEDLES.may_match(folded):
        return False  # nor can any sentence of it, a part of the same text
    return any(_CTA_NEEDLES.search(s) and channels_in(s, _links_within(s, links)) for s in _SENTENCE_END.split(text))


def find_footer(paragraphs: Sequence[tuple[str, Sequence[Link]]]) -> list[int]:
    """Indices of the footer paragraphs among the last FOOTER_WINDOW, or [].

    The footer starts at the first qualifying paragraph of the window; later
    qualifying paragraphs join it (a footer split in two), and so do short
    lines that only name a channel ("👉 Instagram: https://…") after a footer
    or after a call to action ending in a colon ("Folgt uns hier:").
    """
    start = max(0, len(paragraphs) - FOOTER_WINDOW)
    found: list[int] = []
    for i in range(start, len(paragraphs)):
        text, links = paragraphs[i]
        if is_footer(text, links):
            found.append(i)
        elif _is_channel_line(text, links) and (
            found or (i > start and _is_cta_lead(paragraphs[i - 1][0]))
        ):
            if not found:
                found.append(i - 1)
            found.append(i)
    return found


def normalise_kind(name: str) -> str | None:
    """A canonical kind for a name an editor wrote ("X", "email", "Linkedin")."""
    key = re.sub(r"[\s_.-]+", "", name.strip().lower())
    if key in _KIND_ALIASES:
        return _KIND_ALIASES[key]
    return key if key in CHANNEL_KINDS else None


_KIND_ALIASES = {
    "x": "twitter", "xcom": "twitter", "tweet": "twitter",
    "email": "newsletter", "mail": "newsletter", "digest": "newsletter", "infolettre": "newsletter",
    "tg": "telegram", "fb": "facebook", "ig": "instagram", "insta": "instagram",
    "yt": "youtube", "bsky": "bluesky", "vkontakte": "vk", "zen": "dzen", "yandexzen": "dzen",
}


# ----------------------------------------------------------------- helpers


def _mentions(text: str, links: Sequence[Link], folded: str) -> list[tuple[int, str, str | None]]:
    """(position, kind, url) for every channel name, bare "X" and link
    (`folded`: fold(text), for the names' prefilter)."""
    found: list[tuple[int, str, str | None]] = []
    spans: list[tuple[int, int]] = []
    for i in _NAMES.possible(folded):
        kind, pattern = _NAME_PATTERNS[i]
        for m in pattern.finditer(text):
            found.append((m.start(), kind, None))
            spans.append(m.span())
    if "X" in text:  # _BARE_X matches one
        for m in _BARE_X.finditer(text):
            if _x_means_twitter(text, m.start(), m.end(), spans):
                found.append((m.start(), "twitter", None))
    cursor = 0
    for link in links:
        link_kind = kind_of_url(link.href) or _single_kind(link.text)
        at = text.find(link.text, cursor) if link.text else -1
        if at >= 0:
            cursor = at + len(link.text)
        if link_kind:
            found.append((at if at >= 0 else len(text), link_kind, link.href))
    return found


def _x_means_twitter(text: str, start: int, end: int, name_spans: list[tuple[int, int]]) -> bool:
    if _X_ALIAS.match(text[end:]):
        return True
    before = _WORD_BEFORE.search(text[:start])
    if before and before.group(1)[0].isupper() and before.group(1).lower() not in _PREPOSITIONS:
        return False  # "Malcolm X", "Generation X"
    return any(
        (s >= end and _LIST_GAP.match(text[end:s])) or (e <= start and _LIST_GAP.match(text[e:start]))
        for s, e in name_spans
    )


@functools.lru_cache(maxsize=4096)
def _single_kind(anchor: str) -> str | None:
    kinds = {_NAME_PATTERNS[i][0] for i in _NAMES.possible(fold(anchor)) if _NAME_PATTERNS[i][1].search(anchor)}
    return kinds.pop() if len(kinds) == 1 else None


def _links_within(sentence: str, links: Sequence[Link]) -> list[Link]:
    return [link for link in links if link.text and link.text in sentence]


def _is_channel_line(text: str, links: Sequence[Link]) -> bool:
    return len(text.split()) <= 12 and len(channels_in(text, links)) == 1


def _is_cta_lead(text: str) -> bool:
    return text.rstrip().endswith(":") and bool(_CTA.search(text))
