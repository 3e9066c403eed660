"""What makes ingest fast at real sizes, checked for what it must not change:
an unchanged feed is not parsed, a folder file whose size and mtime are
unchanged is not read, a touched file is not a new version, chunked commits
keep every article with its plan, and the lxml reading of HTML gives what
Beautiful Soup gives. (No timings here: bench/bench_ingest_scale.py measures.)"""

from __future__ import annotations

import functools
import os
import random
import shutil
import warnings
from pathlib import Path

import pytest

from distributor.config import load_settings
from distributor.ingest import batch, html_reader, html_xml, pipeline, sources
from distributor.ingest.pipeline import ingest
from distributor.routing import route
from distributor.store import Store

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
FEEDS = FIXTURES / "feeds"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "articles"


def feed_cfg(make_config, tmp_path: Path, feed: Path) -> Path:
    (tmp_path / "articles").mkdir(exist_ok=True)
    return make_config(f'\n[[sources]]\nname = "feed"\nkind = "feed"\nurl = "{feed}"\n')


def one(settings, store, **kw):
    (report,) = ingest(settings, store, source_name=kw.pop("source", None), **kw)
    return report


@pytest.fixture
def count_feed_parses(monkeypatch):
    calls = []
    real = sources.parse_feed

    def counting(source, data, **kw):
        calls.append(len(data))
        return real(source, data, **kw)

    monkeypatch.setattr(sources, "parse_feed", counting)
    return calls


# ------------------------------------------------------------------ feed


def test_an_unchanged_feed_document_is_not_parsed_again(make_config, tmp_path, count_feed_parses):
    feed = tmp_path / "feed.xml"
    shutil.copy(FEEDS / "wordpress-de.xml", feed)
    settings = load_settings(feed_cfg(make_config, tmp_path, feed))
    with Store.open(settings) as store:
        first = one(settings, store, source="feed")
        assert len(first.new) == 2 and count_feed_parses == [feed.stat().st_size]
        again = one(settings, store, source="feed")
        assert count_feed_parses == [feed.stat().st_size]  # feedparser was not called
        assert again.ok and again.document_unchanged and not again.new and not again.updated
        assert "unchanged since the last poll" in again.summary()
        assert "not parsed again" in store.last_poll("feed").summary
    # A restarted process knows it too (the hash is stored with the poll).
    with Store.open(settings) as store:
        assert one(settings, store, source="feed").document_unchanged
    assert len(count_feed_parses) == 1


def test_a_changed_feed_document_is_parsed(make_config, tmp_path, count_feed_parses):
    feed = tmp_path / "feed.xml"
    shutil.copy(FEEDS / "wordpress-de.xml", feed)
    settings = load_settings(feed_cfg(make_config, tmp_path, feed))
    with Store.open(settings) as store:
        one(settings, store, source="feed")
        text = feed.read_text(encoding="utf-8")
        feed.write_text(text.replace("Warum Kirgistans Bergdörfer schrumpfen</title>",
                                     "Warum Kirgistans Bergdörfer weiter schrumpfen</title>", 1), encoding="utf-8")
        r = one(settings, store, source="feed")
        assert len(count_feed_parses) == 2
        assert (len(r.new), len(r.updated), r.unchanged) == (0, 1, 1) and not r.document_unchanged
        # …and then that document is the unchanged one.
        assert one(settings, store, source="feed").document_unchanged
        assert len(count_feed_parses) == 2


def test_a_feed_with_item_errors_is_read_again(make_config, tmp_path, count_feed_parses, monkeypatch):
    """Only a document whose every item was handled is skipped next time."""
    feed = tmp_path / "feed.xml"
    shutil.copy(FEEDS / "wordpress-de.xml", feed)
    settings = load_settings(feed_cfg(make_config, tmp_path, feed))
    real_items = sources.feed_items

    def one_bad(source, parsed, page_fetcher=None):
        items = list(real_items(source, parsed, page_fetcher=page_fetcher))
        return [items[0], sources.Item("broken", error="no guid")]

    monkeypatch.setattr(sources, "feed_items", one_bad)
    with Store.open(settings) as store:
        assert one(settings, store, source="feed").item_errors
        assert store.last_poll("feed").document_hash is None
        one(settings, store, source="feed")
        assert len(count_feed_parses) == 2


# ------------------------------------------------------------------ folder


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "articles"
    shutil.copytree(EXAMPLES, root)
    old = 1_600_000_000_000_000_000  # files last written long ago (not "racily clean")
    for p in root.iterdir():
        os.utime(p, ns=(old, old))
    return root


def test_a_file_with_the_same_size_and_mtime_is_not_read(make_config, folder, monkeypatch):
    settings = load_settings(make_config(articles=folder))
    seed = folder / "de-kasachstan-china-ukraine.txt"
    with Store.open(settings) as store:
        n = len(one(settings, store).new)
    # Same size, same mtime, other bytes: a file the stat says is unchanged.
    st = seed.stat()
    data = seed.read_bytes()
    seed.write_bytes(data.replace(b"Kasachstan", b"Kasachztan", 1))
    os.utime(seed, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert seed.stat().st_size == st.st_size

    reads = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self.name) or real(self))
    with Store.open(settings) as store:  # a new process: the stats come from the database
        r = one(settings, store)
    assert reads == []
    assert (len(r.new), len(r.updated), r.unchanged) == (0, 0, n)


def test_a_touched_file_is_read_but_is_not_a_new_version(make_config, folder, monkeypatch):
    settings = load_settings(make_config(articles=folder))
    seed = folder / "de-kasachstan-china-ukraine.txt"
    with Store.open(settings) as store:
        first = one(settings, store)
        before = {d.id: d.status for d in store.deliveries()}
        os.utime(seed, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
        parses = []
        real = pipeline._Batch.add
        monkeypatch.setattr(pipeline._Batch, "add", lambda self, item, stat=None: parses.append(item.key)
                            or real(self, item, stat))
        r = one(settings, store)
        assert parses == []  # read and hashed, not parsed
        assert (len(r.new), len(r.updated), r.unchanged) == (0, 0, len(first.new))
        stored = store.list_articles()
        assert all(a.version == 1 for a in stored)
        assert {d.id: d.status for d in store.deliveries()} == before
        # The new mtime is remembered: the next poll does not read it again.
        assert store.file_stats("articles")[seed.name].mtime_ns == 1_700_000_000_000_000_000


def test_a_file_rewritten_within_its_mtime_tick_is_caught(make_config, folder):
    """A file read moments after it was written is read again at the next
    poll (its stat is not trusted yet): a same-size rewrite in the same
    mtime tick is not missed."""
    settings = load_settings(make_config(articles=folder))
    seed = folder / "de-kasachstan-china-ukraine.txt"
    data = seed.read_bytes()
    seed.write_bytes(data)  # just written: "racily clean" when read now
    st = seed.stat()
    with Store.open(settings) as store:
        one(settings, store)
        assert store.file_stats("articles")[seed.name].mtime_ns == -1
    seed.write_bytes(data.replace(b"Kasachstan", b"Kasachztan", 1))
    os.utime(seed, ns=(st.st_atime_ns, st.st_mtime_ns))
    with Store.open(settings) as store:
        r = one(settings, store)
    assert [a.key for a in r.updated] == [seed.name]


def test_the_same_store_sees_new_changed_and_removed_files(make_config, folder):
    """Polls of one process (the daemon: the folder cache and its watch)."""
    settings = load_settings(make_config(articles=folder))
    with Store.open(settings) as store:
        n = len(one(settings, store).new)
        assert one(settings, store).unchanged == n
        new = folder / "de-neu.txt"
        shutil.copy(folder / "de-kasachstan-china-ukraine.txt", new)
        new.write_text(new.read_text(encoding="utf-8").replace("Kasachstan", "Kirgistan"), encoding="utf-8")
        r = one(settings, store)
        assert [a.key for a in r.new] == ["de-neu.txt"] and r.unchanged == n
        new.write_text(new.read_text(encoding="utf-8") + "\nNoch ein Satz.\n", encoding="utf-8")
        assert [a.key for a in one(settings, store).updated] == ["de-neu.txt"]
        new.unlink()
        r = one(settings, store)
        assert r.removed == ["de-neu.txt"] and r.unchanged == n
        assert "de-neu.txt" not in store.file_stats("articles")
        bad = folder / "de-kaputt.txt"
        bad.write_bytes(b"\x00\x01\x02binary")
        for _ in range(2):  # the error is reported at every poll, the file read once
            r = one(settings, store)
            assert [e.split(":")[0] for e in r.item_errors] == ["de-kaputt.txt"]


def test_a_failure_mid_chunk_loses_nothing_reported_stored(make_config, folder, monkeypatch):
    settings = load_settings(make_config(articles=folder))
    monkeypatch.setattr(batch, "CHUNK", 2)
    calls = []
    real = Store._insert_articles

    def fail_second_chunk(conn, source, fresh, now):
        calls.append(len(fresh))
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(conn, source, fresh, now)

    monkeypatch.setattr(Store, "_insert_articles", staticmethod(fail_second_chunk))
    reported = []
    with Store.open(settings) as store:
        # One bad source never stops the others: the failure is the source's error.
        (report,) = ingest(settings, store, on_item=lambda src, status, what: reported.append((status, what)))
        assert report.error == "source 'articles': RuntimeError: disk full"
        stored = store.list_articles()
        # The first chunk is stored, each article with its plan; the second not at all.
        assert len(stored) == 2 and [s for s, _ in reported] == ["new", "new"]
        for a in stored:
            plan = route(a.article, settings)
            assert len(store.deliveries(article_id=a.id)) == len(plan.planned) + len(plan.skipped), a.key
        assert sum(len(store.deliveries(article_id=a.id)) for a in stored) > 0
        assert set(store.file_stats("articles")) == {a.key for a in stored}
    monkeypatch.setattr(Store, "_insert_articles", staticmethod(real))
    with Store.open(settings) as store:
        r = one(settings, store)
        assert (len(r.new), r.unchanged) == (len(list(folder.iterdir())) - 2, 2)
        keys = [a.key for a in store.list_articles()]
        assert len(keys) == len(set(keys)) == len(list(folder.iterdir()))


def test_storing_a_chunk_reads_each_bound_value_once(make_config, tmp_path, monkeypatch):
    """The store's secret scrub keeps the world's text as it is, by telling
    which bound values belong to content columns. SQLite inserts a chunk of
    articles one statement per row, and the hook fires per statement: it must
    not read the whole chunk's parameters again each time (that made a chunk
    of 100 articles cost 70,000 bind-name matches: storing was quadratic)."""
    from distributor.store import db

    class Counting:
        def __init__(self, pattern):
            self.pattern, self.calls = pattern, 0

        def match(self, name):
            self.calls += 1
            return self.pattern.match(name)

    counting = Counting(db._CONTENT_BIND)
    monkeypatch.setattr(db, "_CONTENT_BIND", counting)
    cached = getattr(db, "_is_content_bind", None)
    if cached is not None:
        cached.cache_clear()
        monkeypatch.setattr(db, "_is_content_bind", functools.lru_cache(maxsize=4096)(
            lambda name: counting.match(name) is not None))
    folder = tmp_path / "articles"
    folder.mkdir()
    n = 80
    for i in range(n):
        (folder / f"de-{i:03d}.txt").write_text(
            f"Titel: Nummer {i}\n\nDie Regierung in Bischkek hat am Montag {i} neue Schulen eröffnet.\n\n"
            "Noch mehr Zentralasien findet ihr auf Telegram und Facebook.\n", encoding="utf-8")
    settings = load_settings(make_config(articles=folder))
    with Store.open(settings) as store:
        counting.calls = 0
        assert len(one(settings, store).new) == n
    assert counting.calls < 4 * n  # a handful per distinct bind name, not per row and column of every row


def test_the_report_keeps_small_references(make_config, folder):
    settings = load_settings(make_config(articles=folder))
    with Store.open(settings) as store:
        r = one(settings, store)
        ref = r.new[0]
        assert not hasattr(ref, "__dict__") or "article" not in vars(ref)
        assert ref.article.title == ref.title == store.get_article(ref.id).article.title


# ------------------------------------------------------------------ html


def _html_docs() -> list[str]:
    import feedparser

    docs = [p.read_text(encoding="utf-8") for p in EXAMPLES.glob("*.html")]
    for feed in FEEDS.glob("*.xml"):
        for e in feedparser.parse(feed.read_bytes()).entries:
            docs += [c.value for c in e.get("content", [])] + [e.get("summary", "")]
    rng = random.Random(7)
    tags = ["p", "div", "a", "b", "h1", "h2", "li", "ul", "script", "header", "footer", "article", "main", "body",
            "span", "em", "nav", "figcaption", "title", "html", "blockquote", "pre", "style", "template", "meta",
            "link", "br", "img"]
    attrs = ["", " href='http://e.org/x?a=1&amp;b'", ' href="/rel"', " href=''", " class='entry-content'",
             ' role="main"', " class='post-content x'", " lang='fr'", " property='og:title' content='T'",
             " rel='canonical nofollow' href='http://c/'", " src='http://i/x.png'"]
    texts = ["word", " ", "\n", "  \n  ", "&nbsp;", "&amp;", "&hellip;", "&#8230;", "&#150;", "Telegram",
             "https://t.me/x", "x. Y", "\t", "\u00a0", "&LT;", "Lest auch …", "<!-- c -->", "&bogus;"]

    def node(depth: int) -> str:
        if depth > 4 or rng.random() < 0.35:
            return "".join(rng.choice(texts) for _ in range(rng.randint(1, 3)))
        t = rng.choice(tags)
        return f"<{t}{rng.choice(attrs)}>" + "".join(node(depth + 1) for _ in range(rng.randint(0, 4))) + f"</{t}>"

    docs += ["".join(node(0) for _ in range(rng.randint(1, 5))) for _ in range(400)]
    docs += ["<p>a<p>b</p></p>", "<p>x<!-- c -->y</p>", "<article></article><p>x</p>", "<p>a<br>b</p>",
             "<P>upper</P>", "<p>R&D</p>", "<p>&nbsp no semicolon</p>", "<p title='a\nb'>x</p>"]
    return docs


def test_lxml_and_beautiful_soup_read_html_alike(monkeypatch):
    warnings.simplefilter("ignore")  # bs4's "looks like a URL" warnings
    fast = 0
    for doc in _html_docs():
        fast += html_xml.xml_tree(doc) is not None
        monkeypatch.setattr(html_reader, "XML_FAST_PATH", True)
        with_lxml = html_reader.read_html(doc)
        monkeypatch.setattr(html_reader, "XML_FAST_PATH", False)
        assert html_reader.read_html(doc) == with_lxml, doc
    assert fast > 80  # the fast path was exercised, not only the fallback


def _page_docs() -> list[str]:
    """Whole pages, as the fast path now takes them: a doctype, void elements
    without their slash, <script> and <style> with text; and the shapes
    around those where html.parser and XML part ways."""
    rng = random.Random(11)
    pages = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.html"))]
    pages += [p.read_text(encoding="utf-8") for p in sorted((FIXTURES / "articles").glob("*.html"))]
    doctypes = ["<!DOCTYPE html>", "<!doctype html>", "<!DOCTYPE html SYSTEM \"about:legacy-compat\">",
                '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
                '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">',
                "<!doctypehtml>", '<!DOCTYPE html "a>b">', "<!DOCTYPE html", "<!-- c -->\n<!DOCTYPE html>",
                "<!-- a -- b --><!DOCTYPE html>", "  \n<!DOCTYPE html>\n", "<!DOCTYPE html><!DOCTYPE html>",
                "<?xml version='1.0'?><!DOCTYPE html>", "<!-->x--><!DOCTYPE html>", ""]
    pieces = ["<br>", "<br >", "<br/>", "<br />", "<hr>", '<meta charset="utf-8">', "<meta charset=utf-8>",
              "<img src='http://i/y.png' alt=\"a > b\">", '<img src="/x.png" alt>', "<img src='http://i/z.png'>",
              '<link rel="canonical" href="http://c/page/">', "<input disabled>", "<br></br>", "<br>x</br>",
              '<meta property="og:title" content="Page - Site">', '<meta property="og:site_name" content="Site">',
              '<meta name="og:url" content="http://u/">', "<BR>", "<br\tclass='x'>", '<br class="a" class="b">',
              "<script>var a = 1 > 0;</script>", "<script></script>", "<style>p { color: red }</style>",
              "<script>a &amp;&amp; b</script>", "<script>x = '<p>y</p>'</script>", "<script>a && b</script>",
              "<style>/* <br> */</style>", "<script>&nbsp;</script>", "<script><!-- x --></script>",
              "<template>t</template>", "<title>a<script>s</script>b</title>", "<!-- <br> -->", "<!---->",
              "<p>Folgt uns auf Telegram</p>", "<p>Text und <a href='https://t.me/x'>Telegram</a></p>", "Wort",
              "\n", "&nbsp;", "&hellip;", "<h1>Titel</h1>", "<h2>Zwischen</h2>", "<p>a<br>b</p>"]
    wrappers = ["<html lang='de'><head>{h}</head><body>{b}</body></html>", "<html>{h}<body><article>{b}</article>"
                "</body></html>", "<body><div class='entry-content'>{b}</div><footer>{h}</footer></body>", "{h}{b}"]

    def some(n: int) -> str:
        return "".join(rng.choice(pieces) for _ in range(n))

    for _ in range(600):
        wrapper = rng.choice(wrappers)
        pages.append(rng.choice(doctypes) + rng.choice(["", "\n"])
                     + wrapper.replace("{h}", some(rng.randint(0, 4))).replace("{b}", some(rng.randint(1, 6))))
    for page in list(pages[:3]):  # the example pages with their doctype changed
        for doctype in doctypes:
            pages.append(doctype + page.split(">", 1)[1] if page.lower().startswith("<!doctype") else page)
    return pages


def test_lxml_and_beautiful_soup_read_pages_alike(monkeypatch):
    """Pages with a doctype, void elements without a slash and script/style
    text take the lxml path (the feed items' check above, on whole pages)."""
    warnings.simplefilter("ignore")
    fast = 0
    for doc in _page_docs():
        fast += html_xml.xml_tree(doc) is not None
        monkeypatch.setattr(html_reader, "XML_FAST_PATH", True)
        with_lxml = html_reader.read_html(doc)
        monkeypatch.setattr(html_reader, "XML_FAST_PATH", False)
        assert html_reader.read_html(doc) == with_lxml, doc
    assert fast > 90  # the fast path was exercised (107 of these), not only the fallback
    example = (EXAMPLES / "de-kirgistan-bergdoerfer.html").read_text(encoding="utf-8")
    assert example.startswith("<!DOCTYPE html>") and html_xml.xml_tree(example) is not None


# ------------------------------------------------------------------ PostgreSQL


@pytest.fixture
def pg_store(pg_url):
    with Store.open_url(pg_url) as store:
        yield store


@pytest.mark.postgres
def test_chunked_ingest_on_postgresql(make_config, folder, pg_store, monkeypatch):
    settings = load_settings(make_config(articles=folder))
    monkeypatch.setattr(batch, "CHUNK", 2)
    r = one(settings, pg_store)
    n = len(list(folder.iterdir()))
    assert len(r.new) == n and sorted(a.key for a in r.new) == sorted(p.name for p in folder.iterdir())
    for ref in r.new:
        a = pg_store.get_article(ref.id)
        assert a.key == ref.key and a.version == 1
        plan = route(a.article, settings)
        assert len(pg_store.deliveries(article_id=a.id)) == len(plan.planned) + len(plan.skipped)
    assert set(pg_store.file_stats("articles")) == {p.name for p in folder.iterdir()}
    assert one(settings, pg_store).unchanged == n
