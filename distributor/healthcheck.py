"""`python -m distributor.healthcheck [URL]`: the container's health check.

Exits 0 when GET URL answers 200, 1 otherwise (printing why on one line).
Without URL it asks this container's own process: /readyz on the
`[metrics]` address when its port is set (`distributor run`, `worker`), else
on the `[web]` address (`distributor serve`, or `run` serving the web app).
Standard library only past the config, so the check is quick and needs no
curl in the image (the Dockerfile's HEALTHCHECK and compose.yaml use it).
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request


def default_url() -> str:
    from distributor.config import load_settings

    settings = load_settings()
    host, port = (settings.metrics.host, settings.metrics.port) if settings.metrics.port else (
        settings.web.host, settings.web.port)
    if host in ("0.0.0.0", "::", ""):  # listening everywhere: ask it on loopback
        host = "127.0.0.1"
    return f"http://{host}:{port}/readyz"


def check(url: str, timeout: float = 5.0) -> tuple[bool, str]:
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # our own process: never a proxy
        with opener.open(url, timeout=timeout) as response:
            return response.status == 200, f"{url}: {response.status} {response.read(200).decode(errors='replace').strip()}"
    except urllib.error.HTTPError as exc:
        return False, f"{url}: {exc.code} {exc.read(300).decode(errors='replace').strip()}"
    except (urllib.error.URLError, OSError) as exc:
        return False, f"{url}: {getattr(exc, 'reason', exc)}"


def main(argv: list[str]) -> int:
    try:
        url = argv[0] if argv else default_url()
    except Exception as exc:  # noqa: BLE001 - a broken config is an unhealthy container, said in one line
        print(f"unhealthy: {exc}")
        return 1
    ok, detail = check(url)
    print(("healthy: " if ok else "unhealthy: ") + detail)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
