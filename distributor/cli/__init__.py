"""The command line: thin commands that parse arguments and call the layers below.

The group and the helpers every command shares live in cli/common.py; each
command group has its own module, and importing them here registers them.
"""

from __future__ import annotations

from distributor.cli import (  # noqa: F401
    articles,
    check,
    digest,
    editorbot,
    editors,
    outbox,
    run,
    sandbox,
    status,
    subscribers,
    web,
    worker,
)
from distributor.cli.common import cli

__all__ = ["cli", "main"]


def main() -> None:
    cli(prog_name="distributor")
