"""What the Microsoft Graph mail client returns and raises: folders, delta pages, subscriptions, typed errors.

Every error's message is one plain line an admin can act on (no token, no secret); Graph's own error JSON
(`{"error": {"code", "message", "innerError": {...}}}`) supplies the code and message.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

DEFAULT_GRAPH_URL: Final = "https://graph.microsoft.com/v1.0"
DEFAULT_LOGIN_URL: Final = "https://login.microsoftonline.com"
GRAPH_SCOPE: Final = "https://graph.microsoft.com/.default"  # app-only: the application permissions granted


@dataclass(frozen=True, slots=True)
class MailFolder:
    id: str
    display_name: str
    parent_id: str = ""


@dataclass(frozen=True, slots=True)
class DeltaItem:
    """One entry of a message delta page: a message (id, read flag, arrival) or an `@removed` marker."""

    id: str
    removed: bool = False
    is_read: bool = False
    received_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class DeltaPage:
    """One page of a delta round: its items and either the next page's link or the round's delta link."""

    items: tuple[DeltaItem, ...]
    next_link: str | None
    delta_link: str | None


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    resource: str
    expires_at: dt.datetime


class GraphError(Exception):
    """Graph answered with an error (or could not be reached); `str()` is one plain line."""

    def __init__(self, detail: str, *, status: int = 0, code: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.code = code


class GraphConnectionError(GraphError):
    """Graph (or the sign-in service) could not be reached: DNS, TCP, TLS or a timeout."""


class GraphAuthError(GraphError):
    """The token was refused twice in a row, or no token could be had (wrong secret, no consent)."""


class GraphThrottledError(GraphError):
    """Graph kept answering 429/503 past the retries and the longest wait this client accepts."""


class GraphNotFoundError(GraphError):
    """The item, folder or subscription does not exist (any more)."""


class GraphSyncStateError(GraphError):
    """The delta (or skip) token expired or is unknown (410 Gone, syncStateNotFound): start a full round again."""


def build_error_detail(status: int, code: str, message: str, what: str) -> str:
    """`Graph refused <what> (403 ErrorAccessDenied): Access is denied.` on one line, at most 300 characters."""
    reason = " ".join(message.split())[:200] or "no reason given"
    label = f"{status} {code}".strip()
    return f"Graph refused {what} ({label}): {reason}"
