"""Structured JSON logs that carry the correlation id of the request or event at hand."""
from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
import uuid
from datetime import datetime, timezone
from typing import Iterator

_correlation: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id",
                                                                          default=None)
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def current_correlation_id() -> str | None:
    return _correlation.get()


def new_correlation_id() -> str:
    return str(uuid.uuid4())


@contextlib.contextmanager
def correlation_scope(correlation_id: str | None) -> Iterator[str]:
    scoped = correlation_id or new_correlation_id()
    token = _correlation.set(scoped)
    try:
        yield scoped
    finally:
        _correlation.reset(token)


def set_correlation_id(correlation_id: str) -> None:
    _correlation.set(correlation_id)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": _correlation.get(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(service: str, json_format: bool = True, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if json_format
                         else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("amqp", "kombu", "waitress.queue", "urllib3", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
