"""The command line: thin commands that parse arguments and call the layers below.

Every command takes --config (default config/distributor.toml, or
DISTRIBUTOR_CONFIG). Errors a user can fix (config, input, a source) print one
clear line on stderr and exit 2; nothing prints a traceback for them.
"""

from __future__ import annotations

import functools
import json
import sys
from typing import Any, Callable

import click

from distributor import redact
from distributor.config import Settings, load_settings
from distributor.errors import ConfigurationError, DistributorError


def _fail(message: str, code: int = 2) -> None:
    for line in message.splitlines() or [""]:  # several config problems: one line each
        click.echo(f"error: {line}", err=True)
    sys.exit(code)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the errors a user can act on into one clear line and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ConfigurationError, DistributorError) as exc:
            _fail(str(exc))

    return wrapper


# What "needs an editor" means for a command's exit status (README, "Exit codes"):
# a delivery that failed or was held, or that waits for a paused channel.
NEEDS_EDITOR = ("failed", "held", "paused")


def drain_needs_editor(report) -> bool:
    """True when a drain (its deliveries and the interrupted sends it settled)
    left a delivery failed, held or waiting for a paused channel, whether the
    channel paused in this run or before it."""
    return report.blocked > 0 or any(o.status in NEEDS_EDITOR for o in report.outcomes + report.recovered)


def blocked_note(report) -> str:
    """What a drain's summary line adds when deliveries wait for a paused channel."""
    return f" ({report.blocked} for a paused channel: `distributor resume CHANNEL`)" if report.blocked else ""


def awaiting_note(report) -> str:
    """What a drain's summary line adds when deliveries await an editor's approval."""
    n = report.awaiting_approval
    return f"; {n} awaiting approval (`distributor approve --article ID`)" if n else ""


def sources_need_editor(reports) -> bool:
    """True when a source, or an item of one, could not be read."""
    return any(r.error or r.item_errors for r in reports)


def settings_of(ctx: click.Context) -> Settings:
    """The loaded settings (read once, on first use by a command)."""
    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        obj["settings"] = load_settings(obj.get("config_path"))
        # From here on, no configured secret is printed, logged or stored.
        redact.install(obj["settings"])
    return obj["settings"]


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


CONFIG_HELP = "Config file (default: config/distributor.toml, or $DISTRIBUTOR_CONFIG)."
CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _remember_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """`--config` given after a subcommand: it wins over one given before it
    (or $DISTRIBUTOR_CONFIG), which the group's callback stored already."""
    if value is not None:
        ctx.ensure_object(dict)["config_path"] = value


def _config_after_subcommand() -> click.Option:
    return click.Option(["--config"], type=click.Path(dir_okay=False), default=None, expose_value=False,
                        is_eager=True, callback=_remember_config, help=CONFIG_HELP)


class Command(click.Command):
    """A subcommand: it takes `--config PATH` too, so the option may come before or
    after the subcommand's name (`distributor check --config x.toml`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.append(_config_after_subcommand())


class Group(click.Group):
    """A command group whose commands and subgroups take `--config` as well. Each
    inherits `-h`/`--help` from the root's context settings."""

    command_class = Command
    group_class = type  # a subgroup is a Group as well

    def __init__(self, *args: Any, root: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not root:  # the root group defines --config itself (with $DISTRIBUTOR_CONFIG)
            self.params.append(_config_after_subcommand())


@click.group(cls=Group, root=True, context_settings=CONTEXT_SETTINGS)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="DISTRIBUTOR_CONFIG",
    default=None,
    help=CONFIG_HELP,
)
@click.version_option(package_name="distributor")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """distributor: route each article by its own footer to the newsletter,
    Telegram and X, and never lose or duplicate a send."""
    ctx.ensure_object(dict)["config_path"] = config_path
