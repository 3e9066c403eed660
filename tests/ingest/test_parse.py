"""The article parser on real-shaped articles: the seed, the examples in four
languages, and the CLI's `parse --json` output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from distributor.cli import cli
from distributor.ingest.parse import NO_LINK, NO_TITLE, parse_file
from distributor.model import Article, Author, ChannelRef

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "articles"
FIXTURES = REPO / "tests" / "fixtures" / "articles"
SEED = EXAMPLES / "de-kasachstan-china-ukraine.txt"

SEED_KINDS = ["twitter", "facebook", "telegram", "linkedin", "instagram", "newsletter"]
SEED_LEDE = (
    "Kasachstan unterstützt den chinesischen 12-Punkte-Plan für Frieden in der Ukraine. Eine intensivere "
    "Annäherung an China muss dies aber nicht bedeuten. Peking und Astana begnügen sich laut dem Analysten "
    "Temur Umarov damit, ihrer üblichen Politik zu folgen."
)
SEED_FOOTER = (
    "Noch mehr Zentralasien findet ihr auf unseren Social Media Kanälen, schaut mal vorbei bei Twitter, "
    "Facebook, Telegram, Linkedin oder Instagram. Für Zentralasien direkt in eurer Mailbox könnt ihr euch "
    "auch zu unserem wöchentlichen Newsletter anmelden."
)
SEED_RELATED = [
    "Wie sich Russlands Beziehung zu Zentralasien im Jahre 2022 entwickelt hat",
    "China profitiert in Zentralasien von der Isolation Russlands",
]
SEED_HEADINGS = ["Eine Position der Neutralität", "Keine revolutionäre Annäherung", "Relativierte Distanzierung"]


def seed_lines() -> list[str]:
    return SEED.read_text(encoding="utf-8").splitlines()


def assert_seed_json(data: dict) -> None:
    """Every field the seed must give, on the JSON shape (used for both paths)."""
    assert data["language"] == "de"
    assert data["author"] == {"name": "Jean Monéger", "role": "Redakteur für Novastan"}
    assert data["translator"] == "Robin Roth"
    assert [r["title"] for r in data["related"]] == SEED_RELATED
    assert all(r["url"] is None for r in data["related"])
    assert [c["kind"] for c in data["channels"]] == SEED_KINDS
    assert all(c["url"] is None for c in data["channels"])
    assert data["footer"] == SEED_FOOTER
    assert data["lede"] == SEED_LEDE
    assert data["title"] == ""  # none given: never the file name turned into words
    assert NO_TITLE in data["warnings"]
    assert not any("footer" in w or "language" in w for w in data["warnings"])

    body = data["body_text"]
    lines = seed_lines()
    kept = [line for line in lines if not line.startswith("Lest auch")][: -3]  # minus author, translator, footer
    assert [line for line in body.split("\n") if line] == kept
    for gone in ("Lest auch auf Novastan", "Jean Monéger", "Robin Roth", "Noch mehr Zentralasien", "Newsletter"):
        assert gone not in body
    assert body.startswith(SEED_LEDE)
    assert body.rstrip().endswith("wird diese Politik beibehalten werden.")

    blocks = data["blocks"]
    assert [b["text"] for b in blocks if b["kind"] == "heading"] == SEED_HEADINGS
    assert blocks[0] == {"kind": "paragraph", "text": SEED_LEDE}
    assert len(blocks) == len(kept)


def test_seed_via_parse_file():
    article = parse_file(SEED)
    assert isinstance(article, Article)
    assert article.author == Author("Jean Monéger", "Redakteur für Novastan")
    assert article.channels == tuple(ChannelRef(kind) for kind in SEED_KINDS)
    assert article.guid == str(SEED)
    assert_seed_json(article.to_json())


def test_seed_via_cli_json():
    result = CliRunner().invoke(cli, ["parse", str(SEED), "--json"])
    assert result.exit_code == 0, result.output
    assert_seed_json(json.loads(result.output))


def test_seed_via_cli_text_output():
    result = CliRunner().invoke(cli, ["parse", str(SEED)])
    assert result.exit_code == 0, result.output
    assert "channels:   twitter, facebook, telegram, linkedin, instagram, newsletter" in result.output
    assert "author:     Jean Monéger (Redakteur für Novastan)" in result.output


def test_seed_under_its_original_hash_name_has_no_title_either(tmp_path):
    path = tmp_path / "000_912118c3959980c4.txt"
    path.write_bytes(SEED.read_bytes())
    article = parse_file(path)
    assert article.title == "" and NO_TITLE in article.warnings
    assert article.label.startswith("(untitled) Kasachstan unterstützt den chinesischen 12-Punkte-Plan")
    assert [c.kind for c in article.channels] == SEED_KINDS


def test_cli_reports_an_unreadable_file_in_one_line(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    result = CliRunner().invoke(cli, ["parse", str(empty)])
    assert result.exit_code == 2
    assert "empty" in result.output and str(empty) in result.output
    assert "Traceback" not in result.output


# ------------------------------------------------------------------ examples


def test_french_text_example():
    a = parse_file(EXAMPLES / "fr-ouzbekistan-coton-travail-force.txt")
    assert a.language == "fr"
    assert a.author == Author("Paul Giraud", "correspondant de Novastan à Tachkent")
    assert a.translator == "Claire Dumas"
    assert [(r.title, r.url) for r in a.related] == [
        ("En Ouzbékistan, la mer d'Aral continue de reculer", None),
        ("Les migrants d'Asie centrale face à la crise russe",
         "https://novastan.org/fr/ouzbekistan/migrants-crise-russe-example/"),
    ]
    assert [c.kind for c in a.channels] == SEED_KINDS
    assert a.footer.startswith("Suivez-nous sur Twitter")
    assert [b.text for b in a.blocks if b.kind == "heading"] == ["Des clusters au lieu des kolkhozes",
                                                              "Une main-d'œuvre saisonnière"]
    assert "Suivez-nous" not in a.body_text and "Traduit" not in a.body_text


def test_english_markdown_example_with_front_matter_and_linked_footer():
    a = parse_file(EXAMPLES / "en-kyrgyzstan-glaciers.md")
    assert a.title == "Kyrgyzstan's glaciers are melting faster than expected"
    assert a.language == "en"
    assert a.url == "https://novastan.org/en/kyrgyzstan/kyrgyzstan-glaciers-melting-example/"
    assert a.published.isoformat() == "2025-03-10T08:00:00+00:00"
    assert a.image.endswith("ak-shyirak-glacier-example.jpg")
    assert a.tags == ("Kyrgyzstan", "Environment", "Climate change", "Water")
    assert a.author == Author("Aidana Sultanova", "correspondent for Novastan")
    assert a.channels == (
        ChannelRef("telegram", "https://t.me/novastan_en_example"),
        ChannelRef("twitter", "https://x.com/novastan_en_example"),
        ChannelRef("facebook", "https://www.facebook.com/novastan.en.example"),
        ChannelRef("newsletter", "https://novastan.org/en/newsletter-example/"),
    )
    assert a.related[0].url == "https://novastan.org/en/uzbekistan/water-diplomacy-ferghana-example/"
    assert [b.text for b in a.blocks if b.kind == "heading"] == ["A glacier under observation", "Less water, sooner"]
    assert "**" not in a.body_text and "*Erlan" not in a.body_text and "Erlan Azisov" in a.body_text
    assert a.channels_override is None
    assert a.warnings == ()


def test_german_photo_post_has_no_footer_and_says_so():
    a = parse_file(EXAMPLES / "de-bild-des-tages-chorogh.txt")
    assert a.title == "Sowjetische Urbanität in Chorogh"
    assert a.language == "de"
    assert a.channels == () and a.footer is None
    assert "no footer found: the article names no channels" in a.warnings
    assert "Kredit: Joachim Bohndorf (Deutschland)" in a.body_text  # the credit stays, as a paragraph
    assert all(b.kind == "paragraph" for b in a.blocks)
    assert "Bilder des Tages" not in a.body_text  # site navigation is dropped


def test_german_html_post_takes_channel_urls_from_the_hrefs():
    a = parse_file(EXAMPLES / "de-kirgistan-bergdoerfer.html")
    assert a.title == "Warum Kirgistans Bergdörfer schrumpfen"
    assert a.language == "de"
    assert a.url == "https://novastan.org/de/kirgistan/warum-kirgistans-bergdoerfer-schrumpfen/"  # ?noredirect dropped
    assert a.channels == (
        ChannelRef("twitter", "https://twitter.com/novastan_de_example"),
        ChannelRef("facebook", "https://www.facebook.com/novastan.de.example"),
        ChannelRef("telegram", "https://t.me/novastan_de_example"),
        ChannelRef("linkedin", "https://www.linkedin.com/company/novastan-example/"),
        ChannelRef("instagram", "https://www.instagram.com/novastan_de_example/"),
        ChannelRef("newsletter", "https://novastan.org/de/newsletter-anmeldung/"),
    )
    assert a.author == Author("Jean Monéger", "Redakteur für Novastan")
    assert a.translator == "Robin Roth"
    assert [(r.title, r.url) for r in a.related] == [
        ("Von Naryn nach Seoul: Kirgistans neue Arbeitsmigration",
         "https://novastan.org/de/kirgistan/arbeitsmigration-suedkorea-example/")
    ]
    assert [b.text for b in a.blocks if b.kind == "heading"] == ["Geld aus dem Ausland"]
    assert "mkd_separator" not in a.body_text  # the leaked shortcode is gone
    assert "Startseite" not in a.body_text and "dataLayer" not in a.body_text
    assert "Arbeitsmigrant:innen machen fast ein Viertel" in a.body_text and "Autos – aber" in a.body_text
    assert a.tags == ("Kirgistan", "Migration")
    assert a.published.isoformat() == "2025-03-03T06:00:00+00:00"
    assert a.warnings == ()


def test_german_footer_naming_only_the_newsletter():
    a = parse_file(EXAMPLES / "de-kasachstan-newsletter-wahlen.txt")
    assert a.title == "Kasachstan wählt – mit Direktmandaten, aber ohne Opposition"
    assert a.channels == (ChannelRef("newsletter"),)
    assert a.footer.startswith("Für Zentralasien direkt in eurer Mailbox")
    assert a.author == Author("Anna Keller", "Korrespondentin für Novastan")
    assert a.warnings == (NO_LINK,)  # a text file names no URL


def test_russian_article():
    a = parse_file(FIXTURES / "ru-tadzhikistan-gaz.txt")
    assert a.language == "ru"
    assert a.author == Author("Мария Иванова", "корреспондент Novastan в Душанбе")
    assert a.translator == "Анна Петрова"
    assert [r.title for r in a.related] == ["Рогунская ГЭС: стройка века или долговая ловушка?"]
    assert [c.kind for c in a.channels] == ["telegram", "vk", "newsletter"]
    assert [b.text for b in a.blocks if b.kind == "heading"] == ["Зима без света"]


@pytest.mark.parametrize("path", sorted(EXAMPLES.iterdir()), ids=lambda p: p.name)
def test_every_example_parses_with_a_language_a_lede_and_a_title(path):
    a = parse_file(path)
    assert a.language in ("de", "fr", "en", "ru")
    assert a.lede and a.label and a.body_text
    assert a.title or NO_TITLE in a.warnings
    assert a.language == path.name[:2]
    json.dumps(a.to_json(), ensure_ascii=False, default=str)
    assert Article.from_json(json.loads(json.dumps(a.to_json(), default=str))) == a
