"""The X API emulator: /x/2/tweets, /x/2/users/me, /x/2/media/upload and
/x/1.1/media/upload.json, for tweepy redirected as in reference §B.1.

OAuth 1.0a user context is required and its HMAC-SHA1 signature verified
against the account's keys. tweepy signs the *original* URL
(https://api.twitter.com/2/tweets) before the redirecting adapter rewrites it,
so the signature is accepted for the X hosts or for the URL actually called.
Errors are the v2 "problem" JSON (v1.1 `{"errors": [...]}` on upload.json).
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import time
import unicodedata
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl

from oauthlib.oauth1.rfc5849 import signature as oauth_sig
from oauthlib.oauth1.rfc5849 import utils as oauth_utils
from starlette.requests import Request
from starlette.responses import Response
from twitter_text import parse_tweet

from distributor.sandbox.accounts import XAccount
from distributor.sandbox.core import SandboxCore
from distributor.sandbox.faults import Fault
from distributor.sandbox.http import BodyError, Upload, dumps, image_info, json_response, loggable, read_params
from distributor.sandbox.ratelimit import FixedWindow

DUPLICATE_WINDOW = 24 * 3600
TIMESTAMP_SKEW = 300  # seconds an oauth_timestamp may be off real time
TWEPOCH_MS = 1288834974657
ORIGINAL_HOSTS = ("https://api.twitter.com", "https://api.x.com", "https://upload.twitter.com", "https://upload.x.com")
IMAGE_MAX = 5 * 2**20
TWEET_KEYS = frozenset({
    "text", "reply", "media", "quote_tweet_id", "poll", "geo", "reply_settings", "for_super_followers_only",
    "direct_message_deep_link", "community_id", "card_uri", "edit_options", "nullcast", "share_with_followers",
    "made_with_ai", "paid_partnership",
})
TOO_LONG = ("Your Tweet text is too long. For more information on how Twitter determines text length "
            "see https://github.com/twitter/twitter-text.")
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
UNSUPPORTED_AUTH = ("Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported "
                    "authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].")
TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
          413: "Payload Too Large", 429: "Too Many Requests",
          500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


class XError(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(body.get("detail") or body)
        self.status, self.body, self.headers = status, body, headers or {}


def problem(status: int, detail: str | None = None, *, title: str | None = None,
            type_: str = "about:blank", **extra: Any) -> XError:
    title = title or TITLES.get(status, "Error")
    return XError(status, {"title": title, "detail": detail or title, "type": type_, "status": status, **extra})


def invalid_request(message: str, parameters: dict[str, list[str]] | None = None) -> XError:
    return XError(400, {
        "errors": [{"parameters": parameters or {}, "message": message}],
        "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    })


def v1_error(status: int, code: int, message: str) -> XError:
    return XError(status, {"errors": [{"code": code, "message": message}]})


def fault_response(fault: Fault, now: float) -> Response:
    status = fault.status or 500
    headers = {}
    if status == 429:
        reset = int(now) + (fault.retry_after if fault.retry_after is not None else 5)
        headers = {"x-rate-limit-limit": "0", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)}
    err = problem(status, fault.description or None)
    return json_response(err.body, status, headers)


# ------------------------------------------------------------------ pure checks


def check_tweet_text(text: str) -> None:
    """Raise the API's error for a text X refuses (twitter-text v3 weighting)."""
    if any(c in text for c in "\ufffe\ufeff\uffff"):
        raise invalid_request("Your Tweet text contains invalid characters.", {"text": [text]})
    text = unicodedata.normalize("NFC", text)
    if _weight_bound(text) <= 280:
        return  # surely valid: skip twitter-text's costly emoji and URL extraction
    if parse_tweet(text).weightedLength > 280:
        raise problem(400, TOO_LONG)


def _light(c: str) -> bool:
    """A code point twitter-text v3 weighs 1 (and that is never an emoji)."""
    o = ord(c)
    return (o <= 0x10FF and o not in (0xA9, 0xAE)) or 0x2000 <= o <= 0x200D or 0x2010 <= o <= 0x201F \
        or 0x2032 <= o <= 0x2037


def _weight_bound(text: str) -> int:
    """An upper bound of the weighted length: every code point at its own weight
    (an emoji sequence weighs 2, never more than its parts), and each URL, which
    holds at least one "." and 4 characters, at most 19 more than its characters."""
    if text.isascii():
        return len(text) + 19 * text.count(".")
    return sum(1 if _light(c) else 2 for c in text) + 19 * text.count(".")


def oauth1_account(method: str, uris: list[str], auth_header: str, query: str, form_body: str,
                   accounts: dict[str, XAccount], consumers: dict[str, str], now: float) -> XAccount | None:
    """The account whose keys signed this request, or None if nothing checks out."""
    if not auth_header.startswith("OAuth "):
        return None
    try:
        oauth = {k: oauth_utils.unescape(v) for k, v in oauth_utils.parse_authorization_header(auth_header)}
    except (ValueError, IndexError):
        return None
    if oauth.get("oauth_signature_method") != "HMAC-SHA1" or oauth.get("oauth_version", "1.0") != "1.0":
        return None
    account = accounts.get(oauth.get("oauth_token", ""))
    secret = consumers.get(oauth.get("oauth_consumer_key", ""))
    if account is None or secret is None or account.consumer_key != oauth["oauth_consumer_key"]:
        return None
    try:
        if abs(int(oauth.get("oauth_timestamp", "0")) - now) > TIMESTAMP_SKEW:
            return None
    except ValueError:
        return None
    given = oauth.get("oauth_signature", "")
    params = [(k, v) for k, v in oauth.items() if k not in ("oauth_signature", "realm")]
    params += parse_qsl(query, keep_blank_values=True) + parse_qsl(form_body, keep_blank_values=True)
    normalized = oauth_sig.normalize_parameters(params)
    for uri in uris:
        base = oauth_sig.signature_base_string(method, oauth_sig.base_string_uri(uri), normalized)
        expected = oauth_sig.sign_hmac_sha1(base, account.consumer_secret, account.access_token_secret)
        if hmac.compare_digest(expected, given):
            return account
    return None


# ------------------------------------------------------------------ service


class XService:
    name = "x"

    def __init__(self, core: SandboxCore):
        self.core = core
        self._seq = itertools.count()
        self.reset()

    def reset(self) -> None:
        self.window = FixedWindow(self.core.config.x_tweets_per_window, self.core.config.x_window_seconds)
        self.tweets: dict[str, dict[str, Any]] = {}  # id -> {data, author, time}
        self.recent: dict[tuple[str, str], float] = {}  # (user id, text) -> time posted
        self.media: dict[str, dict[str, Any]] = {}  # media id -> {owner, expires, info, data}

    def new_id(self) -> str:
        ms = int(self.core.clock.now() * 1000) - TWEPOCH_MS
        return str((ms << 22) | (next(self._seq) % 4096))

    # -------------------------------------------------------------- HTTP

    async def handle(self, request: Request) -> Response:
        path = request.url.path[len("/x"):]
        v1 = path.startswith("/1.1/")
        method = f"{request.method} {path}"
        params: dict[str, Any] = {}
        body_error = None
        try:  # read first: a slow answer (delay_ms) is a call the service did receive and carry out
            params = await read_params(request, max_file_bytes=16 * 2**20)
        except BodyError as exc:
            body_error = exc
        fault = self.core.faults.take("x", method)
        if fault is not None and fault.status:
            await asyncio.sleep(fault.delay_ms / 1000)
            self.core.log.add("x", method, request.url.path, self.core.clock.now(), loggable(params),
                              status=fault.status, error="injected fault")
            return fault_response(fault, self.core.clock.now())
        response = await self._serve(request, path, v1, method, params, body_error)
        if fault is not None:  # latency only: the call is carried out, its answer comes late
            await asyncio.sleep(fault.delay_ms / 1000)
        return response

    async def _serve(self, request: Request, path: str, v1: bool, method: str, params: dict[str, Any],
                     body_error: Exception | None) -> Response:
        try:
            if body_error is not None:
                raise invalid_request(f"Request body is not valid JSON: {body_error}")
            account = await self.authenticate(request, path, v1)
            status, result, headers = await self.route(request.method, path, account, params)
        except XError as exc:
            self.core.log.add("x", method, request.url.path, self.core.clock.now(), loggable(params),
                              status=exc.status, error=str(exc.body))
            return json_response(exc.body, exc.status, exc.headers)
        self.core.log.add("x", method, request.url.path, self.core.clock.now(), loggable(params),
                          account=account.username, status=status, result=result)
        if result is None:
            return Response(status_code=status, headers=headers)
        return Response(dumps(result), status_code=status, headers=headers, media_type="application/json")

    async def authenticate(self, request: Request, path: str, v1: bool) -> XAccount:
        auth = request.headers.get("authorization", "")
        acc = self.core.accounts
        if auth.startswith("Bearer "):
            if auth[7:] in acc.x_by_bearer and not (request.method == "GET" and path == "/2/users/me"):
                raise problem(403, UNSUPPORTED_AUTH, title="Unsupported Authentication",
                              type_="https://api.twitter.com/2/problems/unsupported-authentication")
        else:
            form = ""  # a urlencoded body is part of the signature base; JSON and multipart are not
            if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                form = (await request.body()).decode("utf-8", "replace")
            uris = [h + path for h in ORIGINAL_HOSTS]
            uris.append(str(request.url).split("?", 1)[0])
            account = oauth1_account(request.method, uris, auth, request.url.query, form,
                                     acc.x_by_token, acc.x_consumers, time.time())
            if account is not None:
                return account
        if v1:
            raise v1_error(401, 32, "Could not authenticate you.")
        raise problem(401, "Unauthorized")

    async def route(self, method: str, path: str, account: XAccount,
                    params: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        if path == "/2/tweets" and method == "POST":
            return self.create_tweet(account, params)
        if path.startswith("/2/tweets/") and method == "DELETE":
            return self.delete_tweet(account, path.rsplit("/", 1)[1])
        if path.startswith("/2/users/") and path.endswith("/tweets") and method == "GET":
            return self.user_tweets(path.split("/")[3], params)
        if path == "/2/users/me" and method == "GET":
            return 200, {"data": {"id": account.user_id, "name": account.name, "username": account.username}}, {}
        if path == "/2/media/upload" and method == "POST":
            media_id, info = self.store_media(account, params.get("media"), params.get("media_category"))
            return 200, {"data": {"id": media_id, "media_key": f"3_{media_id}", "size": info["size"],
                                  "expires_after_secs": 86400, "image": info["image"]}}, {}
        if path == "/1.1/media/upload.json":
            return self.upload_v1(method, account, params)
        raise problem(404, "Sorry, that page does not exist", title="Not Found Error")

    # -------------------------------------------------------------- tweets

    def create_tweet(self, account: XAccount, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        extra = sorted(set(body) - TWEET_KEYS)
        if extra:
            raise invalid_request(f"#: extraneous key [{extra[0]}] is not permitted")
        text = body.get("text")
        if text is not None and not isinstance(text, str):
            raise invalid_request("$.text: string found, but expected")
        media = body.get("media") or {}
        media_ids = media.get("media_ids") if isinstance(media, dict) else None
        if not text and not media_ids and not body.get("quote_tweet_id") and not body.get("card_uri"):
            raise invalid_request("Post text is empty. Add text, media, a quote or a card.", {"text": [text or ""]})
        if text:
            check_tweet_text(text)
        if media_ids is not None:
            self.check_media(account, media_ids)
        reply = body.get("reply")
        if reply is not None:
            target = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
            if str(target) not in self.tweets:
                raise problem(403, "You attempted to reply to a Tweet that is deleted or not visible to you.")
        now = self.core.clock.now()
        allowed, win = self.window.hit(account.user_id, now)
        headers = {}
        if win.limit:
            headers = {"x-rate-limit-limit": str(win.limit), "x-rate-limit-remaining": str(win.remaining),
                       "x-rate-limit-reset": str(win.reset)}
        if not allowed:
            raise XError(429, problem(429).body, headers)
        key = (account.user_id, (text or "").strip())
        if text:
            posted = self.recent.get(key)
            if posted is not None and now - posted < DUPLICATE_WINDOW:
                raise XError(403, problem(403, DUPLICATE).body, headers)
        tweet_id = self.new_id()
        data = {"id": tweet_id, "text": text or "", "edit_history_tweet_ids": [tweet_id]}
        self.tweets[tweet_id] = {"data": data, "author": account.user_id, "username": account.username,
                                 "time": now, "request": body}
        if text:
            self.recent[key] = now
        return 201, {"data": data}, headers

    def user_tweets(self, user_id: str, params: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        """GET /2/users/:id/tweets: newest first, filtered by time and id, paginated."""
        try:
            max_results = int(params.get("max_results", 10))
        except ValueError:
            max_results = 0
        if not 5 <= max_results <= 100:
            raise invalid_request(f"The `max_results` query parameter value [{params.get('max_results')}] is not "
                                  "between 5 and 100", {"max_results": [str(params.get("max_results"))]})
        bounds = {}
        for key in ("start_time", "end_time"):
            if params.get(key):
                try:
                    bounds[key] = datetime.fromisoformat(str(params[key]).replace("Z", "+00:00")).timestamp()
                except ValueError:
                    raise invalid_request(f"Invalid {key}", {key: [str(params[key])]}) from None
        since, until = int(params.get("since_id") or 0), int(params.get("until_id") or 0)
        tweets = [t for t in self.tweets.values() if t["author"] == user_id
                  and t["time"] >= bounds.get("start_time", 0) and t["time"] <= bounds.get("end_time", 1e12)
                  and int(t["data"]["id"]) > since and (not until or int(t["data"]["id"]) < until)]
        tweets.sort(key=lambda t: int(t["data"]["id"]), reverse=True)
        offset = int(params.get("pagination_token") or 0)
        page = tweets[offset:offset + max_results]
        fields = str(params.get("tweet.fields") or "").split(",")
        data = [{**t["data"], **({"created_at": datetime.fromtimestamp(t["time"], timezone.utc)
                                  .strftime("%Y-%m-%dT%H:%M:%S.000Z")} if "created_at" in fields else {})}
                for t in page]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta.update(newest_id=page[0]["data"]["id"], oldest_id=page[-1]["data"]["id"])
        if offset + max_results < len(tweets):
            meta["next_token"] = str(offset + max_results)
        return 200, ({"data": data, "meta": meta} if data else {"meta": meta}), {}

    def delete_tweet(self, account: XAccount, tweet_id: str) -> tuple[int, Any, dict[str, str]]:
        tweet = self.tweets.get(tweet_id)
        if tweet is None:
            raise XError(404, {"errors": [{"value": tweet_id, "detail": f"Could not find tweet with id: [{tweet_id}].",
                                           "title": "Not Found Error", "resource_type": "tweet", "parameter": "id",
                                           "resource_id": tweet_id,
                                           "type": "https://api.twitter.com/2/problems/resource-not-found"}],
                               "title": "Not Found Error", "detail": f"Could not find tweet with id: [{tweet_id}].",
                               "type": "https://api.twitter.com/2/problems/resource-not-found"})
        if tweet["author"] != account.user_id:
            raise problem(403, "You are not allowed to delete this Tweet.")
        del self.tweets[tweet_id]
        self.recent.pop((account.user_id, tweet["data"]["text"].strip()), None)
        return 200, {"data": {"deleted": True}}, {}

    # -------------------------------------------------------------- media

    def check_media(self, account: XAccount, media_ids: Any) -> None:
        if not isinstance(media_ids, list) or not 1 <= len(media_ids) <= 4:
            raise invalid_request("$.media.media_ids: must have between 1 and 4 items", {"media.media_ids": []})
        now = self.core.clock.now()
        for mid in media_ids:
            m = self.media.get(str(mid))
            if m is None or m["owner"] != account.user_id or m["expires"] < now:
                raise invalid_request("Your media IDs are invalid.", {"media.media_ids": [str(mid)]})

    def store_media(self, account: XAccount, media: Any, category: Any = None) -> tuple[str, dict[str, Any]]:
        desc = self.describe_media(media)
        media_id = self.new_id()
        self.media[media_id] = {"owner": account.user_id, "expires": self.core.clock.now() + 86400,
                                "info": desc, "data": media.data, "category": category}
        return media_id, desc

    @staticmethod
    def describe_media(media: Any) -> dict[str, Any]:
        if not isinstance(media, Upload) or not media.data:
            raise invalid_request("The `media` field is required.", {"media": []})
        info = image_info(media.data)
        if info is None:
            raise invalid_request("Unsupported media type.", {"media": [media.filename]})
        limit = 15 * 2**20 if info[0] == "image/gif" else IMAGE_MAX
        if len(media.data) > limit:
            raise invalid_request(f"File size exceeds {limit} bytes.", {"media": [media.filename]})
        return {"size": len(media.data), "image": {"image_type": info[0], "w": info[1], "h": info[2]}}

    def upload_v1(self, method: str, account: XAccount, params: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        command = params.get("command")
        if method == "GET" and command == "STATUS" or command == "FINALIZE":
            m = self.media.get(str(params.get("media_id")))
            if m is None or m["owner"] != account.user_id:
                raise v1_error(400, 324, "Invalid media id.")
            if command == "FINALIZE" and "chunks" in m:
                chunks = m.pop("chunks")
                data = b"".join(chunks[i] for i in sorted(chunks))
                if len(data) != m["total_bytes"]:
                    raise v1_error(400, 324, "File size does not match the INIT total_bytes.")
                try:
                    m["info"] = self.describe_media(Upload("chunked", "", data))
                except XError as exc:
                    raise v1_error(400, 324, exc.body["errors"][0]["message"]) from None
                m["data"] = data
            mid = str(params.get("media_id"))
            return 200, {"media_id": int(mid), "media_id_string": mid, "size": m["info"]["size"],
                         "expires_after_secs": 86400, "image": m["info"]["image"]}, {}
        if method != "POST":
            raise v1_error(404, 34, "Sorry, that page does not exist.")
        if command == "INIT":
            try:
                total = int(params.get("total_bytes", ""))
            except ValueError:
                raise v1_error(400, 38, "total_bytes parameter is missing.") from None
            media_id = self.new_id()
            self.media[media_id] = {"owner": account.user_id, "expires": self.core.clock.now() + 86400,
                                    "info": {"size": total, "image": {}}, "chunks": {}, "total_bytes": total}
            return 202, {"media_id": int(media_id), "media_id_string": media_id, "expires_after_secs": 86400}, {}
        if command == "APPEND":
            m = self.media.get(str(params.get("media_id")))
            media = params.get("media")
            if m is None or "chunks" not in m or m["owner"] != account.user_id:
                raise v1_error(400, 324, "Invalid media id.")
            if not isinstance(media, Upload):
                raise v1_error(400, 38, "media parameter is missing.")
            m["chunks"][int(params.get("segment_index", 0))] = media.data
            return 204, None, {}
        media = params.get("media")
        if media is None and params.get("media_data"):
            import base64

            media = Upload("media_data", "", base64.b64decode(params["media_data"]))
        if not isinstance(media, Upload):
            raise v1_error(400, 38, "media parameter is missing.")
        try:
            media_id, desc = self.store_media(account, media, params.get("media_category"))
        except XError as exc:
            raise v1_error(400, 324, exc.body["errors"][0]["message"]) from None
        return 200, {"media_id": int(media_id), "media_id_string": media_id, **desc,
                     "expires_after_secs": 86400}, {}

