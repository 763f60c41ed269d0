"""Tracking ids in every log line, and redaction of addresses at INFO and above."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

_tracking_id: contextvars.ContextVar[str] = contextvars.ContextVar("postroom_tracking_id", default="-")

_ADDRESS = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+)")
TRACKING_PREFIX: Final = "prt"


def new_tracking_id() -> str:
    """A short random id that follows one message from receipt to ticket to outbound headers."""
    return f"{TRACKING_PREFIX}-{secrets.token_hex(8)}"


@contextmanager
def tracking(tracking_id: str) -> Iterator[None]:
    token = _tracking_id.set(tracking_id)
    try:
        yield
    finally:
        _tracking_id.reset(token)


def redact_addresses(text: str) -> str:
    """`jane.doe@example.com` -> `j***@example.com`: logs name the domain, never the person."""
    return _ADDRESS.sub(r"\1***@\2", text)


class TrackingIdFilter(logging.Filter):
    """Adds the tracking id to every record, and redacts addresses from records at INFO and above."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.tracking_id = _tracking_id.get()
        if record.levelno >= logging.INFO:
            message = record.getMessage()
            redacted = redact_addresses(message)
            if redacted != message:
                record.msg, record.args = redacted, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "tracking_id": getattr(record, "tracking_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)
