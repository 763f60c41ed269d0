"""The values of the EWS connector (no exchangelib import): settings, item references, pages, and its errors."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Final, Literal

from postroom.mail.errors import PermanentError, TransientError
from postroom.mail.transport.proxy import ProxySettings
from postroom.mail.transport.token_source import TokenSource

DEFAULT_MAX_BACKOFF_SECONDS: Final = 60.0  # longest single ErrorServerBusy wait honoured inside one cycle

EwsAuth = Literal["ntlm", "basic", "oauth"]
EwsAccess = Literal["delegate", "impersonation"]
EwsPostAction = Literal["keep", "seen", "move", "delete"]
EWS_AUTH_TYPES: Final[tuple[EwsAuth, ...]] = ("ntlm", "basic", "oauth")
EWS_ACCESS_TYPES: Final[tuple[EwsAccess, ...]] = ("delegate", "impersonation")
EWS_POST_ACTIONS: Final[tuple[EwsPostAction, ...]] = ("keep", "seen", "move", "delete")


class EwsError(TransientError):
    """The server or the network failed; the next cycle tries again (the message is one plain line)."""


class EwsSetupError(PermanentError):
    """Retrying the same settings will not help: login or impersonation refused, TLS refused, no such folder."""


class EwsSyncStateError(EwsError):
    """The server no longer accepts the stored SyncState (ErrorInvalidSyncStateData): sync the folder from the start."""


@dataclass(frozen=True, slots=True)
class EwsEndpoint:
    """Where to connect and as whom: nothing secret. `ca_file` adds trust anchors; it never turns checks off."""

    url: str  # https://mail.example.org/EWS/Exchange.asmx
    username: str  # the login (DOMAIN\\user, user@domain or a UPN)
    mailbox: str  # the primary SMTP address of the mailbox read: the login's own, a shared one, an impersonated one
    auth_type: EwsAuth = "ntlm"
    access: EwsAccess = "delegate"
    ca_file: str | None = None
    timeout_seconds: float = 60.0
    max_backoff_seconds: float = DEFAULT_MAX_BACKOFF_SECONDS
    allow_private: bool = False  # SSRF guard: loopback and private networks only when the operator allows
    proxy: ProxySettings | None = None  # the operator's proxy this mailbox goes through (mail/transport/proxy.py)


@dataclass(frozen=True, slots=True)
class EwsCredentials:
    """A password (NTLM, basic), or a TokenSource for OAuth 2.0 bearer tokens."""

    password: str = field(default="", repr=False)
    tokens: TokenSource | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ItemRef:
    """An EWS item id and its change key (the version the server last told us)."""

    item_id: str
    change_key: str


@dataclass(frozen=True, slots=True)
class SyncPage:
    """One SyncFolderItems answer: the items created since the state asked from, and the state after them."""

    sync_state: str
    created: tuple[ItemRef, ...]
    last_page: bool  # IncludesLastItemInRange


@dataclass(frozen=True, slots=True)
class FetchedItem:
    ref: ItemRef
    raw: bytes = field(repr=False)
    received: dt.datetime | None
