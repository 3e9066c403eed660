"""The sandbox: strict local emulators of the Telegram Bot API, X API v2 and
SendGrid v3, reached by the real client libraries over HTTP on 127.0.0.1.

    distributor sandbox [--host 127.0.0.1] [--port N]      # serve in the foreground
    server.start_sandbox(settings, port=0) -> handle (.url, .stop(), .clock, .reset())

Accounts come from the sandbox-mode channels of the config (`accounts.py`),
with the well-known credentials of `credentials.py`; routes and control
endpoints are listed in `app.py`. This package's __init__ imports nothing, so
that a channel in sandbox mode can import `credentials` without the emulators.
"""
