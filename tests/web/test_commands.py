"""`distributor serve`, the web app inside the `run` daemon (and not inside
`run --once`), `check` on a live newsletter, and `digest --send --to` with the
edition's test_recipients."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
from click.testing import CliRunner

from distributor.cli import cli
from distributor.sandbox.sendgrid_events import public_key_b64
from web_helpers import free_port, mails

ENV = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}


def config(make_config, articles_dir, sandbox, web_port: int, extra: str = ""):
    sandbox_port = int(sandbox.url.rsplit(":", 1)[1])
    path = make_config(f"\n[sandbox]\nport = {sandbox_port}\n" + extra, articles=articles_dir)
    path.write_text(path.read_text().replace("port = 0\n", f"port = {web_port}\n", 1))
    return str(path)


def healthy(url: str, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", trust_env=False, timeout=1).text == "ok":
                return True
        except httpx.HTTPError:
            time.sleep(0.1)
    return False


def stop(proc: subprocess.Popen) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_serve_serves_the_reader_pages(make_config, articles_dir, sandbox):
    port = free_port()
    cfg = config(make_config, articles_dir, sandbox, 8080)
    proc = subprocess.Popen([sys.executable, "-m", "distributor", "--config", cfg, "serve", "--port", str(port)],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert healthy(f"http://127.0.0.1:{port}"), proc.stderr.read() if proc.poll() is not None else ""
        form = httpx.get(f"http://127.0.0.1:{port}/subscribe/de", trust_env=False)
        assert form.status_code == 200 and 'action="https://novastan.example/subscribe"' in form.text
    finally:
        out, _ = stop(proc)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal (exit -15).
    assert f"serving http://127.0.0.1:{port}" in out and proc.returncode in (0, -signal.SIGTERM)


def test_the_daemon_serves_the_web_app_and_run_once_does_not(make_config, articles_dir, sandbox):
    port = free_port()
    cfg = config(make_config, articles_dir, sandbox, port)
    once = subprocess.run([sys.executable, "-m", "distributor", "--config", cfg, "run", "--once"], env=ENV,
                          capture_output=True, text=True, timeout=120)
    assert "where it went" in once.stdout, once.stdout + once.stderr
    proc = subprocess.Popen([sys.executable, "-m", "distributor", "--config", cfg, "run"], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert healthy(f"http://127.0.0.1:{port}")
        stopped = time.monotonic()
    finally:
        stop(proc)
    assert time.monotonic() - stopped < 10 and proc.returncode == 0


def check(cfg) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", cfg, "check"])
    return result.exit_code, result.output


def test_check_requires_the_web_secret_for_a_live_newsletter(make_config, articles_dir, sandbox, monkeypatch):
    live = ('\n[editions.de.channels.newsletter]\nmode = "live"\nfrom_email = "n@novastan.example"\n'
            'api_key_env = "LIVE_SG_KEY"\n').replace("[editions.de.channels.newsletter]",
                                                      "[editions.ru.channels.newsletter]")
    monkeypatch.setenv("LIVE_SG_KEY", "SG.live")
    monkeypatch.delenv("DISTRIBUTOR_WEB_SECRET", raising=False)
    cfg = config(make_config, articles_dir, sandbox, 8080, live)
    code, out = check(cfg)
    assert code == 1
    assert "FAIL [web]: the secret variable DISTRIBUTOR_WEB_SECRET (secret_env) is not set" in out
    assert "FAIL [web]: a live newsletter needs sendgrid_public_key" in out
    monkeypatch.setenv("DISTRIBUTOR_WEB_SECRET", "very-secret-signing-key")
    with open(cfg, "a", encoding="utf-8") as f:
        f.write("")
    text = open(cfg, encoding="utf-8").read().replace(
        'base_url = "https://novastan.example"\n',
        f'base_url = "https://novastan.example"\nsendgrid_public_key = "{public_key_b64()}"\n')
    open(cfg, "w", encoding="utf-8").write(text)
    code, out = check(cfg)
    assert code == 0, out
    assert "very-secret-signing-key" not in out and "web: https://novastan.example, signing secret present" in out


def test_digest_send_to_without_an_address_uses_test_recipients(make_config, articles_dir, sandbox, control):
    cfg = config(make_config, articles_dir, sandbox, 8080)
    assert CliRunner().invoke(cli, ["--config", cfg, "ingest"]).exit_code == 0
    result = CliRunner().invoke(cli, ["--config", cfg, "digest", "--send", "--to", "--edition", "de"])
    assert result.exit_code == 0, result.output
    assert "test copy sent to leserin@example.org" in result.output
    assert [p["to"][0]["email"] for m in mails(control) for p in m["personalizations"]] == ["leserin@example.org"]
    none = CliRunner().invoke(cli, ["--config", cfg, "digest", "--send", "--to", "--edition", "fr"])
    assert none.exit_code == 2 and "edition fr has no test_recipients" in none.output
