"""Exit codes: `deliver --once`, `run --once`, `ingest` and `digest --send`
exit 1 when the run left something for an editor, by one definition, and
say so in their --help."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from distributor.cli import cli


def cli_config(make_config, articles_dir, sandbox):
    port = int(sandbox.url.rsplit(":", 1)[1])
    return make_config(f"\n[sandbox]\nport = {port}\n", articles=articles_dir)


def invoke(cfg, *args):
    return CliRunner().invoke(cli, ["--config", str(cfg), *args])


def fault(control, **f):
    r = control.post("/_sandbox/faults", json=f)
    assert r.status_code < 300, r.text


@pytest.fixture
def cfg(make_config, articles_dir, sandbox):
    return cli_config(make_config, articles_dir, sandbox)


# Each way a run leaves something for an editor, as sandbox faults.
NEEDS_EDITOR = {
    "a delivery failed": dict(service="x", status=400, method="tweets", times=1),
    "a delivery was held": dict(service="telegram", delay_ms=3_000, method="sendMessage", times=1),
    "a channel paused": dict(service="telegram", status=401, method="getMe", times=1),
}


@pytest.mark.parametrize("command", [["deliver", "--once"], ["run", "--once"]])
@pytest.mark.parametrize("case", list(NEEDS_EDITOR))
def test_deliver_and_run_exit_1_when_something_needs_an_editor(cfg, control, command, case):
    if command[0] == "deliver":
        assert invoke(cfg, "ingest").exit_code == 0
    fault(control, **NEEDS_EDITOR[case])
    result = invoke(cfg, *command)
    assert result.exit_code == 1, result.output


@pytest.mark.parametrize("command", [["deliver", "--once"], ["run", "--once"]])
def test_deliver_and_run_exit_0_when_all_went_out(cfg, control, command):
    if command[0] == "deliver":
        assert invoke(cfg, "ingest").exit_code == 0
    result = invoke(cfg, *command)
    assert result.exit_code == 0, result.output
    # A second run has nothing to do, and nothing needs anyone.
    assert invoke(cfg, *command).exit_code == 0


def test_a_failed_delivery_of_an_earlier_run_does_not_fail_the_next_one(cfg, control):
    assert invoke(cfg, "ingest").exit_code == 0
    fault(control, **NEEDS_EDITOR["a delivery failed"])
    assert invoke(cfg, "deliver", "--once").exit_code == 1
    # The next run sends nothing new: `status` is the command for what is outstanding.
    assert invoke(cfg, "deliver", "--once").exit_code == 0
    assert invoke(cfg, "status").exit_code == 1


@pytest.mark.parametrize("command", [["deliver", "--once"], ["run", "--once"]])
def test_a_channel_paused_before_the_run_still_needs_an_editor(cfg, control, command):
    # An earlier run paused de.telegram (bad token); its deliveries wait for an editor.
    assert invoke(cfg, "ingest").exit_code == 0
    fault(control, **NEEDS_EDITOR["a channel paused"])
    assert invoke(cfg, "deliver", "--once").exit_code == 1
    result = invoke(cfg, *command)
    assert result.exit_code == 1, result.output
    assert "for a paused channel" in result.output and "distributor resume" in result.output
    assert invoke(cfg, "resume", "de.telegram").exit_code == 0
    assert invoke(cfg, *command).exit_code == 0


def test_digest_send_exits_1_when_the_channel_paused(cfg, control):
    from distributor.config import load_settings
    from distributor.store import Store
    from support import add_subscribers

    assert invoke(cfg, "ingest").exit_code == 0
    with Store.open(load_settings(cfg)) as store:
        add_subscribers(store, "de", ["leserin@example.org"])
    fault(control, service="sendgrid", status=401, method="mail/send", times=1)
    result = invoke(cfg, "digest", "--send", "--edition", "de")
    assert result.exit_code == 1 and "paused" in result.output, result.output


def test_ingest_exits_1_when_a_source_cannot_be_read(make_config, tmp_path):
    cfg = make_config(articles=tmp_path / "missing")
    result = invoke(cfg, "ingest")
    assert result.exit_code == 1, result.output


@pytest.mark.parametrize("command", ["ingest", "deliver", "run", "digest"])
def test_help_documents_the_exit_status(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "Exit status" in text and "1 when" in text


def test_the_readme_states_what_exit_codes_mean():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Exit codes", 1)[1].split("\n## ", 1)[0]
    for part in ("`0`", "`1`", "`2`", "deliver --once", "run --once", "ingest", "status"):
        assert part in section, part
