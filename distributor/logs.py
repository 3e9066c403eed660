"""Logging for the long-running commands: plain lines, or one JSON object per
line (`--log-json` or DISTRIBUTOR_LOG_FORMAT=json) for log collectors."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys

from distributor.redact import protect_logging


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info or record.exc_text:
            # exc_text first: the redacting filter has scrubbed it already.
            data["exception"] = record.exc_text or self.formatException(record.exc_info or (None, None, None))
        return json.dumps(data, ensure_ascii=False)


def setup_logging(*, json_format: bool | None = None, level: str | None = None) -> None:
    if json_format is None:
        json_format = os.environ.get("DISTRIBUTOR_LOG_FORMAT", "").lower() == "json"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_format else
                         logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or os.environ.get("DISTRIBUTOR_LOG_LEVEL", "INFO"))
    # The libraries' own chatter stays at warnings.
    for noisy in ("httpx", "apscheduler", "telegram", "uvicorn", "urllib3", "tweepy", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Whatever the logger and level (python_http_client logs SendGrid's
    # Authorization header at DEBUG), no secret reaches the handler's output.
    protect_logging()
