"""Every numeric setting has its range, enforced by the strict loader, and
`distributor check` reports every problem of the file at once."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest
from click.testing import CliRunner

from distributor import config as c
from distributor.cli import cli
from distributor.config import load_settings
from distributor.errors import ConfigurationError

REPO = Path(__file__).resolve().parent.parent

# The settings the hardening found accepted although absurd, and friends.
OUT_OF_RANGE = [
    ("\n[delivery]\nmax_attempts = -1\n", r"\[delivery\] max_attempts = -1 is out of range: must be 1 to 100"),
    ("\n[delivery]\nmax_attempts = 0\n", r"\[delivery\] max_attempts = 0 is out of range: must be 1 to 100"),
    ("\n[delivery]\nbackoff_base_seconds = -5\n",
     r"\[delivery\] backoff_base_seconds = -5 is out of range: must be more than 0"),
    ("\n[delivery]\npause_after_failures = 0\n", r"\[delivery\] pause_after_failures = 0 is out of range: must be at least 1"),
    ("\n[delivery]\nbackoff_base_seconds = 60\nbackoff_max_seconds = 10\n",
     r"\[delivery\] backoff_max_seconds = 10 is out of range: must be at least backoff_base_seconds \(60\)"),
    ("\n[sandbox]\nport = 99999\n", r"\[sandbox\] port = 99999 is out of range: must be 1 to 65535"),
    ("\n[sandbox]\nport = 0\n", r"\[sandbox\] port = 0 is out of range: must be 1 to 65535"),
    ('\n[[sources]]\nname = "feed"\nkind = "feed"\nurl = "f.xml"\npoll_seconds = 0\n',
     r"\[sources\[1\]\] poll_seconds = 0 is out of range: must be more than 0"),
    ('\n[[sources]]\nname = "feed"\nkind = "feed"\nurl = "f.xml"\ntimeout_seconds = -1\n',
     r"\[sources\[1\]\] timeout_seconds = -1 is out of range: must be more than 0 and at most 3600"),
    ("\n[editions.ru.channels.twitter]\ntimeout_seconds = -1\n",
     r"\[editions.ru.channels.twitter\] timeout_seconds = -1 is out of range: must be more than 0"),
    ('\n[editions.ru.channels.telegram]\nchat_id = "@x"\ntimeout_seconds = 0\n',
     r"\[editions.ru.channels.telegram\] timeout_seconds = 0 is out of range"),
    ('\n[editions.ru.channels.newsletter]\nfrom_email = "a@b.example"\nbatch_size = 1001\n',
     r"\[editions.ru.channels.newsletter\] batch_size = 1001 is out of range: must be 1 to 1000"),
    ("\n[editions.ru.channels.twitter]\nspacing_minutes = -3\n",
     r"\[editions.ru.channels.twitter\] spacing_minutes = -3 is out of range: must be at least 0"),
    ("\n[delivery]\nonce_max_wait_seconds = nan\n", r"delivery.once_max_wait_seconds must be a number, got nan"),
]


@pytest.mark.parametrize("extra, message", OUT_OF_RANGE)
def test_a_setting_out_of_its_range_names_file_section_key_and_range(make_config, extra, message):
    path = make_config(extra)
    with pytest.raises(ConfigurationError, match=message) as err:
        load_settings(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("extra", [
    "\n[delivery]\nmax_attempts = 1\nbackoff_base_seconds = 0.5\nbackoff_max_seconds = 0.5\nonce_max_wait_seconds = 0\n",
    "\n[sandbox]\nport = 65535\n",
    "\n[editions.ru.channels.twitter]\nmax_hashtags = 0\nspacing_minutes = 0\nmin_interval_seconds = 0\n",
])
def test_the_edges_of_each_range_are_allowed(make_config, extra):
    load_settings(make_config(extra))


def numeric_fields():
    for cls in (c.SandboxConfig, c.DeliveryConfig, c.SourceConfig, c.TelegramChannelConfig,
                c.TwitterChannelConfig, c.NewsletterChannelConfig, c.UtmConfig, c.RenderConfig, c.DatabaseConfig,
                c.EditionConfig):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if hints[f.name] in (int, float):
                yield cls, f


def test_every_numeric_setting_has_a_range_and_its_default_is_in_it():
    fields = list(numeric_fields())
    assert len(fields) >= 20
    for cls, f in fields:
        assert f.name in c.RANGES.get(cls, {}), f"{cls.__name__}.{f.name} has no range"
        assert f.default in c.RANGES[cls][f.name], f"{cls.__name__}.{f.name}'s default is out of its range"


def test_a_misspelt_time_zone_gets_a_did_you_mean(make_config):
    with pytest.raises(ConfigurationError, match=r"timezone 'Europe/Berln' is not a known time zone "
                                                 r"\(did you mean 'Europe/Berlin'\?\)"):
        load_settings(make_config('\n[editions.ru]\ntimezone = "Europe/Berln"\n'))
    with pytest.raises(ConfigurationError, match=r"\(did you mean 'Asia/Bishkek'\?\)"):
        load_settings(make_config('\n[editions.ru]\ntimezone = "asia/bishkek"\n'))


HOSTILE = """
[delivery]
max_attempts = -1
backoff_base_seconds = -5
mystery = 1

[editions.ru]
timezone = "Asia/Tashkent "
[editions.ru.channels.twitter]
timeout_seconds = -1
[editions.ru.channels.telegram]
timeout_seconds = 5
"""


def test_every_problem_of_the_file_is_reported_at_once(make_config):
    path = make_config(HOSTILE.replace("[delivery]", "[sandbox]\nport = 99999\n\n[delivery]"))
    with pytest.raises(ConfigurationError) as err:
        load_settings(path)
    problems = getattr(err.value, "problems", [str(err.value)])
    expected = ["port = 99999", "max_attempts = -1", "backoff_base_seconds = -5", "unknown key 'mystery'",
                "timezone 'Asia/Tashkent '", "twitter] timeout_seconds = -1",
                "[editions.ru.channels.telegram]: missing required key 'chat_id'"]
    for e in expected:
        assert sum(e in p for p in problems) == 1, (e, problems)
    assert len(problems) == len(expected)
    assert all(p.startswith(f"{path}: ") for p in problems)


def test_check_lists_every_config_problem_and_exits_1(make_config):
    path = make_config('\n[sandbox]\nport = 99999\n\n[delivery]\nmax_attempts = -1\npoll_seconds = 0\n')
    result = CliRunner().invoke(cli, ["--config", str(path), "check"])
    assert result.exit_code == 1
    fails = [line for line in result.output.splitlines() if line.startswith("FAIL config: ")]
    assert len(fails) == 3, result.output
    for part in ("port = 99999 is out of range", "max_attempts = -1 is out of range", "unknown key 'poll_seconds'"):
        assert sum(part in f for f in fails) == 1, (part, fails)
    assert "3 problem(s) found" in result.output and "Traceback" not in result.output


def test_another_command_prints_every_config_problem_and_exits_2(make_config):
    path = make_config('\n[sandbox]\nport = 99999\n\n[delivery]\nmax_attempts = -1\n')
    result = CliRunner().invoke(cli, ["--config", str(path), "articles"])
    assert result.exit_code == 2
    assert "port = 99999" in result.output and "max_attempts = -1" in result.output


def test_the_shipped_configs_are_within_range():
    load_settings(REPO / "config" / "distributor.toml")
    load_settings(REPO / "config" / "production.example.toml")


def test_each_config_problem_is_its_own_error_line(make_config):
    path = make_config('\n[sandbox]\nport = 99999\n\n[delivery]\nmax_attempts = -1\n')
    result = CliRunner().invoke(cli, ["--config", str(path), "articles"])
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and all(line.startswith(f"error: {path}: ") for line in lines), lines
