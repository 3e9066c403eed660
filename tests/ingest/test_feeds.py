"""Feed sources: WordPress RSS, Atom, over real HTTP with conditional GET, and
every kind of broken feed ending in a clear error that names the source."""

from __future__ import annotations

import hashlib
import re
import http.server
import shutil
import socket
import threading
from pathlib import Path

import pytest

from distributor.config import load_settings
from distributor.errors import SourceError
from distributor.ingest import sources
from distributor.ingest.pipeline import ingest
from distributor.store import Store

FEEDS = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"
CORPUS = FEEDS / "corpus" / "feeds"


class FeedServer(http.server.ThreadingHTTPServer):
    daemon_threads = True


def make_handler(root: Path, log: list):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            log.append((self.path, self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")))
            path = root / self.path.lstrip("/")
            if not path.is_file():
                self.send_error(404)
                return
            body = path.read_bytes()
            etag = '"' + hashlib.sha1(body).hexdigest() + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", "Mon, 03 Mar 2025 09:12:40 GMT")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def feed_server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    log: list = []
    server = FeedServer(("127.0.0.1", 0), make_handler(root, log))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root, log
    server.shutdown()
    server.server_close()


def feed_config(make_config, tmp_path, feeds: dict[str, str], extra: str = "") -> Path:
    (tmp_path / "articles").mkdir(exist_ok=True)
    text = "".join(
        f'\n[[sources]]\nname = "{name}"\nkind = "feed"\nurl = "{url}"\n' for name, url in feeds.items()
    )
    return make_config(text + extra)


def run(cfg: Path, source: str | None = None):
    settings = load_settings(cfg)
    with Store.open(settings) as store:
        reports = {r.source: r for r in ingest(settings, store, source_name=source)}
        return settings, store, reports


def test_wordpress_feed_full_text_and_excerpt_only_items(make_config, tmp_path):
    cfg = feed_config(make_config, tmp_path, {"de-feed": str(FEEDS / "wordpress-de.xml")})
    settings, store, reports = run(cfg)
    r = reports["de-feed"]
    assert r.ok and len(r.new) == 2, r.summary()
    full, excerpt = r.new
    assert full.key == "https://novastan.org/de/?p=71234"
    assert full.article.title == "Warum Kirgistans Bergdörfer schrumpfen"
    assert full.article.language == "de"
    assert full.article.url == "https://novastan.org/de/kirgistan/warum-kirgistans-bergdoerfer-schrumpfen/"
    assert [c.kind for c in full.article.channels] == [
        "twitter", "facebook", "telegram", "linkedin", "instagram", "newsletter"]
    assert full.article.channels[2].url == "https://t.me/EXAMPLE_DE"
    assert full.article.published.isoformat() == "2025-03-03T06:00:00+00:00"
    assert "Kirgistan" in full.article.tags
    assert any(w.startswith("excerpt only") for w in excerpt.article.warnings)
    assert excerpt.article.channels == ()


def test_guid_is_the_whole_string_so_sub_sites_do_not_collide(make_config, tmp_path):
    cfg = feed_config(make_config, tmp_path, {
        "de-feed": str(FEEDS / "wordpress-de.xml"),
        "fr-feed": str(FEEDS / "wordpress-fr-same-id.xml"),
    })
    settings, store, reports = run(cfg)
    de_post = reports["de-feed"].new[0]
    fr_post = reports["fr-feed"].new[0]
    assert de_post.key.endswith("/de/?p=71234") and fr_post.key.endswith("/fr/?p=71234")
    assert de_post.id != fr_post.id
    assert fr_post.article.language == "fr"


@pytest.mark.parametrize("fixture, message", [
    ("empty.xml", r"the feed is empty"),
    ("html-page.xml", r"returned an HTML page, not RSS or Atom"),
])
def test_malformed_feed_is_a_clear_error_and_other_sources_go_on(make_config, tmp_path, articles_dir, fixture, message):
    cfg = feed_config(make_config, tmp_path, {"bad": str(FEEDS / fixture), "good": str(FEEDS / "atom-en.xml")})
    settings, store, reports = run(cfg)
    assert reports["bad"].error is not None
    assert reports["bad"].error.startswith("source 'bad': ")
    assert reports["bad"].new == []
    assert re.search(message, reports["bad"].error), reports["bad"].error
    assert reports["good"].ok and len(reports["good"].new) == 1
    assert reports["articles"].ok and reports["articles"].new  # the folder source too
    poll = store.last_poll("bad")
    assert poll.ok is False and poll.error == reports["bad"].error


def test_a_feed_with_named_html_entities_is_ingested_with_one_warning_naming_the_line(make_config, tmp_path):
    # &nbsp; &hellip; &auml; are undefined in XML; feedparser reads them right.
    cfg = feed_config(make_config, tmp_path, {"ent": str(CORPUS / "rss-named-entities.xml")})
    settings, store, reports = run(cfg)
    r = reports["ent"]
    assert r.ok and len(r.new) == 1, r.summary()
    a = r.new[0].article
    assert a.title == "Käse… und Brötchen"
    assert "Der März beginnt mit Schnee in den Bergen…" in a.body_text
    warning = next(w for w in a.warnings if "not well-formed" in w)
    assert "not well-formed XML at line 4: undefined entity; read by feedparser's lenient parser" in warning
    assert warning.count("4") == 1 and "<unknown>" not in warning  # the line is said once


def test_an_ill_formed_feed_is_ingested_item_by_item(make_config, tmp_path):
    # broken.xml ends in an unclosed CDATA: its one item has a title but no
    # text left, so that item is an error naming it; the source itself is fine.
    cfg = feed_config(make_config, tmp_path, {"bad": str(FEEDS / "broken.xml"), "good": str(FEEDS / "atom-en.xml")})
    settings, store, reports = run(cfg)
    assert reports["bad"].ok and reports["bad"].new == []
    assert reports["bad"].item_errors == ["https://novastan.org/de/?p=71234: no article text"]
    assert reports["good"].ok and len(reports["good"].new) == 1


def test_an_ill_formed_feed_without_entries_is_refused_naming_the_line_once(make_config, tmp_path):
    cfg = feed_config(make_config, tmp_path, {"cut": str(CORPUS / "rss-truncated-before-items.xml")})
    settings, store, reports = run(cfg)
    assert reports["cut"].error == ("source 'cut': the feed is not well-formed XML at line 4: unclosed token; "
                                    "nothing from it was ingested")


def test_wrong_encoding_is_read_with_a_warning(make_config, tmp_path):
    cfg = feed_config(make_config, tmp_path, {"enc": str(FEEDS / "wrong-encoding.xml")})
    settings, store, reports = run(cfg)
    r = reports["enc"]
    assert r.ok and len(r.new) == 2
    title = r.new[0].article.title
    assert title == "Warum Kirgistans Bergdörfer schrumpfen"
    assert any("feed encoding" in w and "windows-1252" in w for w in r.new[0].article.warnings)


def test_huge_feed_is_refused(make_config, tmp_path, feed_server):
    base, root, _ = feed_server
    big = (FEEDS / "wordpress-de.xml").read_text(encoding="utf-8").replace(
        "<item>", "<item><!--" + "x" * 60_000 + "-->", 1)
    (root / "huge.xml").write_text(big, encoding="utf-8")
    (root / "huge-file.xml").write_text(big, encoding="utf-8")
    shutil.copy(root / "huge.xml", tmp_path / "huge-local.xml")
    extra = "max_bytes = 50000\n"
    cfg = make_config(
        f'\n[[sources]]\nname = "huge"\nkind = "feed"\nurl = "{base}/huge.xml"\n{extra}'
        f'\n[[sources]]\nname = "huge-local"\nkind = "feed"\nurl = "{tmp_path / "huge-local.xml"}"\n{extra}'
    )
    (tmp_path / "articles").mkdir(exist_ok=True)
    settings, store, reports = run(cfg)
    assert "over max_bytes=50000" in reports["huge"].error
    assert "over max_bytes=50000" in reports["huge-local"].error


def unused_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unreachable_and_404_feeds_name_the_source(make_config, tmp_path, feed_server):
    base, _, _ = feed_server
    cfg = feed_config(make_config, tmp_path, {
        "down": f"http://127.0.0.1:{unused_port()}/feed/",
        "missing": f"{base}/nope.xml",
    })
    settings, store, reports = run(cfg)
    assert reports["down"].error.startswith("source 'down': cannot reach http://127.0.0.1:")
    assert reports["missing"].error == f"source 'missing': GET {base}/nope.xml answered HTTP 404"


def test_http_feed_uses_conditional_get_and_dedupes_by_guid(make_config, tmp_path, feed_server):
    base, root, log = feed_server
    shutil.copy(FEEDS / "wordpress-de.xml", root / "feed.xml")
    cfg = feed_config(make_config, tmp_path, {"de-http": f"{base}/feed.xml"})
    _, _, first = run(cfg, "de-http")
    assert len(first["de-http"].new) == 2
    _, store, second = run(cfg, "de-http")
    assert second["de-http"].not_modified and not second["de-http"].new
    assert log[1][1] is not None and log[1][2] == "Mon, 03 Mar 2025 09:12:40 GMT"
    # The feed changes: one item edited, the other the same -> one update.
    text = (root / "feed.xml").read_text(encoding="utf-8").replace(
        "Zurück bleiben die Alten", "Zurück bleiben vor allem die Alten")
    (root / "feed.xml").write_text(text, encoding="utf-8")
    _, store, third = run(cfg, "de-http")
    r = third["de-http"]
    assert (len(r.new), len(r.updated), r.unchanged) == (0, 1, 1)
    assert r.updated[0].version == 2
    assert len(store.list_articles()) == 2


def test_parse_feed_rejects_a_non_feed_xml_document():
    from distributor.config import SourceConfig

    with pytest.raises(SourceError, match="neither RSS nor Atom"):
        sources.parse_feed(SourceConfig(name="x", kind="feed", url="x"), b"<?xml version='1.0'?><note>hi</note>")


def test_excerpt_only_items_fetch_the_page_where_the_source_asks(make_config, tmp_path, feed_server):
    base, root, log = feed_server
    feed = (FEEDS / "wordpress-de.xml").read_text(encoding="utf-8").replace(
        "https://novastan.org/de/bild-des-tages/sowjetische-urbanitaet/", f"{base}/bild.html")
    (root / "feed.xml").write_text(feed, encoding="utf-8")
    (root / "bild.html").write_text(
        "<!DOCTYPE html><html lang='de'><head><title>Sowjetische Urbanität – Novastan</title></head><body>"
        "<nav>Startseite Kirgistan Kasachstan</nav><article class='post'><h1>Sowjetische Urbanität</h1>"
        "<div class='entry-content'><p>Vor dem Hintergrund der Berge fällt der Blick auf einen Wohnblock.</p>"
        "<p>Folgt uns auf <a href='https://t.me/novastan_de_example'>Telegram</a> und abonniert unseren "
        "<a href='https://novastan.org/de/newsletter-anmeldung/'>Newsletter</a>!</p></div></article>"
        "<footer>Impressum</footer></body></html>", encoding="utf-8")
    (tmp_path / "articles").mkdir(exist_ok=True)
    cfg = make_config(f'\n[[sources]]\nname = "de"\nkind = "feed"\nurl = "{base}/feed.xml"\nfetch_full_page = true\n')
    settings, store, reports = run(cfg, "de")
    photo = next(a for a in reports["de"].new if a.key.endswith("p=71240"))
    assert [c.kind for c in photo.article.channels] == ["telegram", "newsletter"]
    assert "excerpt only in the feed: full text fetched from the page" in photo.article.warnings
    assert "Impressum" not in photo.article.body_text and "Startseite" not in photo.article.body_text
    assert any(path == "/bild.html" for path, *_ in log)


def test_without_fetch_full_page_the_page_is_not_fetched(make_config, tmp_path, feed_server):
    base, root, log = feed_server
    (root / "feed.xml").write_text((FEEDS / "wordpress-de.xml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "articles").mkdir(exist_ok=True)
    cfg = make_config(f'\n[[sources]]\nname = "de"\nkind = "feed"\nurl = "{base}/feed.xml"\n')
    run(cfg, "de")
    assert [path for path, *_ in log] == ["/feed.xml"]


class TrickleServer:
    """A real server on 127.0.0.1 that sends its answer one byte every
    `interval` seconds: in the body only, or from the very first header byte."""

    def __init__(self, *, headers_too: bool, interval: float = 0.5):
        self.headers_too, self.interval = headers_too, interval
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        body = (FEEDS / "atom-en.xml").read_bytes()
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/atom+xml\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        try:
            conn.recv(65536)
            if not self.headers_too:
                conn.sendall(head)
            for byte in (head if self.headers_too else b"") + body:
                if self.stop.wait(self.interval):
                    break
                conn.sendall(bytes([byte]))
        except OSError:
            pass  # the client gave up: that is the point
        finally:
            conn.close()

    def close(self):
        self.stop.set()
        self.sock.close()


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_a_trickling_server_cannot_hold_a_poll_past_the_whole_request_deadline(make_config, tmp_path, headers_too):
    import time

    server = TrickleServer(headers_too=headers_too)
    try:
        (tmp_path / "articles").mkdir(exist_ok=True)
        cfg = make_config(f'\n[[sources]]\nname = "slow"\nkind = "feed"\nurl = "http://127.0.0.1:{server.port}/feed"\n'
                          "timeout_seconds = 1.5\n")
        started = time.monotonic()
        settings, store, reports = run(cfg)
        elapsed = time.monotonic() - started
    finally:
        server.close()
    # Every single read is well within 1.5 s; only a deadline on the whole request ends it.
    assert elapsed < 5, f"the poll took {elapsed:.1f}s"
    assert reports["slow"].error == (f"source 'slow': GET http://127.0.0.1:{server.port}/feed timed out: no complete "
                                     "answer within the 1.5s deadline (timeout_seconds)")
    assert reports["articles"].ok  # the folder source was polled as well


def test_the_http_charset_decodes_a_feed_that_declares_none(make_config, tmp_path):
    body = (CORPUS / "rss-koi8r-undeclared.xml").read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=KOI8-R")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = FeedServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cfg = feed_config(make_config, tmp_path, {"ru": f"http://127.0.0.1:{server.server_address[1]}/feed"})
        settings, store, reports = run(cfg, "ru")
    finally:
        server.shutdown()
        server.server_close()
    article = reports["ru"].new[0].article
    assert article.title == "Бишкек растёт"
    assert "Бишкек продолжает расти" in article.body_text
    assert not any("encoding" in w for w in article.warnings)  # declared, so nothing had to be guessed
