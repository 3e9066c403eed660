"""Config: strict reading with clear messages, and `distributor check`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from distributor.cli import cli
from distributor.config import channel_secret, load_settings
from distributor.errors import ConfigurationError
from distributor.sandbox.credentials import sandbox_secret

REPO = Path(__file__).resolve().parent.parent


def test_embedded_default_config_loads():
    s = load_settings(REPO / "config" / "distributor.toml")
    assert set(s.editions) == {"de", "fr", "en"}
    assert s.database_url == "sqlite:///" + str(REPO / "var" / "distributor.db")
    assert s.resolve(s.sources[0].path) == REPO / "examples" / "articles"
    assert s.editions["fr"].channels.twitter is None


@pytest.mark.parametrize("extra, message", [
    ('\n[editions.de.channels.telegram.extra]\n', r"\[editions.de.channels.telegram\]: unknown key 'extra'"),
    ('\n[sandbox]\nprot = 1\n', r"\[sandbox\]: unknown key 'prot' \(did you mean 'port'\?\)"),
    ('\n[sandbox]\nport = "8765"\n', r"sandbox.port must be int, got str '8765'"),
    ('\n[editions.ru]\ntimezone = "Mars/Olympus"\n', r"\[editions.ru\] timezone 'Mars/Olympus' is not a known time zone"),
    ('\n[editions.deutsch]\n', r"\[editions.deutsch\]: an edition is named by its ISO 639-1 language code"),
    ('\n[[sources]]\nname = "f"\nkind = "feed"\n', r"source 'f' \(feed\) needs url"),
    ('\n[[sources]]\nname = "f"\nkind = "ftp"\n', r"sources\[1\].kind = 'ftp' is not one of 'folder', 'feed'"),
    ('\n[[sources]]\nname = "articles"\nkind = "folder"\npath = "x"\n', r"two sources are named 'articles'"),
])
def test_config_errors_name_file_and_section(make_config, extra, message):
    path = make_config(extra)
    with pytest.raises(ConfigurationError, match=message) as err:
        load_settings(path)
    assert str(path) in str(err.value)


def test_missing_required_key(make_config):
    path = make_config()
    path.write_text(path.read_text().replace('chat_id = "@novastan_de"\n', ""))
    with pytest.raises(ConfigurationError, match=r"\[editions.de.channels.telegram\]: missing required key 'chat_id'"):
        load_settings(path)


def test_not_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[database\nurl=")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_settings(bad)
    with pytest.raises(ConfigurationError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")


def test_database_url_from_environment(settings, monkeypatch):
    monkeypatch.setenv("DISTRIBUTOR_DATABASE_URL", "postgresql+psycopg://u:secret@127.0.0.1/db")
    assert settings.database_url == "postgresql+psycopg://u:secret@127.0.0.1/db"


def test_secrets_come_from_the_environment_or_the_sandbox(make_config, monkeypatch):
    s = load_settings(make_config('\n[editions.fr.channels.twitter]\nmode = "live"\n'
                                  'consumer_key_env = "FR_X_KEY"\n'))
    assert channel_secret(s, "de", "telegram", "token", "") == sandbox_secret("de", "telegram", "token")
    monkeypatch.setenv("FR_X_KEY", "from-env")
    assert channel_secret(s, "fr", "twitter", "consumer_key", "FR_X_KEY") == "from-env"
    with pytest.raises(ConfigurationError, match="fr.twitter: the secret 'consumer_secret' is not set") as err:
        channel_secret(s, "fr", "twitter", "consumer_secret", "")
    assert "from-env" not in str(err.value)


def test_sandbox_secrets_are_stable_and_distinct():
    a = sandbox_secret("de", "telegram", "token")
    assert a == sandbox_secret("de", "telegram", "token")
    assert a != sandbox_secret("fr", "telegram", "token")
    bot_id, rest = a.split(":")
    assert bot_id.isdigit() and len(rest) >= 30


def check(path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(path), "check"])
    return result.exit_code, result.output


def test_check_passes_on_the_embedded_default():
    code, out = check(REPO / "config" / "distributor.toml")
    assert code == 0, out
    assert "all checks passed" in out


def test_check_reports_missing_secrets_and_unreadable_sources(make_config, tmp_path, monkeypatch):
    monkeypatch.delenv("LIVE_TG_TOKEN", raising=False)
    path = make_config('\n[editions.en.channels.telegram]\nmode = "live"\nchat_id = "@x"\n'
                       'token_env = "LIVE_TG_TOKEN"\n'.replace("[editions.en.channels.telegram]",
                                                                "[editions.ru.channels.telegram]"))
    code, out = check(path)  # the articles folder does not exist in tmp_path
    assert code == 1
    assert f"FAIL source 'articles': folder {tmp_path / 'articles'} does not exist" in out
    assert "FAIL [editions.ru.channels.telegram]: the secret variable LIVE_TG_TOKEN (token_env) is not set" in out
    monkeypatch.setenv("LIVE_TG_TOKEN", "123:very-secret-value")
    (tmp_path / "articles").mkdir()
    code, out = check(path)
    assert code == 0, out
    assert "very-secret-value" not in out
    assert "ru.telegram: live mode, secrets present" in out


def test_check_reports_a_config_error_without_traceback(make_config):
    code, out = check(make_config("\n[sandbox]\nprot = 1\n"))
    assert code == 1
    assert "FAIL config:" in out and "did you mean 'port'" in out and "Traceback" not in out


def test_the_production_example_loads_and_documents_every_setting():
    import dataclasses

    from distributor import config as c

    path = REPO / "config" / "production.example.toml"
    settings = load_settings(path)
    assert settings.editions["de"].channels.telegram.mode == "live"
    text = path.read_text(encoding="utf-8")
    sections = [c.DatabaseConfig, c.SandboxConfig, c.DeliveryConfig, c.RenderConfig, c.UtmConfig, c.WebConfig,
                c.MetricsConfig,
                c.SourceConfig,
                c.EditionConfig, c.TelegramChannelConfig, c.TwitterChannelConfig, c.NewsletterChannelConfig,
                c.DeskTelegramConfig]
    missing = [f"{cls.__name__}.{f.name}" for cls in sections for f in dataclasses.fields(cls)
               if f.name not in ("channels", "utm", "desk") and f"\n{f.name} = " not in text]
    assert missing == []
