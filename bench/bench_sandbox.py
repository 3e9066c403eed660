"""Benchmark: is the sandbox fast enough not to be a benchmark's bottleneck?

Starts `distributor sandbox` in a subprocess (rate limits off, 127.0.0.1, a free
port) and drives it over keep-alive loopback connections with a minimal
asyncio HTTP/1.1 client (so the client is not the bottleneck), measuring:

  baseline   GET /_sandbox/ping: a trivial Starlette endpoint in the same server (the ceiling)
  telegram   POST sendMessage, form body as PTB sends it, HTML parsed and checked
  x          POST /2/tweets, JSON, OAuth1 signature verified, weighted length, duplicates
  sendgrid   POST /v3/mail/send with 1000 personalizations; and validate_mail() alone, in-process

Every timed request must be accepted (the script fails otherwise). Figures are
requests/second and their ratio to the baseline run the same way.

    .venv/bin/python bench/bench_sandbox.py [--requests 5000] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import requests
from requests_oauthlib import OAuth1

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from distributor.sandbox.credentials import sandbox_secret  # noqa: E402
from distributor.sandbox.sendgrid_mail import validate_mail  # noqa: E402

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def bench_config() -> Path:
    """The embedded default config with the sandbox's rate limits off."""
    text = (ROOT / "config" / "distributor.toml").read_text()
    limits = ("telegram_per_chat_per_minute = 0\ntelegram_per_second = 0\nx_tweets_per_window = 0\n"
              "sendgrid_requests_per_second = 0\n")
    text = re.sub(r"(?m)^\[sandbox\]\n", "[sandbox]\n" + limits, text, count=1)
    folder = Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
    (folder / "distributor.toml").write_text(text)
    return folder / "distributor.toml"


def start_server(port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "distributor", "--config", str(bench_config()), "sandbox", "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(200):
        try:
            socket.create_connection((HOST, port), timeout=0.1).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"sandbox did not start: {proc.stderr.read().decode()}")
            time.sleep(0.05)
    raise SystemExit("sandbox did not start in 10 s")


# ------------------------------------------------------------------ client


def raw_request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    if m and int(m.group(1)):
        await reader.readexactly(int(m.group(1)))
    return status


async def drive(port: int, payloads: list[bytes], connections: int, ok: tuple[int, ...]) -> float:
    """Send every payload once over `connections` keep-alive connections; return requests/s."""
    queue = iter(payloads)
    failures: list[int] = []

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        for payload in queue:
            writer.write(payload)
            status = await read_response(reader)
            if status not in ok:
                failures.append(status)
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - start
    if failures:
        raise SystemExit(f"{len(failures)} requests refused, e.g. HTTP {failures[0]}")
    return len(payloads) / elapsed


# ------------------------------------------------------------------ payloads


def telegram_payloads(n: int) -> list[bytes]:
    token = sandbox_secret("de", "telegram", "token")
    text = ("<b>Kirgistan:</b> Die Regierung plant neue Regeln für Medien &amp; NGOs. "
            "<a href=\"https://novastan.org/de/kirgistan/artikel/\">Weiterlesen</a> "
            "<i>Ein Artikel unserer Redaktion in Bischkek über die Folgen für Journalistinnen.</i>") * 2
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return [raw_request("POST", f"/telegram/bot{token}/sendMessage", urlencode(
        {"chat_id": "@novastan_de", "text": f"{text} #{i}", "parse_mode": "HTML",
         "link_preview_options": '{"is_disabled": true}'}).encode(), headers) for i in range(n)]


def x_payloads(n: int) -> list[bytes]:
    k = {f: sandbox_secret("de", "twitter", f)
         for f in ("consumer_key", "consumer_secret", "access_token", "access_token_secret")}
    auth = OAuth1(k["consumer_key"], k["consumer_secret"], k["access_token"], k["access_token_secret"])
    out = []
    for i in range(n):  # signed as tweepy signs: over the original api.twitter.com URL
        body = json.dumps({"text": f"Neu bei Novastan: Kirgistans Medien unter Druck https://novastan.org/de/{i}"})
        prepared = requests.Request("POST", "https://api.twitter.com/2/tweets", data=body, auth=auth,
                                    headers={"Content-Type": "application/json"}).prepare()
        auth_header = prepared.headers["Authorization"]
        auth_header = auth_header.decode() if isinstance(auth_header, bytes) else auth_header
        out.append(raw_request("POST", "/x/2/tweets", body.encode(),
                               {"Content-Type": "application/json", "Authorization": auth_header}))
    return out


def mail_body(recipients: int = 1000) -> dict:
    return {
        "from": {"email": "newsletter@novastan.example", "name": "Novastan"}, "subject": "Wochenrückblick",
        "personalizations": [{"to": [{"email": f"leser{i}@example.org", "name": f"Leser {i}"}],
                              "custom_args": {"subscriber": str(i)}} for i in range(recipients)],
        "content": [{"type": "text/plain", "value": "Hallo " * 400},
                    {"type": "text/html", "value": "<p>Hallo</p>" * 400}],
        "headers": {"List-Unsubscribe": "<https://novastan.example/u/x>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        "categories": ["newsletter", "de"], "custom_args": {"issue": "42"},
    }


def sendgrid_payloads(n: int) -> list[bytes]:
    key = sandbox_secret("de", "newsletter", "api_key")
    body = json.dumps(mail_body()).encode()
    return [raw_request("POST", "/sendgrid/v3/mail/send", body,
                        {"Content-Type": "application/json", "Authorization": f"Bearer {key}"})] * n


def time_validation(runs: int = 50) -> float:
    body, now = mail_body(), time.time()
    assert validate_mail(body, now) == []
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        validate_mail(body, now)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--connections", type=int, default=16)
    args = ap.parse_args()
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    n, c = args.requests, args.connections
    print(f"preparing {n} requests per service …", flush=True)
    baseline_payloads = [raw_request("GET", "/_sandbox/ping")] * n
    tg, x = telegram_payloads(n), x_payloads(n)
    sg = sendgrid_payloads(max(20, n // 100))
    port = free_port()
    proc = start_server(port)
    try:
        async def run_all() -> dict[str, float]:
            await drive(port, baseline_payloads[: n // 5], c, (200,))  # warm-up
            return {
                "baseline (GET /_sandbox/ping)": await drive(port, baseline_payloads, c, (200,)),
                "telegram sendMessage (HTML)": await drive(port, tg, c, (200,)),
                "x create_tweet (OAuth1)": await drive(port, x, c, (201,)),
                "sendgrid mail/send (1000 personalizations)": await drive(port, sg, min(c, 4), (202,)),
            }
        results = asyncio.run(run_all())
    finally:
        proc.terminate()
        proc.wait(10)
    validation = time_validation()
    base = results["baseline (GET /_sandbox/ping)"]
    print(f"\n{'endpoint':46} {'req/s':>9} {'vs baseline':>12}")
    for name, rate in results.items():
        print(f"{name:46} {rate:9.0f} {rate / base:11.2f}x")
    print(f"\nvalidate_mail, 1000 personalizations (in-process, median of 50): {validation * 1000:.2f} ms")
    print(f"({n} requests per service, {c} keep-alive connections, server and client on this machine: "
          f"{os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
