"""Helpers shared by the sandbox tests (a unique module name: tests/ has no packages)."""

import asyncio

from support import png  # noqa: F401 - re-exported for the sandbox tests


def run(coro):
    return asyncio.run(coro)


