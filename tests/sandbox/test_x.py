"""The X emulator, driven by tweepy redirected to the sandbox (reference §B.1)."""

import time

import pytest
import requests
import tweepy
from requests_oauthlib import OAuth1

from distributor.sandbox.clients import x_api, x_client, x_keys
from distributor.sandbox.credentials import sandbox_secret
from sandbox_helpers import png


def test_create_tweet_and_inspection(sandbox, control):
    client = x_client(sandbox.url)
    resp = client.create_tweet(text="Neu bei Novastan: https://novastan.org/de/artikel")
    assert resp.data["text"] == "Neu bei Novastan: https://novastan.org/de/artikel"
    assert resp.data["edit_history_tweet_ids"] == [resp.data["id"]]
    (logged,) = control.get("/_sandbox/requests", params={"service": "x"}).json()["requests"]
    assert logged["method"] == "POST /2/tweets" and logged["status"] == 201
    assert logged["body"] == {"text": "Neu bei Novastan: https://novastan.org/de/artikel"}
    assert logged["account"] == "sandbox_de"


def test_rate_limit_headers_on_every_tweet(sandbox):
    client = x_client(sandbox.url, return_type=requests.Response)
    r = client.create_tweet(text="headers")
    assert r.status_code == 201
    assert r.headers["x-rate-limit-limit"] == "200" and r.headers["x-rate-limit-remaining"] == "199"
    assert int(r.headers["x-rate-limit-reset"]) > time.time()


def test_weighted_length(sandbox):
    client = x_client(sandbox.url)
    assert client.create_tweet(text="a" * 280).data
    assert client.create_tweet(text="日本語" * 46 + "日本").data  # 140 CJK characters weigh 280
    assert client.create_tweet(text="see https://example.com/" + "x" * 250).data  # the URL counts 23
    for text in ("b" * 281, "日本語" * 47):
        with pytest.raises(tweepy.BadRequest) as exc:
            client.create_tweet(text=text)
        assert exc.value.api_messages == [
            "Your Tweet text is too long. For more information on how Twitter determines text length see "
            "https://github.com/twitter/twitter-text."]


def test_duplicate_within_24_hours(sandbox):
    client = x_client(sandbox.url)
    client.create_tweet(text="Zweimal dasselbe")
    with pytest.raises(tweepy.Forbidden) as exc:
        client.create_tweet(text="Zweimal dasselbe")
    assert exc.value.api_messages == ["You are not allowed to create a Tweet with duplicate content."]
    x_client(sandbox.url, "en").create_tweet(text="Zweimal dasselbe")  # another account may
    sandbox.clock.advance(24 * 3600 + 1)
    assert client.create_tweet(text="Zweimal dasselbe").data


def test_bad_signatures_and_unknown_keys_are_401(sandbox):
    for keys in ({"consumer_secret": "wrong"}, {"access_token_secret": "wrong"},
                 {"access_token": "unknown"}, {"consumer_key": "unknown"},
                 # a valid pair from two different apps
                 {"consumer_key": sandbox_secret("en", "twitter", "consumer_key"),
                  "consumer_secret": sandbox_secret("en", "twitter", "consumer_secret")}):
        with pytest.raises(tweepy.Unauthorized) as exc:
            x_client(sandbox.url, **keys).create_tweet(text="nope")
        assert exc.value.response.json() == {"title": "Unauthorized", "type": "about:blank", "status": 401,
                                             "detail": "Unauthorized"}
    with pytest.raises(tweepy.Unauthorized):  # an unknown bearer token
        _bearer_client(sandbox, "nobody").create_tweet(text="x", user_auth=False)
    assert requests.post(f"{sandbox.url}/x/2/tweets", json={"text": "x"}).status_code == 401  # none at all


def _bearer_client(sandbox, token):
    from distributor.channels.twitter import Redirect

    client = tweepy.Client(bearer_token=token)
    client.session.mount("https://api.twitter.com", Redirect(f"{sandbox.url}/x"))
    return client


def test_app_only_bearer_cannot_post(sandbox):
    client = _bearer_client(sandbox, sandbox_secret("de", "twitter", "bearer_token"))
    with pytest.raises(tweepy.Forbidden) as exc:
        client.create_tweet(text="app only", user_auth=False)
    assert exc.value.response.json()["title"] == "Unsupported Authentication"


def test_signature_over_the_sandbox_url_is_accepted(sandbox):
    """An adapter pointed at the sandbox directly (no redirect) signs the URL it calls."""
    k = x_keys("de")
    auth = OAuth1(k["consumer_key"], k["consumer_secret"], k["access_token"], k["access_token_secret"])
    r = requests.post(f"{sandbox.url}/x/2/tweets", json={"text": "direct"}, auth=auth)
    assert r.status_code == 201
    r = requests.post(f"{sandbox.url}/x/2/tweets", json={"text": "extra", "bogus": 1}, auth=auth)
    assert r.status_code == 400 and r.json()["errors"][0]["message"] == "#: extraneous key [bogus] is not permitted"
    r = requests.post(f"{sandbox.url}/x/2/tweets", data=b"{not json", auth=auth,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 400


def test_delete_and_users_me(sandbox):
    de, en = x_client(sandbox.url, "de"), x_client(sandbox.url, "en")
    me = de.get_me(user_auth=True)
    assert me.data.username == "sandbox_de"
    tweet = de.create_tweet(text="to be deleted").data
    with pytest.raises(tweepy.Forbidden):
        en.delete_tweet(tweet["id"])
    assert de.delete_tweet(tweet["id"]).data == {"deleted": True}
    with pytest.raises(tweepy.NotFound):
        de.delete_tweet(tweet["id"])
    assert de.create_tweet(text="to be deleted").data  # no longer a duplicate


def test_reply_to_unknown_tweet(sandbox):
    client = x_client(sandbox.url)
    first = client.create_tweet(text="thread 1/2").data
    assert client.create_tweet(text="thread 2/2", in_reply_to_tweet_id=first["id"]).data
    with pytest.raises(tweepy.Forbidden):
        client.create_tweet(text="reply to nothing", in_reply_to_tweet_id="1")


def test_media_upload_v1_simple_and_chunked_then_tweet(sandbox, tmp_path):
    image = tmp_path / "cover.png"
    image.write_bytes(png(60, 40))
    api = x_api(sandbox.url)
    media = api.media_upload(str(image))
    assert media.image["w"] == 60 and media.image["h"] == 40
    chunked = api.media_upload(str(image), chunked=True, media_category="tweet_image")
    assert chunked.media_id_string != media.media_id_string
    client = x_client(sandbox.url)
    tweet = client.create_tweet(text="mit Bild", media_ids=[media.media_id_string, chunked.media_id_string])
    assert tweet.data["id"]
    with pytest.raises(tweepy.BadRequest) as exc:
        client.create_tweet(text="falsches Bild", media_ids=["123"])
    assert exc.value.api_messages == ["Your media IDs are invalid."]
    with pytest.raises(tweepy.BadRequest):  # another account's media
        x_client(sandbox.url, "en").create_tweet(text="fremd", media_ids=[media.media_id_string])
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(tweepy.BadRequest):
        api.media_upload(str(bad))
    with pytest.raises(tweepy.Unauthorized):
        x_api(sandbox.url, consumer_secret="wrong").media_upload(str(image))


def test_media_upload_v2(sandbox):
    k = x_keys("de")
    auth = OAuth1(k["consumer_key"], k["consumer_secret"], k["access_token"], k["access_token_secret"])
    r = requests.post(f"{sandbox.url}/x/2/media/upload", files={"media": ("c.png", png(), "image/png")},
                      data={"media_category": "tweet_image"}, auth=auth)
    assert r.status_code == 200, r.text
    media_id = r.json()["data"]["id"]
    assert r.json()["data"]["media_key"] == f"3_{media_id}"
    assert x_client(sandbox.url).create_tweet(text="v2 media", media_ids=[media_id]).data


def test_rate_limit_window(sandbox):
    sandbox.call(setattr, sandbox.sandbox.x.window, "limit", 2)
    client = x_client(sandbox.url)
    client.create_tweet(text="one")
    client.create_tweet(text="two")
    with pytest.raises(tweepy.TooManyRequests) as exc:
        client.create_tweet(text="three")
    headers = exc.value.response.headers
    assert headers["x-rate-limit-remaining"] == "0"
    assert int(headers["x-rate-limit-reset"]) >= int(sandbox.clock.now())
    sandbox.clock.advance(901)
    assert client.create_tweet(text="three").data


def test_injected_faults_reach_tweepy(sandbox, control):
    control.post("/_sandbox/faults", json={"service": "x", "status": 429, "retry_after": 3, "method": "/2/tweets"})
    client = x_client(sandbox.url)
    with pytest.raises(tweepy.TooManyRequests) as exc:
        client.create_tweet(text="limited")
    reset = int(exc.value.response.headers["x-rate-limit-reset"])
    assert 0 < reset - sandbox.clock.now() <= 4
    control.post("/_sandbox/faults", json={"service": "x", "status": 503})
    with pytest.raises(tweepy.TwitterServerError):
        client.create_tweet(text="down")
    control.post("/_sandbox/faults", json={"service": "x", "delay_ms": 800})
    client.session.request = _with_timeout(client.session.request, 0.2)
    with pytest.raises(requests.exceptions.ReadTimeout):
        client.create_tweet(text="slow")
    assert x_client(sandbox.url).create_tweet(text="limited").data


def _with_timeout(request, timeout):
    def wrapped(*args, **kwargs):
        kwargs.setdefault("timeout", timeout)
        return request(*args, **kwargs)
    return wrapped


def test_user_timeline_and_a_timeout_that_still_posted(sandbox, control):
    client = x_client(sandbox.url)
    me = client.get_me(user_auth=True).data
    control.post("/_sandbox/faults", json={"service": "x", "delay_ms": 600, "method": "/2/tweets"})
    client.session.request = _with_timeout(client.session.request, 0.2)
    with pytest.raises(requests.exceptions.ReadTimeout):
        client.create_tweet(text="arrived despite the timeout")
    # the call was carried out, only its answer was late: the post is on the account
    found = x_client(sandbox.url).get_users_tweets(me.id, max_results=5, user_auth=True,
                                                   tweet_fields=["created_at"])
    assert [t.text for t in found.data] == ["arrived despite the timeout"]
    assert found.data[0].created_at is not None and found.meta["result_count"] == 1
    with pytest.raises(tweepy.BadRequest):
        x_client(sandbox.url).get_users_tweets(me.id, max_results=500, user_auth=True)
