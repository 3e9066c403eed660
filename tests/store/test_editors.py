"""The editors repository (store/editors.py), on SQLite and PostgreSQL: names,
password rules, argon2 hashes, authentication, sessions, removal."""

from __future__ import annotations

import datetime as dt

import argon2
import pytest
import sqlalchemy as sa

from distributor.store import Store
from distributor.store import editors as ed
from distributor.store.editors import Editors
from distributor.store.schema import editor_sessions, editors

NOW = dt.datetime(2025, 3, 14, 9, 0, tzinfo=dt.timezone.utc)
PASSWORD = "correct horse battery"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request, settings):
    if request.param == "sqlite":
        with Store.open(settings) as store:
            yield store.engine
    else:
        with Store.open_url(request.getfixturevalue("pg_url")) as store:
            yield store.engine


def test_add_stores_an_argon2id_hash_never_the_password(engine):
    anna = Editors(engine).add("  Anna ", PASSWORD, now=NOW)
    assert (anna.name, anna.created_at, anna.last_login_at) == ("anna", NOW, None)
    with engine.connect() as conn:
        (stored,) = conn.execute(sa.select(editors.c.password_hash)).scalars()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert Editors(engine).find("ANNA") == anna
    assert [e.name for e in Editors(engine).all()] == ["anna"]


def test_a_name_is_one_editor_whatever_its_case(engine):
    Editors(engine).add("anna", PASSWORD, now=NOW)
    with pytest.raises(ed.DuplicateEditor, match="an editor named 'anna' exists already"):
        Editors(engine).add("Anna", "another good password", now=NOW)
    assert len(Editors(engine).all()) == 1


@pytest.mark.parametrize("name", ["", "a", "x" * 33, "anna maria", "-anna", ".anna", "anna@desk", "jörg", "an/na",
                                  "an\nna"])
def test_names_that_are_refused(engine, name):
    with pytest.raises(ed.InvalidName, match="is not valid: 2 to 32 characters"):
        Editors(engine).add(name, PASSWORD, now=NOW)
    assert Editors(engine).all() == []


@pytest.mark.parametrize("name", ["jo", "anna.maria", "anna_m", "anna-m", "editor2", "x" * 32])
def test_names_that_are_allowed(engine, name):
    assert Editors(engine).add(name, PASSWORD, now=NOW).name == name


@pytest.mark.parametrize("password, message", [
    ("", "the password is empty"),
    ("123456789", "too short: at least 10 characters"),
    ("x" * 1025, "too long: at most 1024 characters"),
    ("Anna.Maria", "must not be the editor's name"),
])
def test_passwords_that_are_refused(engine, password, message):
    with pytest.raises(ed.BadPassword, match=message):
        Editors(engine).add("anna.maria", password, now=NOW)
    assert Editors(engine).all() == []


def test_authenticate(engine):
    accounts = Editors(engine)
    accounts.add("anna", PASSWORD, now=NOW)
    assert accounts.authenticate("anna", "wrong password!", now=NOW) is None
    assert accounts.authenticate("bert", PASSWORD, now=NOW) is None
    assert accounts.authenticate("", PASSWORD, now=NOW) is None
    assert accounts.authenticate("anna", "", now=NOW) is None
    later = NOW + dt.timedelta(hours=1)
    anna = accounts.authenticate(" ANNA", PASSWORD, now=later)
    assert anna is not None and anna.name == "anna" and anna.last_login_at == later
    assert accounts.find("anna").last_login_at == later


def test_an_unknown_name_costs_one_argon2_verification_like_a_wrong_password(engine, monkeypatch):
    accounts = Editors(engine)
    accounts.add("anna", PASSWORD, now=NOW)
    calls = []
    real = ed._verify
    monkeypatch.setattr(ed, "_verify", lambda h, p: calls.append(h) or real(h, p))
    accounts.authenticate("nobody", PASSWORD, now=NOW)
    accounts.authenticate("no such name!", PASSWORD, now=NOW)
    accounts.authenticate("anna", "wrong password!", now=NOW)
    assert len(calls) == 3 and all(h.startswith("$argon2id$") for h in calls)
    # The stand-in hash has the parameters real ones are made with.
    real_params = argon2.extract_parameters(calls[2])
    assert argon2.extract_parameters(calls[0]) == real_params


def test_an_outdated_hash_is_upgraded_at_the_next_login(engine):
    accounts = Editors(engine)
    anna = accounts.add("anna", PASSWORD, now=NOW)
    weak = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with engine.begin() as conn:
        conn.execute(editors.update().where(editors.c.id == anna.id).values(password_hash=weak))
    assert accounts.authenticate("anna", PASSWORD, now=NOW) is not None
    with engine.connect() as conn:
        upgraded = conn.execute(sa.select(editors.c.password_hash)).scalar_one()
    assert upgraded != weak and not argon2.PasswordHasher().check_needs_rehash(upgraded)
    assert accounts.authenticate("anna", PASSWORD, now=NOW) is not None


def test_sessions_expire_end_and_die_with_their_editor(engine):
    accounts = Editors(engine)
    anna = accounts.add("anna", PASSWORD, now=NOW)
    bert = accounts.add("bert", PASSWORD + "!", now=NOW)
    hour = dt.timedelta(hours=1)
    accounts.start_session(anna, ed.token_hash("t1"), now=NOW, expires_at=NOW + hour)
    accounts.start_session(anna, ed.token_hash("t2"), now=NOW, expires_at=NOW + 2 * hour)
    accounts.start_session(bert, ed.token_hash("t3"), now=NOW, expires_at=NOW + hour)
    session = accounts.session(ed.token_hash("t1"), now=NOW)
    assert session is not None and session.editor.name == "anna" and session.expires_at == NOW + hour
    assert accounts.session(ed.token_hash("t1"), now=NOW + hour) is None  # expired
    assert accounts.session(ed.token_hash("nope"), now=NOW) is None
    assert accounts.live_sessions(now=NOW) == {anna.id: 2, bert.id: 1}
    accounts.end_session(ed.token_hash("t3"))
    assert accounts.session(ed.token_hash("t3"), now=NOW) is None
    assert accounts.remove("ANNA") == 2
    assert accounts.session(ed.token_hash("t2"), now=NOW) is None
    assert accounts.find("anna") is None
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(editor_sessions)).scalar_one() == 0
    # The same name again is a new editor: the old sessions stay dead.
    accounts.add("anna", PASSWORD, now=NOW)
    assert accounts.session(ed.token_hash("t2"), now=NOW) is None


def test_a_new_session_forgets_the_expired_ones(engine):
    accounts = Editors(engine)
    anna = accounts.add("anna", PASSWORD, now=NOW)
    accounts.start_session(anna, ed.token_hash("old"), now=NOW, expires_at=NOW + dt.timedelta(hours=1))
    later = NOW + dt.timedelta(hours=2)
    accounts.start_session(anna, ed.token_hash("new"), now=later, expires_at=later + dt.timedelta(hours=1))
    with engine.connect() as conn:
        hashes = set(conn.execute(sa.select(editor_sessions.c.token_hash)).scalars())
    assert hashes == {ed.token_hash("new")}


def test_remove_an_unknown_editor(engine):
    with pytest.raises(ed.UnknownEditor, match="no editor named 'bert'"):
        Editors(engine).remove("Bert")
