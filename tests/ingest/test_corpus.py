"""A real-world-shaped corpus (tests/fixtures/feeds/corpus, written by
make_corpus.py): every feed and file ends as articles or as a clean error
naming it, with no traceback, and a later source is always still polled."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from distributor.cli import cli
from distributor.config import load_settings
from distributor.ingest.pipeline import ingest
from distributor.store import Store

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds" / "corpus"
RU = "Бишкек продолжает расти"
DE = "Die Dörfer im Tian-Schan schrumpfen"
FR = "l’été est brûlant"

# name -> ("articles", text every article of it must hold, a warning one must carry) or ("error", message)
FEEDS = {
    "rss-wordpress.xml": ("articles", "", None),
    "atom.xml": ("articles", FR, None),
    "rss-named-entities.xml": ("articles", "Der März beginnt mit Schnee", "undefined entity"),
    "rss-illformed.xml": ("articles", DE, "not well-formed XML at line 9: not well-formed (invalid token); read by"),
    "rss-truncated-before-items.xml": ("error", "not well-formed XML at line 4: unclosed token; nothing from it was ingested"),
    "rss-koi8r-undeclared.xml": ("articles", RU, "koi8-r"),
    "rss-cp1251-undeclared.xml": ("articles", RU, "windows-1251"),
    "rss-latin1-undeclared.xml": ("articles", DE, "windows-1252"),
    "rss-cp1252-undeclared.xml": ("articles", FR, "windows-1252"),
    "rss-koi8r-declared-windows1251.xml": ("articles", RU, "koi8-r"),
    "rss-cp1252-declared-utf8.xml": ("articles", FR, "windows-1252"),
    "rss-utf8-declared-latin1.xml": ("articles", "Ein Gruss aus München", "does not fit the bytes"),
    "rss-utf16-bom.xml": ("articles", RU, None),
    "rss-utf16le-no-bom.xml": ("articles", DE, "UTF-16LE"),
    "channel.cdf": ("articles", "Kazakhstan is sending more grain east", "excerpt only"),
    "html-page.xml": ("error", "returned an HTML page, not RSS or Atom"),
    "empty.xml": ("error", "the feed is empty"),
    "binary.xml": ("error", "binary file, not RSS or Atom"),
    "truncated-utf16.xml": ("error", "not well-formed XML at line 2: syntax error"),
    "rss-0.91-netscape.xml": ("articles", DE, "undefined entity"),
    "rss-1.0-rdf.xml": ("articles", DE, None),
    "atom-0.3.xml": ("articles", FR, None),
    "rss-doctype-entities.xml": ("articles", DE, None),
    "rss-billion-laughs.xml": ("articles", DE, "undefined entity"),
    "rss-external-entity.xml": ("articles", DE, "read by feedparser's lenient parser"),
    "rss-mixed-utf8-cp1252.xml": ("articles", "", "mixed encodings"),
    "rss-utf32le-no-bom.xml": ("articles", RU, "UTF-32LE"),
}
FILES = {
    "de-utf8.txt": ("articles", DE, None),
    "ru-koi8r.txt": ("articles", RU, "koi8-r"),
    "ru-cp1251.md": ("articles", RU, "windows-1251"),
    "de-latin1.txt": ("articles", DE, "windows-1252"),
    "fr-cp1252.txt": ("articles", FR, "windows-1252"),
    "de-latin1-begins-with-y-thorn.txt": ("articles", "ÿþ ist kein Wort", "windows-1252"),
    "de-utf16-bom.txt": ("articles", DE, None),
    "ru-utf16le-no-bom.txt": ("articles", RU, "UTF-16LE"),
    "ru-utf16be-no-bom.txt": ("articles", RU, "UTF-16BE"),
    "ru-koi8r-declared-windows1251.html": ("articles", RU, "koi8-r"),
    "en-page.html": ("articles", "Kazakhstan is sending more grain east", None),
    "truncated-utf16.txt": ("articles", "Ti", "truncated character"),
    "empty.txt": ("error", "empty file"),
    "binary.html": ("error", "binary file, not an article"),
}


def test_the_corpus_table_covers_every_file():
    assert sorted(FEEDS) == sorted(p.name for p in (CORPUS / "feeds").iterdir())
    assert sorted(FILES) == sorted(p.name for p in (CORPUS / "files").iterdir())


def _config(make_config, tmp_path: Path, sources: str) -> Path:
    (tmp_path / "articles").mkdir(exist_ok=True)
    after = tmp_path / "after"
    after.mkdir()
    (after / "later.txt").write_text("Ein späterer Artikel aus einer späteren Quelle.\n"
                                     "Folgt uns auf Telegram.\n", encoding="utf-8")
    return make_config(sources + f'\n[[sources]]\nname = "after"\nkind = "folder"\npath = "{after}"\n')


def _check(report, expected, name):
    outcome, what, warning = (*expected, None)[:3]
    errors = report.item_errors + ([report.error] if report.error else [])
    assert not any("Traceback" in e for e in errors)
    articles = report.new + report.updated
    if outcome == "error":
        assert not articles, [a.key for a in articles]
        assert errors and all(name in e or report.source in e for e in errors), errors
        assert any(what in e for e in errors), errors
        return
    assert articles, errors
    for stored in articles:
        a = stored.article
        assert what in f"{a.title}\n{a.body_text}\n{a.footer}", (a.title, a.body_text)
        assert "\ufffd" not in f"{a.title}{a.body_text}{a.footer}"
    if warning:
        assert any(warning in w for s in articles for w in s.article.warnings), [s.article.warnings for s in articles]


@pytest.mark.parametrize("name", sorted(FEEDS))
def test_every_corpus_feed_ends_as_articles_or_a_clean_error(make_config, tmp_path, name):
    cfg = _config(make_config, tmp_path,
                  f'\n[[sources]]\nname = "corpus"\nkind = "feed"\nurl = "{CORPUS / "feeds" / name}"\n')
    settings = load_settings(cfg)
    with Store.open(settings) as store:
        reports = {r.source: r for r in ingest(settings, store)}
    _check(reports["corpus"], FEEDS[name], name)
    assert reports["after"].ok and len(reports["after"].new) == 1


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_corpus_file_ends_as_an_article_or_a_clean_error(make_config, tmp_path, name):
    folder = tmp_path / "folder"
    folder.mkdir()
    shutil.copy(CORPUS / "files" / name, folder / name)
    # A good file sorted after the bad one: one bad file never stops its source.
    (folder / "zz-after.txt").write_text("Ein guter Artikel nach dem schlechten.\n", encoding="utf-8")
    cfg = _config(make_config, tmp_path, f'\n[[sources]]\nname = "corpus"\nkind = "folder"\npath = "{folder}"\n')
    settings = load_settings(cfg)
    with Store.open(settings) as store:
        reports = {r.source: r for r in ingest(settings, store)}
    report = reports["corpus"]
    assert report.ok, report.error
    assert "zz-after.txt" in [a.key for a in report.new]
    report.new = [a for a in report.new if a.key != "zz-after.txt"]
    _check(report, FILES[name], name)
    assert reports["after"].ok and len(reports["after"].new) == 1


def test_the_whole_corpus_in_one_ingest_polls_every_source_without_a_traceback(make_config, tmp_path):
    folder = tmp_path / "folder"
    shutil.copytree(CORPUS / "files", folder)
    sources = f'\n[[sources]]\nname = "files"\nkind = "folder"\npath = "{folder}"\n'
    for i, name in enumerate(sorted(FEEDS)):
        sources += f'\n[[sources]]\nname = "feed-{i:02d}"\nkind = "feed"\nurl = "{CORPUS / "feeds" / name}"\n'
    cfg = _config(make_config, tmp_path, sources)
    result = CliRunner().invoke(cli, ["--config", str(cfg), "ingest"])
    assert result.exit_code == 1  # some of the corpus is refused, and says so
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    for i in range(len(FEEDS)):
        assert any(line.startswith(f"feed-{i:02d}: ") for line in lines), result.output
    assert "after: 1 new, 0 updated, 0 unchanged" in result.output
    files_line = next(line for line in lines if line.startswith("files: "))
    articles = sum(1 for v in FILES.values() if v[0] == "articles")
    assert files_line.startswith(f"files: {articles} new"), files_line


def test_run_once_goes_on_past_a_truncated_utf16_file(make_config, tmp_path):
    # It used to raise UnicodeDecodeError out of parse.py, aborting the whole cycle.
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "x.txt").write_bytes(b"\xff\xfeT\x00i\x00A")
    (folder / "y.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    cfg = make_config(f'\n[[sources]]\nname = "feed"\nkind = "feed"\nurl = "{CORPUS / "feeds" / "atom.xml"}"\n',
                      articles=folder)
    result = CliRunner().invoke(cli, ["--config", str(cfg), "run", "--once"])
    assert "Traceback" not in result.output and not isinstance(result.exception, UnicodeDecodeError)
    assert "ingest articles: 1 new, 0 updated, 0 unchanged, 1 errors" in result.output, result.output
    assert "ingest feed: 1 new" in result.output, result.output
    assert "binary file, not an article" in result.output


def _feed_articles(make_config, tmp_path, name):
    cfg = _config(make_config, tmp_path,
                  f'\n[[sources]]\nname = "corpus"\nkind = "feed"\nurl = "{CORPUS / "feeds" / name}"\n')
    settings = load_settings(cfg)
    with Store.open(settings) as store:
        report = next(r for r in ingest(settings, store) if r.source == "corpus")
    return [s.article for s in report.new]


OLDER_FORMATS = {
    "rss-1.0-rdf.xml": ("Bergdörfer", "https://example.org/de/701/", "de", "Jan Berg"),
    "atom-0.3.xml": ("L’été à Douchanbé", "https://example.org/fr/702/", "fr", None),
    "rss-0.91-netscape.xml": ("Bergdörfer schrumpfen", "https://example.org/de/091/", "de", None),
}


@pytest.mark.parametrize("name", sorted(OLDER_FORMATS))
def test_the_older_formats_keep_their_titles_links_and_authors(make_config, tmp_path, name):
    (a,) = _feed_articles(make_config, tmp_path, name)
    assert (a.title, a.url, a.language, a.author.name if a.author else None) == OLDER_FORMATS[name]


def test_entities_a_doctype_declares_are_used(make_config, tmp_path):
    (declared,) = _feed_articles(make_config, tmp_path, "rss-doctype-entities.xml")
    assert declared.title == "Grüße von\u00a0Novastan"


def test_a_billion_laughs_is_never_expanded(make_config, tmp_path):
    (bomb,) = _feed_articles(make_config, tmp_path, "rss-billion-laughs.xml")
    assert "lollol" not in f"{bomb.title}{bomb.body_text}" and len(bomb.title) < 100


def test_an_external_entity_is_never_resolved(make_config, tmp_path):
    (xxe,) = _feed_articles(make_config, tmp_path, "rss-external-entity.xml")
    assert "root:" not in f"{xxe.title}{xxe.body_text}"


def test_a_feed_mixing_utf8_and_cp1252_items_reads_each_right(make_config, tmp_path):
    articles = {a.url: a for a in _feed_articles(make_config, tmp_path, "rss-mixed-utf8-cp1252.xml")}
    assert DE in articles["https://example.org/de/706/"].body_text
    assert FR in articles["https://example.org/fr/707/"].body_text
    assert articles["https://example.org/fr/707/"].title == "L’été"
