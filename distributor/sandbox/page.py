"""GET /_sandbox/: what followers and subscribers would see."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distributor.sandbox.app import Sandbox


def render_page(sandbox: "Sandbox") -> str:
    return "<!doctype html><title>distributor sandbox</title><p>sandbox</p>" + html.escape("")
