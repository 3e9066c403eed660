# distributor: slim Python base, non-root user, config and state as volumes.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DISTRIBUTOR_CONFIG=/app/config/distributor.toml

WORKDIR /app
COPY pyproject.toml README.md ./
COPY distributor ./distributor
RUN pip install ".[postgres]"

COPY templates ./templates
COPY examples ./examples
COPY config ./config

RUN useradd --system --uid 10001 --home-dir /app distributor \
    && mkdir -p /app/var \
    && chown -R distributor /app/var
USER distributor

# The config (secrets stay in the environment) and the SQLite state.
VOLUME ["/app/config", "/app/var"]

# The reader pages and the SendGrid webhook ([web]); the mounted config needs
# host = "0.0.0.0" for them to be reachable from outside the container.
EXPOSE 8080
# /metrics, /healthz, /readyz of `run` and `worker` ([metrics] port).
EXPOSE 9464

# Healthy while the process answers /readyz (database reachable, schema at the
# code's head): on the [metrics] port when the config sets one, else on the
# [web] port (distributor/healthcheck.py). compose.yaml names the URL per service.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-m", "distributor.healthcheck"]

CMD ["distributor", "run"]
