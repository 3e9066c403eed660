"""The desk's locks: signed cookies, CSRF tokens, login limits, safe `next`.

Cookies (HttpOnly, SameSite=Lax, Path=<desk>, Secure when `[web] base_url`
is https):

    desk_session  <token>.<mac>   a session: 256 random bits; the store keeps
                                  only its SHA-256 (store/editors.py), until
                                  `desk_session_hours` after the login
    desk_login    <token>.<mac>   set by the login page, so its form can carry
                                  a CSRF token before anyone is logged in

Each <mac> is an HMAC-SHA256 with the web secret (`[web] secret_env`, as for
the readers' tokens) over the purpose and the token, so a cookie made for one
purpose is refused for the other, and a new secret ends every session.

A form's CSRF token is an HMAC over the cookie's token: bound to that one
session (or login page), never stored, checked with compare_digest. Every
POST of the desk carries it in the field `csrf`.

Failed logins are counted per client address and per editor name over 15
minutes; past a limit, an attempt is answered 429 and its password is not
checked (so a guesser learns nothing, and pays nothing in argon2 time
either: the limiter is checked first).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
from collections import deque
from urllib.parse import urlsplit

SESSION_COOKIE = "desk_session"
LOGIN_COOKIE = "desk_login"
CSRF_FIELD = "csrf"
LOGIN_WINDOW_SECONDS = 15 * 60
_MAC_CHARS = 43  # the whole 256-bit MAC, base64url without padding


def new_token() -> str:
    return secrets.token_urlsafe(32)


class Signer:
    """Signs and checks the desk's cookie values and CSRF tokens."""

    def __init__(self, secret: bytes):
        self._secret = secret

    def _mac(self, purpose: str, value: str) -> str:
        digest = hmac.digest(self._secret, f"distributor-desk/{purpose}/{value}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:_MAC_CHARS]

    def sign(self, purpose: str, token: str) -> str:
        return f"{token}.{self._mac(purpose, token)}"

    def unsign(self, purpose: str, signed: str | None) -> str | None:
        """The token of a value signed for `purpose`, or None."""
        if not signed or len(signed) > 200:
            return None
        token, dot, mac = signed.rpartition(".")
        if not dot or not token:
            return None
        if not hmac.compare_digest(self._mac(purpose, token).encode(), mac.encode("utf-8", "replace")):
            return None
        return token

    def csrf(self, purpose: str, token: str) -> str:
        """The CSRF token of the forms of the session (or login page) `token`."""
        return self._mac(f"csrf/{purpose}", token)

    def csrf_ok(self, purpose: str, token: str | None, given: str | None) -> bool:
        if not token or not given:
            return False
        return hmac.compare_digest(self.csrf(purpose, token).encode(), given.encode("utf-8", "replace"))


class FailureLimiter:
    """At most `limit` failures per `window` seconds per key: `blocked` says
    for how many whole seconds a key is refused (None: it is not), `fail`
    records a failure. In memory, per process (the desk runs in one)."""

    MAX_KEYS = 10_000

    def __init__(self, limit: int, window: float):
        self.limit, self.window = limit, window
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float] | None:
        q = self._failures.get(key)
        if q is None:
            return None
        while q and q[0] <= now - self.window:
            q.popleft()
        if not q:
            del self._failures[key]
            return None
        return q

    def blocked(self, key: str, now: float) -> int | None:
        q = self._recent(key, now)
        if q is None or len(q) < self.limit:
            return None
        return max(1, math.ceil(q[-self.limit] + self.window - now))

    def fail(self, key: str, now: float) -> None:
        if len(self._failures) >= self.MAX_KEYS:  # forget the keys whose failures are all old
            for k in list(self._failures):
                self._recent(k, now)
        q = self._recent(key, now)
        if q is None:
            q = self._failures[key] = deque()
        q.append(now)
        while len(q) > self.limit:
            q.popleft()


def safe_next(value: str | None, prefix: str) -> str | None:
    """`value` when it is a page of the desk itself (a path under `prefix`,
    with its query), else None: never another site, never a scheme-relative
    "//host" or "/\\host", never the login or logout address."""
    if not value or len(value) > 2000:
        return None
    if any(not (0x21 <= ord(c) <= 0x7e) for c in value) or "\\" in value:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or value.startswith("//"):
        return None
    path = parts.path
    if not (path == prefix or path.startswith(prefix + "/")):
        return None
    if ".." in path.split("/") or "." in path.split("/")[1:]:
        return None
    if path.rstrip("/") in (f"{prefix}/login", f"{prefix}/logout"):
        return None
    return value
