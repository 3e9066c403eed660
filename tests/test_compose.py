"""compose.yaml and the Dockerfile's HEALTHCHECK (issue 15 part 5), checked
against the CLI and the config, since no Docker engine runs here: its
services, that every command is a real `distributor` command with real
options, the one image, the secrets from the env file, the volumes, and
health checks that ask the port each process really serves /readyz on. The
health check itself is run against a live web app."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import yaml

from distributor.cli import cli
from distributor.config import load_settings

REPO = Path(__file__).resolve().parent.parent
DISTRIBUTOR_SERVICES = {"run", "worker", "serve"}


def compose() -> dict:
    return yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))


def config_of(service: dict) -> Path:
    """The repo file the service's DISTRIBUTOR_CONFIG names, through its ./config mount."""
    path = service["environment"]["DISTRIBUTOR_CONFIG"]
    mounts = dict(v.split(":")[1::-1] for v in service["volumes"] if v.startswith("./"))  # container -> host
    folder, name = path.rsplit("/", 1)
    assert folder in mounts, (path, mounts)
    return REPO / mounts[folder] / name


def test_the_services_and_the_one_image():
    services = compose()["services"]
    assert set(services) == {"db", *DISTRIBUTOR_SERVICES}
    assert services["db"]["image"].startswith("postgres:")
    images = {(services[s]["build"], services[s]["image"]) for s in DISTRIBUTOR_SERVICES}
    assert images == {(".", "distributor:latest")}  # one image, built from this repo's Dockerfile
    assert services["worker"]["deploy"]["replicas"] >= 2
    for s in DISTRIBUTOR_SERVICES:
        assert services[s]["depends_on"]["db"]["condition"] == "service_healthy"


def test_every_command_is_a_real_cli_command_with_real_options():
    """Passes for `worker` once `distributor worker` exists (issue 15 part 1)."""
    services = compose()["services"]
    for name in DISTRIBUTOR_SERVICES:
        command = services[name]["command"]
        assert command[0] == "distributor", command
        assert command[1] in cli.commands, f"compose.yaml's {name} runs `distributor {command[1]}`: no such command"
        options = {o for p in cli.commands[command[1]].params if isinstance(p, click.Option) for o in p.opts}
        for arg in command[2:]:
            if arg.startswith("-"):
                assert arg.split("=", 1)[0] in options, (name, arg)
    assert {services[n]["command"][1] for n in DISTRIBUTOR_SERVICES} == DISTRIBUTOR_SERVICES


def test_the_config_and_the_secrets_come_from_the_repo_and_the_env_file():
    services = compose()["services"]
    example = (REPO / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=$", example, re.M))  # names only, never a value
    for name in DISTRIBUTOR_SERVICES:
        service = services[name]
        assert service["env_file"] == ".env"
        settings = load_settings(config_of(service))
        url = service["environment"]["DISTRIBUTOR_DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://") and "@db:5432/" in url
        assert "${POSTGRES_PASSWORD" in url  # the password is interpolated from .env, never written here
        # Every secret the config names is one the env file provides.
        needed = {settings.web.secret_env, "POSTGRES_PASSWORD"}
        for edition in settings.editions.values():
            for channel in edition.channels.configured().values():
                needed |= {getattr(channel, f) for f in vars(channel) if f.endswith("_env")}
        assert needed <= listed, needed - listed
    assert "${POSTGRES_PASSWORD" in services["db"]["environment"]["POSTGRES_PASSWORD"]
    assert ".env" in (REPO / ".gitignore").read_text(encoding="utf-8").split()
    # The image can talk to PostgreSQL.
    assert "pip install \".[postgres]\"" in (REPO / "Dockerfile").read_text(encoding="utf-8")


def test_the_volumes():
    spec = compose()
    services = spec["services"]
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    for name in DISTRIBUTOR_SERVICES:
        volumes = services[name]["volumes"]
        assert "./config:/app/config:ro" in volumes and "distributor-var:/app/var" in volumes
    assert '"/app/config", "/app/var"' in dockerfile  # the image's declared volumes
    assert set(spec["volumes"]) == {"pgdata", "distributor-var"}


def test_each_health_check_asks_readyz_where_its_process_serves_it():
    services = compose()["services"]
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    for name in DISTRIBUTOR_SERVICES:
        service = services[name]
        test = service["healthcheck"]["test"]
        assert test[:4] == ["CMD", "python", "-m", "distributor.healthcheck"], test
        url = test[4]
        m = re.fullmatch(r"http://127\.0\.0\.1:(\d+)(/healthz|/readyz)", url)
        assert m, url
        settings = load_settings(config_of(service))
        if name == "serve":  # the web app on [web] port, published
            assert int(m.group(1)) == settings.web.port and settings.web.host == "0.0.0.0"
            assert f"{settings.web.port}:{settings.web.port}" in service["ports"]
        else:  # run and worker serve them on [metrics] port
            assert settings.metrics.port and int(m.group(1)) == settings.metrics.port
            assert settings.metrics.host == "0.0.0.0"  # Prometheus reaches it from outside the container
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r'^HEALTHCHECK .*\\\n\s+CMD \["python", "-m", "distributor\.healthcheck"\]', dockerfile, re.M)


def test_the_health_check_passes_on_a_ready_process_and_fails_on_none(settings, store):
    from distributor.web.server import start_web

    handle = start_web(settings, port=0, store=store)
    try:
        ok = subprocess.run([sys.executable, "-m", "distributor.healthcheck", f"{handle.url}/readyz"],
                            capture_output=True, text=True, timeout=60)
        assert ok.returncode == 0 and ok.stdout.startswith(f"healthy: {handle.url}/readyz: 200 ready"), ok
    finally:
        handle.stop()
    gone = subprocess.run([sys.executable, "-m", "distributor.healthcheck", f"{handle.url}/readyz"],
                          capture_output=True, text=True, timeout=60)
    assert gone.returncode == 1 and gone.stdout.startswith("unhealthy: "), gone
