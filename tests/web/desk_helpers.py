"""Helpers for the desk's tests (imported, not fixtures): an in-process
client over httpx's ASGI transport, and logging in through the form."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import re
from collections.abc import Iterator

import httpx

from distributor.store.editors import Editors
from distributor.web.app import create_app

PASSWORD = "correct horse battery"


class Clock:
    def __init__(self, now: dt.datetime | None = None):
        self.now = now or dt.datetime.now(dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def add_editor(store, name: str = "anna", password: str = PASSWORD):
    return Editors(store.engine).add(name, password, now=dt.datetime.now(dt.timezone.utc))


def client(settings, store, clock, *, base_url: str | None = None, client_ip: str = "203.0.113.7"
           ) -> httpx.AsyncClient:
    return client_on(create_app(settings, store, clock=clock), base_url or settings.web.public_url, client_ip)


def client_on(app, base_url: str, client_ip: str = "203.0.113.7") -> httpx.AsyncClient:
    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(client_ip, 51000)), base_url=base_url,
                          follow_redirects=False)
    c.desk_app = app  # type: ignore[attr-defined]  # for another client on the same app
    return c


def another(c: httpx.AsyncClient) -> httpx.AsyncClient:
    """A second browser on the same app: its own cookies."""
    return client_on(c.desk_app, str(c.base_url))  # type: ignore[attr-defined]


def csrf_of(html: str) -> str:
    found = re.findall(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found[0]


async def login(c: httpx.AsyncClient, name: str = "anna", password: str = PASSWORD, *, next_page: str | None = None
                ) -> httpx.Response:
    """GET the login form, then POST it (with its CSRF token)."""
    params = {"next": next_page} if next_page else {}
    form = await c.get("/desk/login", params=params)
    assert form.status_code == 200, form.text
    return await c.post("/desk/login", params=params,
                        data={"username": name, "password": password, "csrf": csrf_of(form.text)})


async def logged_in(c: httpx.AsyncClient, name: str = "anna", password: str = PASSWORD) -> str:
    """Log in; the CSRF token of the session's forms."""
    r = await login(c, name, password)
    assert r.status_code == 303, r.text
    page = await c.get("/desk/")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """name -> the whole Set-Cookie header, for each cookie the response sets."""
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


@contextlib.contextmanager
def desk_served(settings, store) -> Iterator[str]:
    """The web app on a free port of 127.0.0.1 over `store`, for a browser: its URL."""
    from distributor.web.server import start_web
    from web_helpers import free_port

    port = free_port()
    settings = dataclasses.replace(settings, web=dataclasses.replace(
        settings.web, host="127.0.0.1", port=port, base_url=f"http://127.0.0.1:{port}"))
    handle = start_web(settings, store=store)
    try:
        yield handle.url
    finally:
        handle.stop()
