"""The repo's contract with its users: README, .ci/run, Dockerfile and --help agree with the code."""

import re
from pathlib import Path

from click.testing import CliRunner

from distributor.cli import cli

REPO = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    head = text.split("---", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", head)


def test_readme_opens_with_exactly_two_setup_commands():
    cmds = readme_commands()
    assert len(cmds) == 2
    assert all(c.startswith("python3 -m venv .venv && ") for c in cmds)


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert readme_commands()[1] in ci.splitlines()


def test_the_readme_test_command_provides_what_the_suite_needs():
    """A new user's machine has neither Debian's Chromium nor a started PostgreSQL: the
    README's test command sees to both through scripts/test-services, before pytest runs."""
    cmd = readme_commands()[1]
    assert "scripts/test-services" in cmd
    assert cmd.index("scripts/test-services") < cmd.index("pytest")
    script = REPO / "scripts" / "test-services"
    assert script.stat().st_mode & 0o111, "scripts/test-services must be executable"
    text = script.read_text(encoding="utf-8")
    assert "apt-get install" in text and "chromium" in text  # Debian's package, no browser download
    assert "playwright install" not in text
    assert "pg_ctlcluster" in text and "pg_isready -h 127.0.0.1 -p 5432" in text


def test_commands_named_in_readme_and_dockerfile_exist():
    names = set(cli.commands)
    for cmd in readme_commands():
        for used in re.findall(r"\.venv/bin/distributor (\w+)", cmd):
            assert used in names, used
    docker_cmd = re.search(r'CMD \["distributor", "(\w+)"', (REPO / "Dockerfile").read_text()).group(1)
    assert docker_cmd in names


def test_every_command_has_help():
    runner = CliRunner()
    for name in cli.commands:
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert cli.commands[name].help, f"{name} has no help text"
