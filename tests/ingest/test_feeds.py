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
    ("broken.xml", r"not well-formed XML at line \d+: .*unclosed CDATA"),
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
