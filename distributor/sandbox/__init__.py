"""The sandbox: strict local emulators of the Telegram Bot API, X API v2 and
SendGrid v3, reached by the real client libraries over HTTP on 127.0.0.1.

    distributor sandbox [--host 127.0.0.1] [--port N]      # serve in the foreground
    start_sandbox(settings, port=0) -> handle (.url, .stop(), .clock, .reset())

Accounts come from the sandbox-mode channels of the config (`accounts.py`);
routes and control endpoints are listed in `app.py`.
"""

from distributor.sandbox.app import Sandbox, create_app
from distributor.sandbox.server import SandboxHandle, run_sandbox, start_sandbox

__all__ = ["Sandbox", "SandboxHandle", "create_app", "run_sandbox", "start_sandbox"]
