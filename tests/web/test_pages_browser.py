"""The reader pages in headless Chromium at a phone's width (390 px): the
signup form, the confirm page and the unsubscribe page fit without
horizontal scrolling, and their buttons work."""

from __future__ import annotations

import dataclasses

import pytest

from distributor.newsletter import tokens
from distributor.store.subscribers import Subscribers
from distributor.web.server import start_web
from support import add_subscribers
from browser import fits
from web_helpers import confirm_link, free_port, wait_for_mail



@pytest.fixture
def served(sb_settings, store):
    port = free_port()
    settings = dataclasses.replace(sb_settings, web=dataclasses.replace(
        sb_settings.web, host="127.0.0.1", port=port, base_url=f"http://127.0.0.1:{port}"))
    handle = start_web(settings)
    try:
        yield settings, handle.url
    finally:
        handle.stop()




def test_signup_confirm_and_unsubscribe_pages_on_a_phone(served, store, control, phone, tmp_path):
    settings, url = served
    # A long localised text and a long address must wrap, not widen the page.
    phone.goto(f"{url}/subscribe/fr")
    fits(phone)
    phone.fill("input[name=email]", "une.lectrice.avec.une.adresse.tres.longue@exemple-de-domaine.example")
    phone.click("button[type=submit]")
    phone.wait_for_selector("text=Consultez votre boîte de réception")
    fits(phone)
    email = "une.lectrice.avec.une.adresse.tres.longue@exemple-de-domaine.example"
    link = confirm_link(wait_for_mail(control, email)[0])

    phone.goto(link)
    fits(phone)
    assert Subscribers(store.engine).find("fr", email).status == "pending"
    phone.click("button[type=submit]")
    phone.wait_for_selector("text=Merci")
    fits(phone)
    assert Subscribers(store.engine).find("fr", email).status == "active"

    add_subscribers(store, "de", ["leserin@example.org"])
    sub = Subscribers(store.engine).find("de", "leserin@example.org")
    phone.goto(f"{url}/unsubscribe/{tokens.unsubscribe_token(settings, 'de', sub.id)}")
    fits(phone)
    phone.screenshot(path=str(tmp_path / "unsubscribe.png"), full_page=True)
    assert Subscribers(store.engine).get(sub.id).status == "active"
    phone.click("button[type=submit]")
    phone.wait_for_selector("text=Abgemeldet")
    fits(phone)
    assert Subscribers(store.engine).get(sub.id).status == "unsubscribed"
