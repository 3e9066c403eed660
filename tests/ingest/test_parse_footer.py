"""Footer detection: what is a footer, what merely mentions a channel, and
when a bare "X" is the network."""

from __future__ import annotations

from pathlib import Path

import pytest

from distributor.ingest.footer import Link, channels_in, find_footer, is_footer, kind_of_url, normalise_kind
from distributor.ingest.parse import parse_file, parse_raw
from distributor.model import CHANNEL_KINDS, ChannelRef, RawArticle

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "articles"

BODY = (
    "Kasachstan und Usbekistan haben ein neues Abkommen über Wasser aus dem Syrdarja unterzeichnet.\n"
    "Die Verhandlungen dauerten mehr als zwei Jahre, berichten Diplomaten beider Seiten in Taschkent.\n"
)


def text_article(*lines: str, body: str = BODY) -> RawArticle:
    return RawArticle(key="t.txt", name="t.txt", format="text", content=body + "\n".join(lines))


def kinds(article) -> list[str]:
    return [c.kind for c in article.channels]


# ------------------------------------------------------------ negatives


def test_the_reference_negative_example_is_not_a_footer():
    sentence = "Details folgen rechtzeitig vor dem Event im Newsletter und auf unseren Social Media Kanälen."
    assert not is_footer(sentence)
    a = parse_file(FIXTURES / "de-event-negative-example.txt")
    assert a.channels == () and a.footer is None
    assert sentence in a.body_text
    assert "no footer found: the article names no channels" in a.warnings


def test_a_body_that_mentions_telegram_has_no_footer():
    a = parse_file(FIXTURES / "de-telegram-im-text.txt")
    assert a.channels == () and a.footer is None
    assert "Die Regierung hat Telegram gesperrt." in a.body_text
    # Even the last paragraph naming two services is a report, not a footer.
    assert "Die Regierung hat Telegram und WhatsApp gesperrt" in a.body_text


def test_a_footer_like_paragraph_at_the_top_is_body():
    a = parse_file(FIXTURES / "hostile.html")
    assert a.channels == () and a.footer is None
    assert a.lede.startswith("Folgt uns auf Twitter, Facebook und Telegram – so beginnt")
    assert "document.write" not in a.body_text and "Instagram" not in a.body_text  # script, comment
    assert "Spenden für Familien in Karakalpakstan. Ihre Mitglieder treffen" in a.body_text


def test_a_call_to_action_in_the_middle_of_a_long_article_is_not_the_footer():
    a = parse_raw(text_article(
        "Folgt uns auf Telegram und Twitter, riefen die Aktivisten ihren Anhängern zu.",
        "Die Polizei reagierte am Abend mit Festnahmen im Zentrum der Stadt.",
        "Am Dienstag kamen die meisten Festgenommenen wieder frei.",
        "Ein Gericht soll im Frühjahr über die Fälle entscheiden.",
    ))
    assert a.channels == ()


def test_channel_in_footer_without_a_call_to_action_in_the_same_sentence():
    assert not is_footer("Wir berichten. Der Newsletter erschien gestern zum hundertsten Mal.")
    assert is_footer("Abonniert unseren Newsletter!")


# ------------------------------------------------------------ positives


def test_footer_names_only_the_newsletter():
    a = parse_raw(text_article("Für Zentralasien direkt in eurer Mailbox könnt ihr euch zu unserem Newsletter anmelden."))
    assert a.channels == (ChannelRef("newsletter"),)


@pytest.mark.parametrize(
    "footer, expected",
    [
        ("Suivez-nous sur Twitter, Facebook, Telegram et inscrivez-vous à notre newsletter hebdomadaire.",
         ["twitter", "facebook", "telegram", "newsletter"]),
        ("Recevez nos articles dans votre boîte mail : abonnez-vous à notre lettre d'information.", ["newsletter"]),
        ("Follow us on Bluesky and Mastodon, and sign up for our weekly newsletter.",
         ["bluesky", "mastodon", "newsletter"]),
        ("Get our stories straight to your inbox: subscribe here.", ["newsletter"]),
        ("Подписывайтесь на наш телеграм-канал и на рассылку.", ["telegram", "newsletter"]),
        ("Читайте нас в Telegram и на Яндекс.Дзен.", ["telegram", "dzen"]),
        ("Folgt uns auf LINKEDIN und linkedin, auf YouTube und TikTok.", ["linkedin", "youtube", "tiktok"]),
    ],
)
def test_footers_in_four_languages(footer, expected):
    assert kinds(parse_raw(text_article(footer))) == expected


def test_footer_by_links_alone():
    links = (Link("hier", "https://t.me/novastan_example"), Link("dort", "https://vk.com/novastan_example"))
    assert is_footer("Mehr gibt es hier und dort.", links)
    assert channels_in("Mehr gibt es hier und dort.", links) == (
        ChannelRef("telegram", "https://t.me/novastan_example"),
        ChannelRef("vk", "https://vk.com/novastan_example"),
    )


def test_footer_split_over_two_paragraphs_and_channel_lines():
    a = parse_raw(text_article(
        "Für weitere Inspiration schaut gerne auf unseren Social Media Kanälen vorbei:",
        "👉 Instagram: https://www.instagram.com/novastan_example/",
        "👉 TikTok: https://www.tiktok.com/@novastan_example",
    ))
    assert a.channels == (
        ChannelRef("instagram", "https://www.instagram.com/novastan_example/"),
        ChannelRef("tiktok", "https://www.tiktok.com/@novastan_example"),
    )
    assert a.footer.count("\n\n") == 2
    assert "Inspiration" not in a.body_text


def test_each_kind_once_in_first_mention_order_with_the_first_url():
    text = "Folgt uns auf Telegram, Twitter und nochmals Telegram."
    links = (Link("Telegram", "https://t.me/a"), Link("Telegram", "https://t.me/b"))
    assert channels_in(text, links) == (ChannelRef("telegram", "https://t.me/a"), ChannelRef("twitter"))


# --------------------------------------------------------------- bare X
# Decision (see footer.py): "X" is the network with a link to x.com, written
# "X (ex-Twitter)"/"X (vormals Twitter)", or as an item of an enumeration of
# other channels ("auf X, Facebook und Telegram"). Otherwise it is a letter.


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Folgt uns auf X (vormals Twitter).", ["twitter"]),
        ("Follow us on X (formerly Twitter) and Threads.", ["twitter", "threads"]),
        ("Suivez-nous sur X (ex-Twitter).", ["twitter"]),
        ("Folgt uns auf X, Facebook und Telegram.", ["twitter", "facebook", "telegram"]),
        ("Folgt uns auf Telegram oder X.", ["telegram", "twitter"]),
        ("Folgt uns auf X.", []),
        ("Malcolm X, Facebook und Telegram.", ["facebook", "telegram"]),
        ("Die Generation X und Telegram.", ["telegram"]),
        ("Der Faktor X spielt eine Rolle.", []),
    ],
)
def test_bare_x(text, expected):
    assert [c.kind for c in channels_in(text)] == expected


def test_bare_x_linked_to_x_com_is_twitter():
    links = (Link("X", "https://x.com/novastan_example"),)
    assert channels_in("Folgt uns auf X.", links) == (ChannelRef("twitter", "https://x.com/novastan_example"),)
    assert kinds(parse_raw(text_article("Folgt uns auf X und abonniert den Newsletter."))) == ["newsletter"]


# ------------------------------------------------------------ url hosts


@pytest.mark.parametrize(
    "url, kind",
    [
        ("https://twitter.com/a", "twitter"), ("https://mobile.twitter.com/a", "twitter"), ("https://x.com/a", "twitter"),
        ("https://t.me/a", "telegram"), ("https://telegram.me/a", "telegram"),
        ("https://www.facebook.com/a", "facebook"), ("https://fb.com/a", "facebook"),
        ("https://www.linkedin.com/company/a/", "linkedin"), ("https://instagram.com/a", "instagram"),
        ("https://www.youtube.com/@a", "youtube"), ("https://youtu.be/xyz", "youtube"),
        ("https://vk.com/a", "vk"), ("https://www.tiktok.com/@a", "tiktok"), ("https://bsky.app/profile/a", "bluesky"),
        ("https://mastodon.social/@novastan", "mastodon"), ("https://eepurl.com/abc", "newsletter"),
        ("https://novastan.us1.list-manage.com/subscribe?u=1", "newsletter"),
        ("https://novastan.org/de/newsletter-anmeldung/", "newsletter"),
        ("https://novastan.org/de/kirgistan/artikel/", None), ("mailto:a@b.c", None), ("not a url", None),
    ],
)
def test_kind_of_url(url, kind):
    assert kind_of_url(url) == kind


def test_normalise_kind():
    assert normalise_kind("X") == "twitter"
    assert normalise_kind("E-Mail") == "newsletter"
    assert normalise_kind("Linkedin") == "linkedin"
    assert normalise_kind("myspace") is None
    assert all(normalise_kind(kind) == kind for kind in CHANNEL_KINDS)


def test_find_footer_looks_only_at_the_last_paragraphs():
    footer = ("Folgt uns auf Twitter und Telegram.", ())
    body = ("Ein ganz normaler Absatz über Politik.", ())
    assert find_footer([body, body, body, footer]) == [3]
    assert find_footer([footer, body, body, body]) == []
    assert find_footer([]) == []


@pytest.mark.parametrize("footer, expected", [
    ("Folgt Novastan auf Telegram, Facebook und Instagram, um keinen Artikel zu verpassen.",
     ["telegram", "facebook", "instagram"]),
    ("Suivez Novastan sur Telegram et Instagram pour plus d'Asie centrale.", ["telegram", "instagram"]),
    ("Follow Novastan on Telegram and LinkedIn for more Central Asia.", ["telegram", "linkedin"]),
])
def test_a_call_to_follow_the_outlet_by_name_is_a_footer(footer, expected):
    assert is_footer(footer)
    assert kinds(parse_raw(text_article(footer))) == expected


@pytest.mark.parametrize("report", [
    "Die Behörden folgen dabei einer Vorgabe auf Telegram und WhatsApp, berichten Aktivisten.",
    "Les manifestants suivent les consignes publiées sur Telegram et WhatsApp.",
    "Officials follow the orders posted on Telegram and WhatsApp, activists say.",
])
def test_a_report_about_following_something_on_a_channel_is_not_a_footer(report):
    assert not is_footer(report)


def test_the_call_to_follow_may_open_a_later_sentence_of_the_paragraph():
    assert is_footer("Danke fürs Lesen. Folgt Novastan auf Telegram, Facebook und Instagram.")
    assert is_footer("That is all for today. Follow Novastan on Telegram and LinkedIn.")
