"""Bounded everything, and no input stops a source: folder max_bytes, the
time and memory bound of one parse, and the guards per item and per source."""

from __future__ import annotations

import dataclasses
import time

import pytest

from distributor.config import load_settings
from distributor.errors import ParseError
from distributor.ingest import bounded, pipeline, sources
from distributor.ingest.parse import parse_file, parse_raw
from distributor.model import RawArticle
from distributor.store import Store

ARTICLE = ("Die Regierung in Bischkek hat am Montag ein neues Gesetz über die Medien verabschiedet.\n"
           "Folgt uns auf Telegram und abonniert unseren Newsletter.\n")


def run(cfg):
    settings = load_settings(cfg)
    with Store.open(settings) as store:
        return {r.source: r for r in pipeline.ingest(settings, store)}


def test_a_folder_file_over_max_bytes_is_refused_before_it_is_read(make_config, tmp_path):
    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "huge.txt").write_text(ARTICLE * 200, encoding="utf-8")
    (folder / "small.txt").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "articles").mkdir()
    cfg = make_config(f'\n[[sources]]\nname = "big"\nkind = "folder"\npath = "{folder}"\nmax_bytes = 5000\n')
    r = run(cfg)["big"]
    assert [a.key for a in r.new] == ["small.txt"]
    size = (folder / "huge.txt").stat().st_size
    assert r.item_errors == [f"huge.txt: {folder / 'huge.txt'}: the file is {size} bytes, over max_bytes=5000; refused"]


def test_the_truncated_utf16_file_does_not_stop_its_folder(tmp_path):
    # printf '\xff\xfeT\x00i\x00A' > x.txt raised UnicodeDecodeError out of parse.py.
    path = tmp_path / "x.txt"
    path.write_bytes(b"\xff\xfeT\x00i\x00A")
    a = parse_file(path)
    assert a.lede == "Ti"
    assert any("truncated character" in w for w in a.warnings)


def _big_html(paragraphs: int) -> str:
    return "<html><body>" + "<p>Die Regierung in Bischkek hat ein Gesetz verabschiedet.</p>" * paragraphs + "</body></html>"


def test_a_large_article_is_parsed_in_a_worker_with_the_same_result(monkeypatch):
    from distributor.ingest.parse import parse_inline

    raw = RawArticle(key="big.html", content=_big_html(300), format="html", name="big.html")
    monkeypatch.setattr(bounded, "INLINE_MAX_CHARS", 1000)
    assert parse_raw(raw) == parse_inline(raw, None)


def test_a_parse_that_runs_over_its_time_bound_is_killed_with_a_clear_error(monkeypatch):
    monkeypatch.setattr(bounded, "INLINE_MAX_CHARS", 1000)
    monkeypatch.setattr(bounded, "PARSE_TIMEOUT_SECONDS", 1.0)
    raw = RawArticle(key="slow.html", content=_big_html(60_000), format="html", name="slow.html")
    started = time.monotonic()
    with pytest.raises(ParseError) as err:
        parse_raw(raw)
    assert time.monotonic() - started < 5
    assert str(err.value) == f"slow.html: parsing took longer than 1s ({len(raw.content)} characters); refused"


def test_a_parse_that_runs_out_of_its_memory_bound_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(bounded, "INLINE_MAX_CHARS", 1000)
    monkeypatch.setattr(bounded, "PARSE_MEMORY_BYTES", 1 << 20)  # below what the worker already holds
    raw = RawArticle(key="fat.html", content=_big_html(2000), format="html", name="fat.html")
    with pytest.raises(ParseError) as err:
        parse_raw(raw)
    assert str(err.value) == f"fat.html: parsing needed more than 1 MiB ({len(raw.content)} characters); refused"


def test_an_unexpected_error_in_one_item_is_a_clean_error_and_the_source_goes_on(make_config, tmp_path, monkeypatch):
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "a-bad.txt").write_text(ARTICLE, encoding="utf-8")
    (folder / "b-good.txt").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "articles").mkdir()
    from distributor.ingest import parse

    real = parse._parse

    def buggy(raw, default_language, url_template):
        if raw.key == "a-bad.txt":
            raise KeyError("a parser bug")
        return real(raw, default_language, url_template)

    monkeypatch.setattr(parse, "_parse", buggy)
    cfg = make_config(f'\n[[sources]]\nname = "f"\nkind = "folder"\npath = "{folder}"\n')
    r = run(cfg)["f"]
    assert [a.key for a in r.new] == ["b-good.txt"]
    assert r.item_errors == ["a-bad.txt: cannot parse: KeyError: 'a parser bug'"]


def test_an_unexpected_error_in_one_source_is_a_clean_error_and_the_others_go_on(make_config, tmp_path, monkeypatch,
                                                                                 articles_dir):
    # The pipeline lists a folder with scan_folder (it stats before it reads).
    real = sources.scan_folder

    def broken(source, settings, on_folder=None):
        if source.name == "first":
            raise UnicodeDecodeError("utf-16-le", b"A", 0, 1, "truncated data")
        return real(source, settings, on_folder=on_folder)

    monkeypatch.setattr(sources, "scan_folder", broken)
    cfg = make_config(f'\n[[sources]]\nname = "first"\nkind = "folder"\npath = "{articles_dir}"\n',
                      articles=articles_dir)
    settings = load_settings(cfg)
    # "first" comes after "articles" in the file; put it first.
    settings = dataclasses.replace(settings, sources=tuple(reversed(settings.sources)))
    with Store.open(settings) as store:
        reports = pipeline.ingest(settings, store)
    assert [r.source for r in reports] == ["first", "articles"]
    assert reports[0].error == ("source 'first': UnicodeDecodeError: 'utf-16-le' codec can't decode byte 0x41 "
                                "in position 0: truncated data")
    assert reports[1].ok and reports[1].new


def test_html_that_the_inline_parser_reads_in_quadratic_time_goes_to_the_bounded_worker(monkeypatch):
    # html.parser rescans an unclosed "<a " for every one that follows: 30,000
    # characters of them took ~15 s inline, 250,000 (under INLINE_MAX_CHARS)
    # would take many minutes with no bound at all.
    monkeypatch.setattr(bounded, "PARSE_TIMEOUT_SECONDS", 1.0)
    raw = RawArticle(key="stray.html", content="<p>Ein Satz.</p>" + "<a " * 10_000, format="html",
                     name="stray.html")
    started = time.monotonic()
    with pytest.raises(ParseError, match="stray.html: parsing took longer than 1s"):
        parse_raw(raw)
    assert time.monotonic() - started < 5
    ordinary = RawArticle(key="ok.html", content=_big_html(300), format="html", name="ok.html")
    assert not bounded.needs_worker(ordinary)  # real articles stay in-process


@pytest.mark.parametrize("run_of", ["[", "![", "_a ", "*a "])
def test_markdown_inline_syntax_is_read_in_linear_time(run_of):
    # Unclosed "[" (and "_a _a …") made the link and emphasis patterns
    # backtrack over the rest of the line from every one of them.
    content = "Ein Satz über Bischkek.\n\n" + run_of * (40_000 // len(run_of)) + "\n\nFolgt uns auf Telegram.\n"
    started = time.process_time()
    article = parse_raw(RawArticle(key="k.md", content=content, format="markdown", name="k.md", title="T"))
    assert time.process_time() - started < 3
    assert article.lede == "Ein Satz über Bischkek."
