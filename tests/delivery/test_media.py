"""An article's image goes out as a Telegram photo with a caption and as X
media; an image that cannot be fetched does not stop the post."""

from __future__ import annotations

import http.server
import threading

import pytest

from distributor.ingest.pipeline import ingest
from support import drain, png, sent


@pytest.fixture
def image_server():
    body = png()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path != "/yurt.png":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def article_with_image(articles_dir, url: str) -> None:
    for f in articles_dir.iterdir():
        f.unlink()
    (articles_dir / "jurte.md").write_text(
        f"---\ntitle: Die Jurte kehrt zurück\nlanguage: de\nurl: https://novastan.org/de/jurte/\n"
        f"image: {url}\nchannels: [telegram, twitter]\n---\n\nIn Kirgistan wohnen wieder mehr Familien in Jurten.\n",
        encoding="utf-8")



def test_the_image_goes_as_photo_and_as_x_media(sb_settings, store, control, clock, articles_dir, image_server):
    article_with_image(articles_dir, f"{image_server}/yurt.png")
    ingest(sb_settings, store, now=clock())
    drain(sb_settings, store, clock)
    (photo,) = sent(control, "telegram", "sendPhoto")
    assert photo["body"]["photo"] == f"{image_server}/yurt.png"
    assert "Die Jurte kehrt zurück" in photo["body"]["caption"]
    (upload,) = sent(control, "x", "/2/media/upload")
    media_id = upload["result"]["data"]["id"]
    (tweet,) = sent(control, "x", "/2/tweets")
    assert tweet["body"]["media"]["media_ids"] == [media_id]
    assert {d.status for d in store.deliveries()} == {"sent"}


def test_an_image_that_cannot_be_fetched_does_not_stop_the_tweet(sb_settings, store, control, clock, articles_dir,
                                                                  image_server):
    article_with_image(articles_dir, f"{image_server}/missing.png")
    ingest(sb_settings, store, now=clock())
    drain(sb_settings, store, clock)
    (tweet,) = sent(control, "x", "/2/tweets")
    assert "media" not in tweet["body"]
    x = [d for d in store.deliveries() if d.kind == "twitter"][0]
    assert x.status == "sent" and x.reason.startswith("posted without the image: image ") and "404" in x.reason


def test_a_photo_telegram_refuses_goes_out_as_a_text_post(sb_settings, store, control, clock, articles_dir):
    article_with_image(articles_dir, "https://novastan.org/de/wp-content/uploads/gone.jpg")
    ingest(sb_settings, store, now=clock())
    control.post("/_sandbox/faults", json={"service": "telegram", "status": 400, "method": "sendPhoto",
                                           "description": "Bad Request: wrong file identifier/HTTP URL specified"})
    drain(sb_settings, store, clock)
    tg = [d for d in store.deliveries() if d.kind == "telegram"][0]
    assert tg.status == "sent"
    assert tg.reason.startswith("posted without the photo, which Telegram refused: de.telegram: Wrong file identifier")
    (text,) = [r for r in sent(control, "telegram", "sendMessage")]
    assert "Die Jurte kehrt zurück" in text["body"]["text"]
    assert sent(control, "telegram", "sendPhoto") == []


def test_other_photo_errors_still_fail(sb_settings, store, control, clock, articles_dir, image_server):
    article_with_image(articles_dir, f"{image_server}/yurt.png")
    ingest(sb_settings, store, now=clock())
    control.post("/_sandbox/faults", json={"service": "telegram", "status": 400, "method": "sendPhoto",
                                           "description": "Bad Request: message caption is too long"})
    drain(sb_settings, store, clock)
    tg = [d for d in store.deliveries() if d.kind == "telegram"][0]
    assert tg.status == "failed" and "caption is too long" in tg.last_error.lower()
    assert sent(control, "telegram", "sendMessage") == []
