"""Where a connector gets its OAuth 2.0 bearer token from: one interface for IMAP, POP3, SMTP, Graph and EWS."""

from __future__ import annotations

from typing import Protocol


class TokenSource(Protocol):
    """A provider of access tokens for one mailbox (RFC 6749 bearer tokens, RFC 6750)."""

    def access_token(self) -> str:
        """A token valid for at least a minute more: refreshed (and a rotated refresh token stored) when near expiry."""
        ...

    def invalidate(self) -> None:
        """The server refused the token (HTTP 401, SASL failure): the next `access_token()` fetches a fresh one."""
        ...


class StaticToken:
    """A fixed token, for tests and for a token an admin pasted in (it cannot be refreshed)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def access_token(self) -> str:
        return self.token

    def invalidate(self) -> None:
        return None
