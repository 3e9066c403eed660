"""The sandbox's well-known credentials: one per sandbox-mode channel and field.

Deterministic, so the sandbox (which derives its accounts from the config) and
the channels (which send them in sandbox mode) agree without any secret in the
repo. These only ever open the local emulators. Light on purpose: a channel in
sandbox mode imports this, not the emulators.
"""

from __future__ import annotations

import hashlib

# The name the editors' bot ([desk.telegram]) has among the well-known
# credentials (no edition is called so: edition codes are two letters).
DESK_EDITION = "desk"


def sandbox_secret(edition: str, kind: str, field_name: str) -> str:
    """The well-known credential the sandbox accepts for a sandbox channel."""
    digest = hashlib.sha256(f"distributor-sandbox/{edition}/{kind}/{field_name}".encode()).hexdigest()
    if kind == "telegram" and field_name == "token":
        bot_id = 100000 + int(digest[:6], 16) % 900000
        return f"{bot_id}:SANDBOX{digest[:28]}"
    if kind == "newsletter" and field_name == "api_key":
        return f"SG.sandbox-{edition}.{digest[:40]}"
    return f"sandbox-{edition}-{field_name}-{digest[:24]}"
