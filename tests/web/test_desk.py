"""The desk's locks, in-process (httpx's ASGI transport) against real SQLite:
every route wants a session, every POST a valid CSRF token, the login is
rate-limited, a session ends with logout, with its lifetime, and with the
editor, and the cookies carry the flags they must."""

from __future__ import annotations

import dataclasses
import re

import pytest
import sqlalchemy as sa
from starlette.routing import Mount

from desk_helpers import PASSWORD, Clock, add_editor, another, client, csrf_of, logged_in, login, set_cookies
from distributor.ingest.pipeline import ingest
from distributor.store import editors as editors_module
from distributor.store.editors import Editors
from distributor.store.schema import editor_sessions, metadata
from distributor.web.app import create_app
from distributor.web.desk import auth

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def desk(settings, store, clock):
    """The articles ingested (for routes that name one), an editor, a client."""
    ingest(settings, store)
    add_editor(store)
    return client(settings, store, clock)


def desk_routes(settings, store) -> list[tuple[str, str]]:
    """(method, path) of every route of the desk but the login, path
    parameters filled with 1 (article and delivery 1 exist)."""
    (mount,) = [r for r in create_app(settings, store).routes if isinstance(r, Mount) and r.path == "/desk"]
    found = []
    for route in mount.routes:
        if route.path == "/login":
            continue
        path = "/desk" + re.sub(r"\{[^}]+\}", "1", route.path)
        found += [(m, path) for m in sorted(route.methods or ()) if m != "HEAD"]
    assert ("GET", "/desk/") in found and ("POST", "/desk/logout") in found
    return found


def snapshot(store) -> dict[str, list]:
    """Every row of every table: what "nothing changed" compares."""
    with store.engine.connect() as conn:
        return {t.name: sorted(map(tuple, conn.execute(sa.select(t))), key=repr) for t in metadata.sorted_tables}


def session_count(store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(editor_sessions)).scalar_one()


# ------------------------------------------------------------------ no session


async def test_every_route_without_a_session_redirects_to_the_login(desk, settings, store):
    async with desk as c:
        for method, path in desk_routes(settings, store):
            before = snapshot(store)
            r = await c.request(method, path, data={"csrf": "x"} if method == "POST" else None)
            assert r.status_code == 303, (method, path, r.status_code)
            location = r.headers["location"]
            assert location.startswith("/desk/login"), (method, path, location)
            if method == "GET":
                assert location == "/desk/login?next=" + path.replace("/", "%2F"), location
            assert snapshot(store) == before, (method, path)


async def test_a_forged_or_foreign_cookie_is_no_session_and_is_cleared(desk, settings, store):
    async with desk as c:
        signer = auth.Signer(b"another secret")
        for value in ("garbage", "a.b", signer.sign(auth.SESSION_COOKIE, auth.new_token()),
                      # signed with the right secret, but for the login page: another purpose
                      auth.Signer(_secret(settings)).sign(auth.LOGIN_COOKIE, auth.new_token()),
                      # the right secret and purpose, but no such session
                      auth.Signer(_secret(settings)).sign(auth.SESSION_COOKIE, auth.new_token())):
            c.cookies.set(auth.SESSION_COOKIE, value, domain="novastan.example", path="/desk")
            r = await c.get("/desk/")
            assert r.status_code == 303 and r.headers["location"].startswith("/desk/login")
            assert 'desk_session=""' in set_cookies(r)[auth.SESSION_COOKIE]
            c.cookies.clear()


def _secret(settings) -> bytes:
    from distributor.newsletter.tokens import web_secret

    return web_secret(settings)


async def test_next_is_the_desk_page_asked_for_never_another_site(desk):
    async with desk as c:
        r = await c.get("/desk/sent", params={"lang": "de"})
        assert r.headers["location"] == "/desk/login?next=%2Fdesk%2Fsent%3Flang%3Dde&lang=de"
        done = await login(c, next_page="/desk/sent?lang=de")
        assert done.status_code == 303 and done.headers["location"] == "/desk/sent?lang=de"
    for bad in ("https://evil.example/", "//evil.example/desk/", "/\\evil.example", "/desk/../subscribe/de",
                "https:/desk/", "/desk/login", "/deskx", "/desk/\u00e9", "javascript:alert(1)", " /desk/"):
        async with another(desk) as c:
            r = await login(c, next_page=bad)
            assert r.status_code == 303 and r.headers["location"] == "/desk/", (bad, r.headers["location"])


@pytest.mark.parametrize("value, expected", [
    ("/desk/", "/desk/"), ("/desk", "/desk"), ("/desk/sent?lang=fr", "/desk/sent?lang=fr"),
    ("/desk/articles/12", "/desk/articles/12"),
    ("", None), (None, None), ("//evil.example", None), ("https://evil.example/desk/", None), ("/\\evil", None),
    ("/desk/./x", None), ("/desk/..", None), ("/desk/logout", None), ("/desk/login?next=x", None),
    ("/desk/\nx", None), ("/other", None), ("/deskfoo", None), ("x" * 2001, None),
])
def test_safe_next(value, expected):
    assert auth.safe_next(value, "/desk") == expected


# ------------------------------------------------------------------ login


async def test_login_gives_a_session_and_the_article_list(desk, store):
    async with desk as c:
        form = await c.get("/desk/login")
        assert form.status_code == 200
        assert 'name="username"' in form.text and 'name="password"' in form.text and 'name="csrf"' in form.text
        assert "frame-ancestors 'none'" in form.headers["content-security-policy"]
        assert form.headers["cache-control"] == "no-store"
        r = await c.post("/desk/login", data={"username": " Anna ", "password": PASSWORD,
                                              "csrf": csrf_of(form.text)})
        assert r.status_code == 303 and r.headers["location"] == "/desk/"
        assert auth.SESSION_COOKIE in set_cookies(r)
        assert session_count(store) == 1
        page = await c.get("/desk/")
        assert page.status_code == 200
        assert "Signed in as anna" in page.text and page.text.count('<article class="card"') == len(
            store.list_articles())
        # Logged in, the login page sends one on.
        again = await c.get("/desk/login", params={"next": "/desk/health"})
        assert again.status_code == 303 and again.headers["location"] == "/desk/health"


@pytest.mark.parametrize("name, password", [("anna", "wrong password!"), ("bert", PASSWORD), ("", PASSWORD),
                                            ("anna", ""), ("a" * 5000, PASSWORD)])
async def test_a_wrong_name_or_password_gives_no_session(desk, store, name, password):
    async with desk as c:
        r = await login(c, name, password)
        assert r.status_code == 401
        assert "Wrong name or password." in r.text
        assert auth.SESSION_COOKIE not in set_cookies(r)
        assert session_count(store) == 0
        assert (await c.get("/desk/")).status_code == 303


async def test_a_login_without_or_with_a_wrong_csrf_token_is_refused_even_with_the_right_password(desk, store):
    async with desk as c:
        form = await c.get("/desk/login")
        token = csrf_of(form.text)
        for fields in ({}, {"csrf": ""}, {"csrf": token[:-1] + ("A" if token[-1] != "A" else "B")},
                       {"csrf": auth.Signer(b"x").csrf(auth.LOGIN_COOKIE, "y")}):
            r = await c.post("/desk/login", data={"username": "anna", "password": PASSWORD, **fields})
            assert r.status_code == 403, fields
            assert auth.SESSION_COOKIE not in set_cookies(r)
        assert session_count(store) == 0
    async with another(desk) as other:  # the right token, without the login cookie it belongs to
        r = await other.post("/desk/login", data={"username": "anna", "password": PASSWORD, "csrf": token})
        assert r.status_code == 403 and "refuses cookies" in r.text
    assert session_count(store) == 0


async def test_the_login_is_rate_limited_per_name_without_checking_the_password(desk, settings, store, clock,
                                                                                monkeypatch):
    limit = settings.web.desk_failed_logins_per_name
    verified = []
    real = editors_module._verify
    monkeypatch.setattr(editors_module, "_verify", lambda h, p: verified.append(p) or real(h, p))
    async with desk as c:
        for _ in range(limit):
            assert (await login(c, "anna", "wrong password!")).status_code == 401
        assert len(verified) == limit
        limited = await login(c, "ANNA", PASSWORD)  # the right password, too late
        assert limited.status_code == 429
        assert 0 < int(limited.headers["retry-after"]) <= 15 * 60
        assert "Too many failed logins" in limited.text
        assert len(verified) == limit  # not checked
        assert session_count(store) == 0 and auth.SESSION_COOKIE not in set_cookies(limited)
        # Another name from the same client is not limited by anna's failures.
        assert (await login(c, "bert", "wrong password!")).status_code == 401
        clock.advance(minutes=15, seconds=1)
        assert (await login(c, "anna", PASSWORD)).status_code == 303


async def test_the_login_is_rate_limited_per_client(settings, store, clock):
    settings = dataclasses.replace(settings, web=dataclasses.replace(settings.web, desk_failed_logins_per_client=3))
    add_editor(store)
    async with client(settings, store, clock, client_ip="198.51.100.1") as c:
        for name in ("bert", "carl", "dora"):
            assert (await login(c, name, "wrong password!")).status_code == 401
        assert (await login(c, "anna", PASSWORD)).status_code == 429
    async with client(settings, store, clock, client_ip="198.51.100.2") as c:  # another address: its own count
        assert (await login(c, "anna", PASSWORD)).status_code == 303


def test_the_failure_limiter():
    limiter = auth.FailureLimiter(2, 60)
    assert limiter.blocked("k", 0) is None
    limiter.fail("k", 0)
    limiter.fail("k", 10)
    assert limiter.blocked("k", 10) == 50 and limiter.blocked("other", 10) is None
    assert limiter.blocked("k", 59.5) == 1
    assert limiter.blocked("k", 60) is None  # the first failure has aged out: one left, under the limit
    limiter.fail("k", 60)
    assert limiter.blocked("k", 60) == 10  # blocked until the older of the two recent ones ages out


# ------------------------------------------------------------------ CSRF, logout, session end


async def test_a_post_without_or_with_a_wrong_csrf_token_is_403_and_changes_nothing(desk, settings, store):
    async with desk as c:
        await logged_in(c)
        other_session_token = None
        async with another(desk) as other:
            other_session_token = await logged_in(other)  # a valid token, of another session
        posts = [path for method, path in desk_routes(settings, store) if method == "POST"]
        for path in posts:
            for fields in ({}, {"csrf": ""}, {"csrf": "nonsense"}, {"csrf": other_session_token}):
                before = snapshot(store)
                r = await c.post(path, data=fields)
                assert r.status_code == 403, (path, fields, r.status_code)
                assert snapshot(store) == before, (path, fields)
        assert (await c.get("/desk/")).status_code == 200  # still logged in


async def test_a_post_that_is_not_a_form_is_refused(desk):
    async with desk as c:
        csrf = await logged_in(c)
        r = await c.post("/desk/logout", json={"csrf": csrf})
        assert r.status_code == 415
        r = await c.post("/desk/logout", content=b"csrf=" + b"x" * 70000,
                         headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.status_code == 413
        assert (await c.get("/desk/")).status_code == 200


async def test_logout_ends_the_session_for_good(desk, store):
    async with desk as c:
        csrf = await logged_in(c)
        cookie = c.cookies.get(auth.SESSION_COOKIE)
        r = await c.post("/desk/logout", data={"csrf": csrf})
        assert r.status_code == 303 and r.headers["location"] == "/desk/login"
        assert 'desk_session=""' in set_cookies(r)[auth.SESSION_COOKIE]
        assert session_count(store) == 0
        assert (await c.get("/desk/")).status_code == 303
    async with another(desk) as replay:  # the old cookie, kept by someone: dead too
        replay.cookies.set(auth.SESSION_COOKIE, cookie, domain="novastan.example", path="/desk")
        assert (await replay.get("/desk/")).status_code == 303


async def test_a_removed_editors_session_is_rejected(desk, store):
    async with desk as c:
        await logged_in(c)
        Editors(store.engine).remove("anna")
        r = await c.get("/desk/")
        assert r.status_code == 303 and r.headers["location"].startswith("/desk/login")
        add_editor(store)  # the same name and password again: a new editor; the old session stays dead
        assert (await c.get("/desk/")).status_code == 303


async def test_a_session_ends_with_its_lifetime(desk, settings, clock):
    async with desk as c:
        await logged_in(c)
        clock.advance(hours=settings.web.desk_session_hours, seconds=-1)
        assert (await c.get("/desk/")).status_code == 200
        clock.advance(seconds=2)
        assert (await c.get("/desk/")).status_code == 303


# ------------------------------------------------------------------ cookies


async def test_cookie_flags_secure_only_with_an_https_base_url(settings, store, clock):
    add_editor(store)
    for base, secure in (("https://novastan.example", True), ("http://127.0.0.1:8080", False)):
        s = dataclasses.replace(settings, web=dataclasses.replace(settings.web, base_url=base))
        async with client(s, store, clock) as c:
            form = await c.get("/desk/login")
            r = await c.post("/desk/login", data={"username": "anna", "password": PASSWORD,
                                                  "csrf": csrf_of(form.text)})
            assert r.status_code == 303
            for header in (set_cookies(form)[auth.LOGIN_COOKIE], set_cookies(r)[auth.SESSION_COOKIE]):
                attrs = [a.strip().lower() for a in header.split(";")[1:]]
                assert "httponly" in attrs and "samesite=lax" in attrs and "path=/desk" in attrs, header
                assert ("secure" in attrs) is secure, (base, header)
            session_attrs = [a.strip().lower() for a in set_cookies(r)[auth.SESSION_COOKIE].split(";")[1:]]
            assert f"max-age={int(settings.web.desk_session_hours * 3600)}" in session_attrs
            assert (await c.get("/desk/")).status_code == 200


async def test_the_desk_follows_a_base_url_with_a_path(settings, store, clock):
    s = dataclasses.replace(settings, web=dataclasses.replace(settings.web, base_url="https://novastan.example/bot"))
    async with client(s, store, clock, base_url="https://novastan.example") as c:
        r = await c.get("/desk/health")  # the proxy strips /bot
        assert r.headers["location"] == "/bot/desk/login?next=%2Fbot%2Fdesk%2Fhealth"
        form = await c.get("/desk/login")
        assert 'action="/bot/desk/login"' in form.text
        assert "path=/bot/desk" in set_cookies(form)[auth.LOGIN_COOKIE].lower()


# ------------------------------------------------------------------ language


async def test_the_desk_speaks_english_german_and_french(desk):
    async with desk as c:
        await logged_in(c)
        for headers, params, words in (
            ({"accept-language": "de-CH,de;q=0.9,en;q=0.5"}, {}, ["Artikel", "Abmelden", "Zustand"]),
            ({"accept-language": "fr-FR,fr;q=0.8"}, {}, ["Se déconnecter", "Envoyés"]),
            ({"accept-language": "ru, en;q=0.1"}, {}, ["Log out", "Health"]),
            ({"accept-language": "de"}, {"lang": "fr"}, ["Se déconnecter"]),
        ):
            page = await c.get("/desk/", headers=headers, params=params)
            assert page.status_code == 200
            for word in words:
                assert word in page.text, (headers, params, word)
        page = await c.get("/desk/", params={"lang": "fr"})
        assert '<html lang="fr">' in page.text
        assert 'href="/desk/sent?lang=fr"' in page.text and 'action="/desk/logout?lang=fr"' in page.text
    async with another(desk) as c:
        form = await c.get("/desk/login", headers={"accept-language": "de"})
        assert "Passwort" in form.text and '<html lang="de">' in form.text
        r = await c.post("/desk/login", params={"lang": "fr"},
                         data={"username": "anna", "password": "nope nope nope", "csrf": csrf_of(form.text)})
        assert r.status_code == 401 and "Nom ou mot de passe incorrect." in r.text


def test_accept_language():
    from distributor.web.desk.strings import choose, from_accept_language

    assert from_accept_language("") == "en"
    assert from_accept_language("en-US,en;q=0.9,de;q=0.8") == "en"
    assert from_accept_language("ru,fr;q=0.3,de;q=0.4") == "de"
    assert from_accept_language("de;q=0,fr;q=0.1") == "fr"
    assert from_accept_language("de;q=abc") == "en"
    assert choose("FR", "de") == ("fr", True)
    assert choose("xx", "de") == ("de", False)
