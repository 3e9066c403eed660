"""X (Twitter), on tweepy's `Client` (API v2, OAuth 1.0a user context).

tweepy hard-codes https://api.twitter.com; another base URL (the sandbox) is
reached by mounting a redirecting requests adapter on the client's session, so
the OAuth signature is still computed over the real URL (reference §B.1).
Images go up through the v2 media endpoint with the same signing session.

The payload builder (`build_post`) is pure: a rendered message becomes an
`XPost`, the exact POST /2/tweets bodies of a post or a thread (each part
replying to the one before), with the image to upload first. `TwitterChannel`
is the thin sender: it uploads, posts each body through tweepy's signing
client, and maps tweepy's errors into the delivery hierarchy.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable, Mapping, TypeVar, Union
from urllib.parse import urlsplit, urlunsplit

import httpx
import requests
import tweepy
from requests.adapters import HTTPAdapter
from requests_oauthlib import OAuth1

from distributor.channels.base import SearchableChannel, SendResult, sealed_photo, wait_from_headers
from distributor.errors import (
    ChannelUnusable,
    DuplicateContent,
    OutcomeUnknown,
    PermanentDeliveryError,
    RateLimited,
    TransientDeliveryError,
)
from distributor.render import RenderedMessage

API_HOST = "https://api.twitter.com"
MAX_IMAGE_BYTES = 5 * 2**20
DUPLICATE = "duplicate content"
# How many pages of 100 recent posts a search reads at most.
SEARCH_PAGES = 10
# In a recorded XPost, the ids X assigns while it is sent.
MEDIA_ID = "{media_id}"
PREVIOUS_POST = "{previous_post_id}"

T = TypeVar("T")
# requests' adapter arguments, as its stubs spell them.
Timeout = Union[float, tuple[float, float], tuple[float, None], None]
Cert = Union[bytes, str, tuple[Union[bytes, str], Union[bytes, str]], None]


# ------------------------------------------------------------ payloads (pure)

@dataclass(frozen=True)
class XPost:
    """A post, or a thread: `texts` in order, each replying to the one before.
    `image` (a URL or a local file) is uploaded first and attached to the first."""

    texts: tuple[str, ...]
    image: str | None = None

    def body(self, index: int, *, media_id: str | None = None, reply_to: str | None = None) -> dict[str, Any]:
        """The exact POST /2/tweets JSON of part `index`, given the ids X gave
        the uploaded image and the part before it."""
        out: dict[str, Any] = {"text": self.texts[index]}
        if media_id is not None:
            out["media"] = {"media_ids": [media_id]}
        if reply_to is not None:
            out["reply"] = {"in_reply_to_tweet_id": reply_to}
        return out

    def to_json(self) -> dict[str, Any]:
        """Every body, with the ids X assigns at send time as named slots."""
        out: dict[str, Any] = {}
        if self.image:
            out["image"] = self.image
        out["posts"] = [self.body(i, media_id=MEDIA_ID if self.image and i == 0 else None,
                                  reply_to=PREVIOUS_POST if i else None) for i in range(len(self.texts))]
        return out


def build_post(message: RenderedMessage, *, placeholder: str | None = None) -> XPost:
    """The post (or thread) for `message`. A remote image is swapped for the
    sandbox's `placeholder` when one is given (sealed_photo)."""
    return XPost(texts=message.parts or (message.text,), image=sealed_photo(message.photo, placeholder) or None)


# ------------------------------------------------------------ the sender

class TimeoutAdapter(HTTPAdapter):
    """A default timeout for every request (tweepy sets none: a hung call
    would hang the dispatcher)."""

    def __init__(self, timeout: float, **kwargs: Any):
        super().__init__(**kwargs)
        self.timeout = timeout

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Timeout = None,
             verify: bool | str = True, cert: Cert = None,
             proxies: Mapping[str, str] | None = None) -> requests.Response:
        if timeout is None:
            timeout = (min(5.0, self.timeout), self.timeout)
        return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies)


class Redirect(TimeoutAdapter):
    """Send requests for one origin to another base URL, keeping the path."""

    def __init__(self, target: str, timeout: float = 20.0, **kwargs: Any):
        super().__init__(timeout, **kwargs)
        self.target = urlsplit(target.rstrip("/"))

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Timeout = None,
             verify: bool | str = True, cert: Cert = None,
             proxies: Mapping[str, str] | None = None) -> requests.Response:
        src = urlsplit(request.url or "")
        request.url = urlunsplit((self.target.scheme, self.target.netloc, self.target.path + src.path,
                                  src.query, src.fragment))
        return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies)


class TwitterChannel(SearchableChannel[XPost]):
    kind = "twitter"

    def __init__(self, name: str, *, consumer_key: str, consumer_secret: str, access_token: str,
                 access_token_secret: str, api_url: str = API_HOST, timeout: float = 20.0,
                 placeholder_image: str | None = None):
        self.name = name
        self.timeout = timeout
        # Sandbox mode: uploaded instead of a remote image, which is never fetched.
        self.placeholder_image = placeholder_image
        self.client = tweepy.Client(consumer_key=consumer_key, consumer_secret=consumer_secret,
                                    access_token=access_token, access_token_secret=access_token_secret)
        self.media_session = requests.Session()
        self.media_auth = OAuth1(consumer_key, consumer_secret, access_token, access_token_secret)
        for session in (self.client.session, self.media_session):
            if api_url.rstrip("/") != API_HOST:
                session.mount(API_HOST, Redirect(api_url, timeout))
            else:
                session.mount(API_HOST, TimeoutAdapter(timeout))
        self._user_id: str | None = None

    # ------------------------------------------------------------ sending

    def build(self, message: RenderedMessage, *, silent: bool = False) -> XPost:
        # X has no silent posts; `silent` is part of the channel protocol.
        return build_post(message, placeholder=self.placeholder_image)

    async def post(self, request: XPost) -> SendResult:
        return await asyncio.to_thread(self._post, request)

    def _post(self, request: XPost) -> SendResult:
        note = None
        media_id = None
        if request.image:
            try:
                media_id = self._upload(request.image)
            except (httpx.HTTPError, requests.RequestException, ValueError, OSError) as exc:
                note = f"posted without the image: {exc}"
        ids: list[str] = []
        for i in range(len(request.texts)):
            body = request.body(i, media_id=media_id if i == 0 else None, reply_to=ids[-1] if ids else None)
            try:
                resp = self._call(lambda: self.client.request("POST", "/2/tweets", json=body, user_auth=True))
            except (TransientDeliveryError, OutcomeUnknown, PermanentDeliveryError) as exc:
                if not ids:
                    raise
                raise PermanentDeliveryError(
                    f"thread broken after part {len(ids)} of {len(request.texts)} (posted: {', '.join(ids)}): "
                    f"{exc}", channel=self.name) from None
            ids.append(str(resp.json()["data"]["id"]))
        if len(ids) > 1:
            note = "; ".join(filter(None, [note, f"thread of {len(ids)} posts: {', '.join(ids)}"]))
        return SendResult(ids[0], note)

    def _upload(self, photo: str) -> str:
        data = _fetch_image(photo, self.timeout)
        resp = self.media_session.post(f"{API_HOST}/2/media/upload", auth=self.media_auth,
                                       files={"media": ("image", data)}, data={"media_category": "tweet_image"},
                                       timeout=self.timeout)
        if resp.status_code >= 300:
            raise ValueError(f"media upload answered HTTP {resp.status_code}: {resp.text[:200]}")
        return str(resp.json()["data"]["id"])

    # ------------------------------------------------------------ recovery

    async def find_posts(self, message: RenderedMessage, since: dt.datetime) -> list[str]:
        """Ids of the account's posts since `since` whose text is exactly this
        message's (its first part), newest first. X shortens links to t.co: a
        post's links are expanded from its entities before comparing."""
        return await asyncio.to_thread(self._find_posts, message, since)

    def _find_posts(self, message: RenderedMessage, since: dt.datetime) -> list[str]:
        wanted = _normal((message.parts or (message.text,))[0])
        if not wanted:
            return []
        if self._user_id is None:
            me = self._call(lambda: self.client.get_me(user_auth=True))
            self._user_id = str(me.data["id"] if isinstance(me.data, dict) else me.data.id)
        start = (since - dt.timedelta(minutes=5)).astimezone(dt.timezone.utc).replace(microsecond=0)
        found: list[str] = []
        token = None
        for _ in range(SEARCH_PAGES):
            resp = self._call(lambda: self.client.get_users_tweets(
                self._user_id, start_time=start.isoformat().replace("+00:00", "Z"), max_results=100,
                tweet_fields=["entities"], pagination_token=token, user_auth=True))
            for tweet in resp.data or []:
                data = tweet if isinstance(tweet, dict) else tweet.data
                if _normal(_expanded(data)) == wanted:
                    found.append(str(data["id"]))
            token = (resp.meta or {}).get("next_token")
            if not token:
                break
        return found

    async def aclose(self) -> None:
        self.client.session.close()
        self.media_session.close()

    # ------------------------------------------------------------ errors

    def _call(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except tweepy.TooManyRequests as exc:
            wait = wait_from_headers(exc.response.headers if exc.response is not None else None,
                                     "x-rate-limit-reset")
            raise RateLimited(f"rate limited: {_describe(exc)}", retry_after=wait, channel=self.name) from None
        except tweepy.Unauthorized as exc:
            raise ChannelUnusable(f"credentials rejected: {_describe(exc)}", channel=self.name,
                                  status_code=401) from None
        except tweepy.Forbidden as exc:
            text = _describe(exc)
            if DUPLICATE in text.lower():
                raise DuplicateContent(text, channel=self.name, status_code=403) from None
            raise ChannelUnusable(text, channel=self.name, status_code=403) from None
        except tweepy.TwitterServerError as exc:
            raise TransientDeliveryError(_describe(exc), channel=self.name, status_code=exc.response.status_code) from None
        except tweepy.HTTPException as exc:
            raise PermanentDeliveryError(_describe(exc), channel=self.name,
                                         status_code=exc.response.status_code) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            if isinstance(exc, (requests.ConnectTimeout,)) or _never_connected(exc):
                raise TransientDeliveryError(f"cannot connect: {exc}", channel=self.name) from None
            raise OutcomeUnknown(f"no answer, the post may have gone out: {exc}", channel=self.name) from None


def _describe(exc: tweepy.HTTPException) -> str:
    messages = "; ".join(str(m) for m in exc.api_messages) if exc.api_messages else ""
    return f"{exc.response.status_code} {messages}".strip() if exc.response is not None else str(exc)


def _never_connected(exc: requests.RequestException) -> bool:
    text = repr(exc)
    return "NewConnectionError" in text or "Connection refused" in text or "NameResolutionError" in text


def _normal(text: str) -> str:
    return " ".join(text.split())


def _expanded(tweet: dict[str, Any]) -> str:
    """A post's text with its t.co links replaced by the links that were posted."""
    text = tweet.get("text") or ""
    for url in ((tweet.get("entities") or {}).get("urls") or []):
        if url.get("url") and url.get("expanded_url"):
            text = text.replace(url["url"], url["expanded_url"])
    return text


def _fetch_image(photo: str, timeout: float) -> bytes:
    if "://" not in photo:
        with open(photo, "rb") as fh:
            data = fh.read(MAX_IMAGE_BYTES + 1)
    else:
        with httpx.stream("GET", photo, timeout=timeout, follow_redirects=True) as resp:
            if resp.status_code >= 400:
                raise ValueError(f"image {photo} answered HTTP {resp.status_code}")
            data = b""
            for chunk in resp.iter_bytes():
                data += chunk
                if len(data) > MAX_IMAGE_BYTES:
                    break
    if len(data) > MAX_IMAGE_BYTES:
        raise ValueError(f"image {photo} is over X's 5 MB limit")
    return data
