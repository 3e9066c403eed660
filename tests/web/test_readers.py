"""The reader routes in-process (Starlette's TestClient) against the sandbox's
SendGrid: signup with double opt-in, no enumeration, limits and the honeypot,
confirm and one-click unsubscribe that a GET never triggers, forged tokens,
and bad input that gets a clear 4xx and stores nothing."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from starlette.testclient import TestClient

from distributor.newsletter import tokens
from distributor.store.subscribers import Subscribers
from distributor.web.app import create_app
from support import add_subscribers
from web_helpers import confirm_link, mails

BASE = "https://novastan.example"


class Clock:
    def __init__(self):
        self.now = dt.datetime.now(dt.timezone.utc)

    def __call__(self):
        return self.now


@pytest.fixture
def web_clock():
    return Clock()


@pytest.fixture
def client(sb_settings, store, web_clock):
    with TestClient(create_app(sb_settings, store, clock=web_clock), base_url=BASE,
                    follow_redirects=False) as c:
        yield c


def subs(store):
    return Subscribers(store.engine)


def path(url: str) -> str:
    assert url.startswith(BASE), url
    return url[len(BASE):]


# ------------------------------------------------------------------ signup


def test_the_form_is_localised_embeddable_and_has_a_honeypot(client):
    for lang, words in {"de": "E-Mail-Adresse", "fr": "Adresse e-mail", "en": "Email address"}.items():
        r = client.get(f"/subscribe/{lang}")
        assert r.status_code == 200 and words in r.text
        assert f'<html lang="{lang}">' in r.text and 'name="website"' in r.text
        assert "frame-ancestors *" in r.headers["content-security-policy"]
    assert "jederzeit mit einem Klick abbestellen" in client.get("/subscribe/de").text
    missing = client.get("/subscribe/xx")
    assert missing.status_code == 404 and "unknown edition xx" in missing.text


def test_signup_confirm_by_post_only(client, store, control):
    r = client.post("/subscribe", data={"email": "  Leserin@Example.ORG ", "edition": "de"})
    assert r.status_code == 200 and "Postfach" in r.text
    sub = subs(store).find("de", "leserin@example.org")
    assert sub.status == "pending" and sub.consent_source.startswith("web:/subscribe/de")
    assert "wöchentlichen Newsletter" in sub.consent_text
    (mail,) = mails(control, "leserin@example.org")
    assert mail["subject"].startswith("Bitte bestätigt") and mail["custom_args"]["kind"] == "confirm"
    link = confirm_link(mail)
    assert link.startswith(f"{BASE}/confirm/c.de.{sub.id}.")
    page = client.get(path(link))  # a mail scanner's prefetch
    assert page.status_code == 200 and "<form method=\"post\"" in page.text and "Abonnement bestätigen" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert subs(store).get(sub.id).status == "pending"
    done = client.post(path(link))
    assert done.status_code == 200 and "bestätigt" in done.text
    active = subs(store).get(sub.id)
    assert active.status == "active" and active.consent_at is not None and active.active_at is not None
    again = client.post(path(link))  # a second click is harmless
    assert again.status_code == 200 and subs(store).get(sub.id).status == "active"


def test_the_answer_is_the_same_whatever_the_address_and_active_gets_no_mail(client, store, control):
    add_subscribers(store, "en", ["active@example.org"])
    answers = []
    for email in ("new@example.org", "new@example.org", "active@example.org"):  # new, pending, active
        answers.append(client.post("/subscribe", data={"email": email, "edition": "en"}))
    assert {(a.status_code, a.text) for a in answers} == {(200, answers[0].text)}
    as_json = [client.post("/subscribe", json={"email": e, "edition": "en"}) for e in ("j@example.org",
                                                                                      "active@example.org")]
    assert {(a.status_code, a.text) for a in as_json} == {(202, as_json[0].text)}
    assert as_json[0].json()["status"] == "ok"
    assert len(mails(control, "new@example.org")) == 2 and mails(control, "active@example.org") == []
    assert subs(store).find("en", "active@example.org").status == "active"


def test_a_filled_honeypot_stores_and_sends_nothing(client, store, control):
    bot = client.post("/subscribe", data={"email": "bot@example.org", "edition": "de", "website": "http://spam"})
    human = client.post("/subscribe", data={"email": "human@example.org", "edition": "de", "website": ""})
    assert bot.status_code == human.status_code == 200 and bot.text == human.text
    assert subs(store).find("de", "bot@example.org") is None and mails(control, "bot@example.org") == []
    assert len(mails(control, "human@example.org")) == 1


def test_signups_are_limited_per_address_silently_and_per_client_with_429(client, store, control):
    for _ in range(5):
        r = client.post("/subscribe", data={"email": "me@example.org", "edition": "de"})
        assert r.status_code == 200
    assert len(mails(control, "me@example.org")) == 3  # signups_per_address_per_hour
    for i in range(5):
        assert client.post("/subscribe", data={"email": f"o{i}@example.org", "edition": "de"}).status_code == 200
    limited = client.post("/subscribe", data={"email": "late@example.org", "edition": "de"})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert "too many signups" in limited.text and subs(store).find("de", "late@example.org") is None


def test_a_resubscription_after_unsubscribing_needs_a_new_confirmation(client, store, control):
    add_subscribers(store, "de", ["back@example.org"])
    sub = subs(store).find("de", "back@example.org")
    assert client.post(path(f"{BASE}/unsubscribe/{tokens.unsubscribe_token(client.app.state.web.settings, 'de', sub.id)}"),
                       data={"List-Unsubscribe": "One-Click"}).status_code == 200
    client.post("/subscribe", data={"email": "back@example.org", "edition": "de"})
    assert subs(store).get(sub.id).status == "pending" and len(mails(control, "back@example.org")) == 1


def test_a_confirmation_link_expires(client, store, control, web_clock):
    client.post("/subscribe", data={"email": "slow@example.org", "edition": "fr"})
    link = confirm_link(mails(control, "slow@example.org")[0])
    web_clock.now += dt.timedelta(hours=49)
    for r in (client.get(path(link)), client.post(path(link))):
        assert r.status_code == 404 and "expired" in r.text
    assert subs(store).find("fr", "slow@example.org").status == "pending"


BAD_INPUT = [
    ({"data": {"email": "not-an-address", "edition": "de"}}, 400, "not a valid email address"),
    ({"data": {"email": "a@example.org\r\nBcc: x@example.org", "edition": "de"}}, 400, "line break"),
    ({"data": {"email": "a@example.org", "edition": "de\r\n"}}, 400, "line break"),
    ({"content": b"email=a%40example.org&edition=de&pad=" + b"x" * 2**20,
      "headers": {"content-type": "application/x-www-form-urlencoded"}}, 413, "too large"),
    ({"content": b"email=a@example.org", "headers": {"content-type": "text/plain"}}, 415,
     "unsupported content type"),
    ({"data": {"email": "a@example.org", "edition": "xx"}}, 404, "unknown edition"),
    ({"data": {"email": "a@example.org"}}, 400, "edition is required"),
    ({"json": ["a@example.org"]}, 400, "must be an object"),
    ({"json": {"email": ["a@example.org"], "edition": "de"}}, 400, "must be a string"),
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "not valid JSON"),
]


@pytest.mark.parametrize("request_kw, status, message", BAD_INPUT)
def test_bad_input_gets_a_clear_4xx_and_stores_nothing(client, store, control, request_kw, status, message):
    r = client.post("/subscribe", **request_kw)
    assert r.status_code == status and message in r.text, r.text
    assert subs(store).list() == [] and mails(control) == []


def test_a_json_client_gets_json_errors(client):
    r = client.post("/subscribe", json={"email": "nope", "edition": "de"})
    assert r.status_code == 400 and r.json()["error"].startswith("email: not a valid email address")


# ------------------------------------------------------------------ unsubscribe


@pytest.fixture
def reader(store, sb_settings):
    add_subscribers(store, "de", ["leserin@example.org"])
    sub = subs(store).find("de", "leserin@example.org")
    return sub, tokens.unsubscribe_token(sb_settings, "de", sub.id)


def test_get_shows_a_button_and_changes_nothing(client, store, reader):
    sub, token = reader
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and "Abmelden" in page.text and "leserin@example.org" in page.text
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text
    assert subs(store).get(sub.id).status == "active"


@pytest.mark.parametrize("how", ["form", "multipart"])
def test_one_click_post_unsubscribes_at_once_without_redirect_or_cookie(client, store, reader, how):
    sub, token = reader
    kw = ({"data": {"List-Unsubscribe": "One-Click"}} if how == "form"
          else {"files": {"List-Unsubscribe": (None, "One-Click")}})
    client.cookies.clear()
    r = client.post(f"/unsubscribe/{token}", **kw)
    assert r.status_code == 200 and "location" not in r.headers and "set-cookie" not in r.headers
    assert "Abgemeldet" in r.text
    after = subs(store).get(sub.id)
    assert after.status == "unsubscribed" and after.unsubscribed_at is not None
    assert client.post(f"/unsubscribe/{token}", **kw).status_code == 200  # again: still fine


def test_an_unsubscribe_post_needs_the_one_click_body(client, store, reader):
    sub, token = reader
    assert client.post(f"/unsubscribe/{token}", data={"x": "y"}).status_code == 400
    assert client.post(f"/unsubscribe/{token}", json={"List-Unsubscribe": "One-Click"}).status_code == 415
    assert subs(store).get(sub.id).status == "active"


def test_forged_altered_and_rotated_tokens_change_nothing(client, store, reader, sb_settings, monkeypatch):
    sub, token = reader
    add_subscribers(store, "de", ["other@example.org"])
    other = subs(store).find("de", "other@example.org")
    body, mac = token.rsplit(".", 1)
    forged = [
        f"u.de.{other.id}.{mac}",                        # another subscriber, same MAC
        f"{body}.{'A' * 32}",                            # a made-up MAC
        f"u.fr.{sub.id}.{mac}",                          # another edition
        token[:-1] + ("A" if token[-1] != "A" else "B"),  # one character changed
        tokens.confirm_token(sb_settings, "de", sub.id, dt.datetime.now(dt.timezone.utc)),  # wrong purpose
        "u.de.1", "../../etc/passwd", "x" * 300,
    ]
    monkeypatch.setenv("DISTRIBUTOR_WEB_SECRET", "a-new-secret")
    forged.append(tokens.unsubscribe_token(sb_settings, "de", sub.id))  # made with a secret since rotated
    monkeypatch.delenv("DISTRIBUTOR_WEB_SECRET")
    for bad in forged:
        for r in (client.get(f"/unsubscribe/{bad}"),
                  client.post(f"/unsubscribe/{bad}", data={"List-Unsubscribe": "One-Click"})):
            assert r.status_code in (400, 404), (bad, r.status_code)
    assert {s.status for s in subs(store).list()} == {"active"}


def test_a_live_newsletter_needs_the_web_secret(sb_settings, store, monkeypatch):
    from distributor.errors import ConfigurationError
    from support import with_channel

    monkeypatch.delenv("DISTRIBUTOR_WEB_SECRET", raising=False)
    live = with_channel(sb_settings, "de.newsletter", mode="live")
    with pytest.raises(ConfigurationError, match="export DISTRIBUTOR_WEB_SECRET"):
        create_app(live, store)
    monkeypatch.setenv("DISTRIBUTOR_WEB_SECRET", "s3cret")
    assert create_app(dataclasses.replace(live), store) is not None


def test_every_page_string_exists_in_de_fr_en_and_ru(sb_settings, store):
    from distributor.web import strings
    from distributor.web.app import WebApp

    assert set(strings.STRINGS) == {"de", "fr", "en", "ru"}
    keys = set(strings.STRINGS["en"])
    assert all(set(table) == keys for table in strings.STRINGS.values())
    page = WebApp(sb_settings, store).page("ru", "subscribe", framed=True, title="Подписка", name="Novastan",
                                           edition="ru", action="/subscribe", consent="согласие")
    body = page.body.decode()
    assert '<html lang="ru">' in body and "Адрес электронной почты" in body and "Подписаться" in body
