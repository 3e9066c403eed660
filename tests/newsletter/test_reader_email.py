"""An email that works where it is read: an editor's subject and intro from
`digest --send`, in the payload the sandbox receives and in the stored issue;
the postal address in both parts; the "view in browser" link to the public
archive page, which serves the issue with nothing personal in it and 404s
for an unknown edition, an unknown issue or one not sent yet."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from distributor.checks import config_warnings
from distributor.cli import cli
from distributor.config import load_settings
from distributor.store.issues import Issues
from distributor.store import Store
from distributor.web.app import create_app
from support import add_subscribers, sent, with_channel

ADDRESS = "Novastan e.V.\\nMusterstraße 1\\n10115 Berlin"
READERS = ["leserin@example.org", "leser.zwei@example.org"]
SUBJECT = "Wahlen in Kasachstan: unser Schwerpunkt"
INTRO = "Liebe Leserinnen, <b>diese Woche</b> & mehr:\n\nzwei Absätze <script>alert(1)</script>."


def config(make_config, articles_dir, sandbox):
    port = int(sandbox.url.rsplit(":", 1)[1])
    path = make_config(f"\n[sandbox]\nport = {port}\n", articles=articles_dir)
    text = path.read_text(encoding="utf-8").replace(
        'unsubscribe_mailto = "unsubscribe@novastan.example"\n',
        f'unsubscribe_mailto = "unsubscribe@novastan.example"\npostal_address = "{ADDRESS}"\n', 1)
    path.write_text(text, encoding="utf-8")
    return path


def invoke(cfg, *args):
    return CliRunner().invoke(cli, ["--config", str(cfg), *args])


def mails(control) -> list[dict]:
    return [r["body"] for r in sent(control, "sendgrid", "/mail/send")]


@pytest.fixture
def cfg(make_config, articles_dir, sandbox):
    cfg = config(make_config, articles_dir, sandbox)
    assert invoke(cfg, "ingest").exit_code == 0
    with Store.open(load_settings(cfg)) as store:
        add_subscribers(store, "de", READERS)
    return cfg


@pytest.fixture
def sent_issue(cfg, control):
    result = invoke(cfg, "digest", "--send", "--edition", "de", "--subject", SUBJECT, "--intro", INTRO)
    assert result.exit_code == 0, result.output
    (mail,) = mails(control)
    settings = load_settings(cfg)
    with Store.open(settings) as store:
        (issue,) = Issues(store.engine).list("de")
    return settings, issue, mail


def test_send_with_subject_and_intro_puts_them_in_the_payload_and_the_issue(sent_issue):
    settings, issue, mail = sent_issue
    assert mail["subject"] == SUBJECT
    assert issue.subject == SUBJECT and issue.editor_subject == SUBJECT and issue.intro == INTRO.strip()
    text, html = mail["content"][0]["value"], mail["content"][1]["value"]
    # The intro is text: escaped in HTML, one paragraph per blank-line block, above the articles.
    assert "<b>diese Woche</b>" not in html and "<script>" not in html
    assert "&lt;b&gt;diese Woche&lt;/b&gt; &amp; mehr:" in html
    assert "zwei Absätze &lt;script&gt;alert(1)&lt;/script&gt;." in html
    assert "Hier sind unsere Artikel der Woche." not in html
    assert html.index("diese Woche") < html.index("Weiterlesen")
    assert "Liebe Leserinnen, <b>diese Woche</b> & mehr:" in text
    # The postal address in both parts.
    assert "Novastan e.V.<br>Musterstraße 1<br>10115 Berlin" in html
    assert "Novastan e.V.\nMusterstraße 1\n10115 Berlin" in text
    # "View in browser" names the issue, from [web] base_url.
    link = f"https://novastan.example/archive/de/{issue.id}"
    assert f'href="{link}"' in html and f"Im Browser ansehen: {link}" in text
    assert "{issue}" not in html + text


def test_a_plural_count_of_the_articles(sent_issue):
    settings, issue, mail = sent_issue
    with Store.open(settings) as store:
        count = len(Issues(store.engine).article_ids(issue.id))
    assert count > 1
    assert f"{count} neue Artikel" in mail["content"][0]["value"]


def test_the_archive_page_serves_the_issue_without_anything_personal(sent_issue):
    settings, issue, mail = sent_issue
    with Store.open(settings) as store, TestClient(create_app(settings, store),
                                                   base_url="https://novastan.example") as client:
        page = client.get(f"/archive/de/{issue.id}")
        assert page.status_code == 200, page.text
        body = page.text
        assert "Kasachstan" in body or "Novastan" in body
        assert "&lt;b&gt;diese Woche&lt;/b&gt;" in body
        for reader in READERS + ["leserin", "@example.org"]:
            assert reader not in body
        assert "/unsubscribe/" not in body and "{token}" not in body and "Abmelden" not in body
        # No token of any recipient (the tokens the payload carried per personalization).
        tokens = {v for p in mail["personalizations"] for v in (p.get("substitutions") or {}).values()}
        tokens |= set(re.findall(r"/unsubscribe/([A-Za-z0-9._-]+)", json.dumps(mail["personalizations"])))
        assert tokens and not any(t in body for t in tokens)
        assert "Im Browser ansehen" not in body  # no link to itself
        assert 'href="https://novastan.example/subscribe/de"' in body
        assert "Musterstraße 1" in body
        assert "no-store" not in page.headers["cache-control"]

        assert client.get(f"/archive/fr/{issue.id}").status_code == 404  # another edition's issue
        assert client.get("/archive/xx/1").status_code == 404
        assert client.get(f"/archive/de/{issue.id + 1}").status_code == 404
        assert client.get("/archive/de/abc").status_code == 404
        # An issue made but not sent to anyone yet is not public.
        now = dt.datetime.now(dt.timezone.utc)
        unsent = Issues(store.engine).create(edition="de", slot=now, subject="s", html="<p>draft</p>", text="t",
                                             headers={}, batch_size=1000, items=[], now=now)
        missing = client.get(f"/archive/de/{unsent.id}")
        assert missing.status_code == 404 and "draft" not in missing.text


def test_a_subject_with_a_line_break_is_refused_and_nothing_is_sent(cfg, control):
    for bad in ("Hallo\r\nBcc: someone@example.org", "Hallo\nWelt"):
        result = invoke(cfg, "digest", "--send", "--edition", "de", "--subject", bad)
        assert result.exit_code == 2, result.output
        assert "the subject contains a line break (CR or LF)" in result.output
    assert mails(control) == []
    with Store.open(load_settings(cfg)) as store:
        assert Issues(store.engine).list() == []


def test_preview_and_test_copy_take_the_subject_and_intro(cfg, control, tmp_path):
    out = tmp_path / "next.html"
    result = invoke(cfg, "digest", "--preview", str(out), "--edition", "de", "--subject", SUBJECT,
                    "--intro", "Ein <i>kurzes</i> Wort.")
    assert result.exit_code == 0, result.output
    assert repr(SUBJECT) in result.output
    assert "Ein &lt;i&gt;kurzes&lt;/i&gt; Wort." in out.read_text()
    assert "/archive/" not in out.read_text()  # no issue yet, no archive page
    copy = invoke(cfg, "digest", "--send", "--to", "editor@example.org", "--edition", "de", "--subject", SUBJECT)
    assert copy.exit_code == 0, copy.output
    (mail,) = mails(control)
    assert mail["subject"] == f"[Test] {SUBJECT}"


def test_subject_and_intro_do_not_go_with_release_or_a_stored_issue(cfg):
    result = invoke(cfg, "digest", "--release", "1", "--subject", "x")
    assert result.exit_code == 2 and "--subject and --intro make a new issue" in result.output


def test_check_warns_when_a_live_newsletter_has_no_postal_address(settings):
    live = with_channel(settings, "de.newsletter", mode="live")
    assert any("de.channels.newsletter" in w and "postal_address" in w for w in config_warnings(live))
    with_address = with_channel(live, "de.newsletter", postal_address="Novastan e.V., Berlin")
    assert not any("de.channels.newsletter" in w for w in config_warnings(with_address))
    assert config_warnings(settings) == []  # sandbox mode: nothing to warn about


def test_the_loader_refuses_a_postal_address_with_control_characters(make_config, articles_dir):
    from distributor.config import ConfigErrors

    path = make_config(articles=articles_dir)
    text = path.read_text(encoding="utf-8").replace(
        'unsubscribe_mailto = "unsubscribe@novastan.example"\n',
        'unsubscribe_mailto = "unsubscribe@novastan.example"\npostal_address = "Berlin\\u0007"\n', 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigErrors) as exc:
        load_settings(path)
    assert any("postal_address" in p for p in exc.value.problems)


def test_a_mailto_unsubscribe_is_offered_only_where_a_mailbox_is_named(sent_issue):
    """distributor reads no mail (README, "Unsubscribing by mail"): the mailto:
    URI is in List-Unsubscribe only where unsubscribe_mailto names a mailbox,
    and the production example names none, so its digests offer the https
    one-click link only. Where one is named, the token in a mail's subject
    is what whoever reads that mailbox acts on: its page unsubscribes."""
    import urllib.parse
    from pathlib import Path

    from distributor.render.email import unsubscribe_headers
    from distributor.render.variants import unsubscribe_url
    from distributor.store.subscribers import Subscribers

    example = load_settings(Path(__file__).resolve().parents[2] / "config" / "production.example.toml")
    newsletters = [e.channels.newsletter for e in example.editions.values() if e.channels.newsletter is not None]
    assert newsletters
    for nl in newsletters:  # the headers every digest of the edition carries (render_digest's)
        assert unsubscribe_headers(unsubscribe_url(example), nl) == ({
            "List-Unsubscribe": f"<{example.web.public_url}/unsubscribe/{{token}}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}, [])
    settings, issue, mail = sent_issue  # this config names unsubscribe@novastan.example
    header = mail["personalizations"][0]["headers"]["List-Unsubscribe"]
    https, mailto = re.fullmatch(r"<([^>]+)>, <mailto:unsubscribe@novastan\.example\?subject=([^>]+)>",
                                 header).groups()
    subject = urllib.parse.unquote(mailto)
    assert subject.startswith("unsubscribe ") and https.endswith("/unsubscribe/" + subject.split(" ", 1)[1])
    token = subject.split(" ", 1)[1]
    reader = mail["personalizations"][0]["to"][0]["email"]
    with Store.open(settings) as store, TestClient(create_app(settings, store),
                                                   base_url="https://novastan.example") as client:
        assert client.get(f"/unsubscribe/{token}").status_code == 200
        assert Subscribers(store.engine).find("de", reader).status == "active"  # a GET changes nothing
        done = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200
        assert Subscribers(store.engine).find("de", reader).status == "unsubscribed"
