"""Structured JSON logs; every line carries the delivery id being handled (a context variable)."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time

delivery_id: contextvars.ContextVar[str] = contextvars.ContextVar("delivery_id", default="-")
_secrets: set[str] = set()


def redact(*secrets: str) -> None:
    """Register values that must never appear in logs, job results or statuses (tokens, secrets)."""
    _secrets.update(s for s in secrets if s and len(s) >= 4)


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced (git errors quote URLs that carry tokens)."""
    for secret in _secrets:
        text = text.replace(secret, "***")
    return text


_STANDARD = set(vars(logging.makeLogRecord({})))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "delivery": delivery_id.get(),
            "message": record.getMessage(),
        }
        body.update({k: v for k, v in vars(record).items() if k not in _STANDARD and k not in body})
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return scrub(json.dumps(body, default=str))


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("datasurface")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
