"""`distributor editors add|list|remove`: accounts for the desk, from the
command line, against a real SQLite database."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from distributor.cli import cli
from distributor.config import load_settings
from distributor.store import Store
from distributor.store.editors import Editors

PASSWORD = "correct horse battery"


@pytest.fixture
def cfg(make_config, articles_dir):
    return str(make_config(articles=articles_dir))


def run(cfg, *args, input=None):
    return CliRunner().invoke(cli, ["--config", cfg, "editors", *args], input=input)


_open: list[Store] = []


@pytest.fixture(autouse=True)
def _close_stores():
    yield
    while _open:
        _open.pop().close()


def accounts(cfg) -> Editors:
    """The repository on the command's database (closed after the test)."""
    _open.append(Store.open(load_settings(cfg)))
    return Editors(_open[-1].engine)


def test_add_with_password_stdin_list_and_remove(cfg):
    added = run(cfg, "add", "Anna", "--password-stdin", input=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    assert added.output == "added editor anna: they may log in at https://novastan.example/desk/login\n"
    assert PASSWORD not in added.output
    assert accounts(cfg).authenticate("anna", PASSWORD, now=accounts(cfg).find("anna").created_at) is not None
    assert run(cfg, "add", "bert", "--password-stdin", input="another good one\r\n").exit_code == 0
    assert accounts(cfg).find("bert") is not None

    listed = run(cfg, "list", "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [r["name"] for r in rows] == ["anna", "bert"]
    assert set(rows[0]) == {"name", "created_at", "last_login_at", "sessions"}
    assert rows[0]["last_login_at"] is not None and rows[0]["sessions"] == 0  # authenticated above
    text = run(cfg, "list")
    assert text.exit_code == 0 and text.output.splitlines()[0].startswith("anna ")
    assert "last login never" in text.output.splitlines()[1] and "$argon2" not in text.output + listed.output

    removed = run(cfg, "remove", "ANNA")
    assert removed.exit_code == 0 and removed.output == "removed editor anna\n"
    assert [r["name"] for r in json.loads(run(cfg, "list", "--json").output)] == ["bert"]


def test_add_asks_twice_with_hidden_input(cfg):
    result = run(cfg, "add", "anna", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Password for anna: " in result.output and "Repeat for confirmation: " in result.output
    assert PASSWORD not in result.output  # hidden: not echoed
    assert accounts(cfg).find("anna") is not None


def test_two_different_answers_are_asked_again(cfg):
    result = run(cfg, "add", "anna", input=f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "The two entered values do not match" in result.output
    assert accounts(cfg).authenticate("anna", PASSWORD, now=accounts(cfg).find("anna").created_at)


@pytest.mark.parametrize("args, stdin, message", [
    (["add", "anna", "--password-stdin"], "short\n", "error: the password is too short: at least 10 characters"),
    (["add", "anna", "--password-stdin"], "", "error: the password is empty"),
    (["add", "anna", "--password-stdin"], "\n", "error: the password is empty"),
    (["add", "anna"], "\n\n", "error: the password is empty"),
    (["add", "anna maria", "--password-stdin"], PASSWORD + "\n", "error: editor name 'anna maria' is not valid"),
    (["add", "anna", "--password-stdin"], "Anna      \n", "error: the password must not be the editor's name"),
    (["remove", "bert"], None, "error: no editor named 'bert'"),
    (["remove", "--", "-x"], None, "error: editor name '-x' is not valid"),
])
def test_errors_are_one_clear_line_and_store_nothing(cfg, args, stdin, message):
    result = run(cfg, *args, input=stdin)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert accounts(cfg).all() == []


def test_a_duplicate_is_refused_before_a_password_is_read(cfg):
    assert run(cfg, "add", "anna", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    result = run(cfg, "add", "ANNA")  # no input at all: it does not get as far as asking
    assert result.exit_code == 2
    assert result.output == "error: an editor named 'anna' exists already\n"
    assert len(accounts(cfg).all()) == 1


def test_remove_ends_the_editors_sessions(cfg):
    import datetime as dt

    from distributor.store.editors import token_hash

    assert run(cfg, "add", "anna", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    acc = accounts(cfg)
    anna = acc.find("anna")
    now = dt.datetime.now(dt.timezone.utc)
    acc.start_session(anna, token_hash("t"), now=now, expires_at=now + dt.timedelta(hours=1))
    assert json.loads(run(cfg, "list", "--json").output)[0]["sessions"] == 1
    result = run(cfg, "remove", "anna")
    assert result.output == "removed editor anna; 1 session(s) ended\n"
    assert acc.session(token_hash("t"), now=now) is None
