"""The options every command takes: `--config PATH` before or after the
subcommand's name, and `-h` as `--help` (issue 11 item 3)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from distributor.cli import cli

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "examples" / "articles" / "de-kasachstan-china-ukraine.txt"


def leaf_commands(group: click.Group = cli, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, cmd in sorted(group.commands.items()):
        if isinstance(cmd, click.Group):
            found += leaf_commands(cmd, path + (name,))
        else:
            found.append(path + (name,))
    return found


def groups(group: click.Group = cli, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, cmd in sorted(group.commands.items()):
        if isinstance(cmd, click.Group):
            found += groups(cmd, path + (name,))
    return found


# The least each command needs before it reads its config (required arguments,
# and what keeps a daemon from starting were the config read).
ARGS: dict[tuple[str, ...], list[str]] = {
    ("approve",): ["1"],
    ("articles",): [],
    ("cancel",): ["1"],
    ("check",): [],
    ("deliver",): ["--once"],
    ("digest",): ["--preview", "{tmp}/digest.html"],
    ("editor-bot",): [],
    ("editors", "add"): ["anna", "--password-stdin"],
    ("editors", "list"): [],
    ("editors", "remove"): ["anna"],
    ("hold",): ["1"],
    ("ingest",): [],
    ("issues",): [],
    ("outbox",): [],
    ("parse",): [str(SEED)],
    ("preview",): ["1", "--channel", "telegram"],
    ("release",): ["1"],
    ("resume",): ["telegram"],
    ("retry",): ["1"],
    ("run",): ["--once"],
    ("sandbox",): [],
    ("send",): ["1", "--channel", "telegram"],
    ("serve",): [],
    ("status",): [],
    ("subscribers", "delete"): ["leserin@example.org", "--yes"],
    ("subscribers", "export"): [],
    ("subscribers", "import"): ["{tmp}/readers.csv", "--edition", "de"],
    ("subscribers", "list"): [],
    ("worker",): [],
}

# `parse` reads one file and no config: it accepts --config and ignores it.
READS_NO_CONFIG = {("parse",)}


def test_the_table_names_every_command():
    assert set(ARGS) == set(leaf_commands())


@pytest.fixture
def absent(tmp_path, make_config, articles_dir, monkeypatch):
    """A config path that does not exist, while $DISTRIBUTOR_CONFIG names a good one:
    a command that reads the absent file was given it after its name."""
    monkeypatch.setenv("DISTRIBUTOR_CONFIG", str(make_config(articles=articles_dir)))
    (tmp_path / "readers.csv").write_text("email\nleserin@example.org\n", encoding="utf-8")
    return tmp_path / "absent.toml"


@pytest.mark.parametrize("path", leaf_commands(), ids=" ".join)
def test_config_after_the_subcommand(path, absent, tmp_path):
    args = [a.format(tmp=tmp_path) for a in ARGS[path]]
    result = CliRunner().invoke(cli, [*path, *args, "--config", str(absent)])
    assert "No such option" not in result.output
    if path in READS_NO_CONFIG:
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code != 0
    assert f"config file not found: {absent}" in result.output


@pytest.mark.parametrize("path", [("subscribers", "list"), ("subscribers", "export"), ("editors", "list")],
                         ids=" ".join)
def test_config_after_a_subgroup(path, absent):
    result = CliRunner().invoke(cli, [path[0], "--config", str(absent), *path[1:]])
    assert result.exit_code == 2
    assert f"config file not found: {absent}" in result.output


def test_config_after_the_subcommand_wins_over_one_before_it(absent, make_config, articles_dir):
    result = CliRunner().invoke(cli, ["--config", str(make_config(articles=articles_dir)), "status",
                                      "--config", str(absent)])
    assert result.exit_code == 2
    assert f"config file not found: {absent}" in result.output


def test_config_before_and_after_read_the_same_file(make_config, articles_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("DISTRIBUTOR_CONFIG", str(tmp_path / "absent.toml"))
    cfg = str(make_config(articles=articles_dir))
    before = CliRunner().invoke(cli, ["--config", cfg, "check"])
    after = CliRunner().invoke(cli, ["check", "--config", cfg])
    assert "config file not found" not in after.output
    assert "ok   " in after.output
    assert (after.exit_code, after.output) == (before.exit_code, before.output)


@pytest.mark.parametrize("path", groups() + leaf_commands(), ids=lambda p: " ".join(p) or "distributor")
def test_dash_h_is_help(path):
    short = CliRunner().invoke(cli, [*path, "-h"], prog_name="distributor")
    long = CliRunner().invoke(cli, [*path, "--help"], prog_name="distributor")
    assert short.exit_code == 0, short.output
    assert short.output.startswith(f"Usage: {' '.join(('distributor', *path))} ")
    assert short.output == long.output
    assert "--config FILE" in short.output


def test_the_installed_entry_point_takes_config_after_the_subcommand(tmp_path):
    """The real program, as a user runs it: `python -m distributor check --config x.toml`."""
    absent = tmp_path / "x.toml"
    proc = subprocess.run([sys.executable, "-m", "distributor", "check", "--config", str(absent)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert f"FAIL config: config file not found: {absent}" in proc.stdout
