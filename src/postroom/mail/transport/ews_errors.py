"""EWS failures in one plain line: exchangelib's and the network's errors become EwsSetupError or EwsError."""

from __future__ import annotations

import ssl
from typing import NoReturn

from exchangelib.errors import (
    ErrorAccessDenied,
    ErrorFolderNotFound,
    ErrorImpersonateUserDenied,
    ErrorInvalidSyncStateData,
    ErrorNonExistentMailbox,
    ErrorServerBusy,
    RateLimitError,
    TransportError,
    UnauthorizedError,
)

from postroom.mail.transport.ews_values import EwsEndpoint, EwsError, EwsSetupError, EwsSyncStateError
from postroom.mail.transport.mailbox_endpoint import describe_connection_error


def raise_translated(error: BaseException, endpoint: EwsEndpoint, doing: str) -> NoReturn:
    """Re-raise an exchangelib or network error as EwsSetupError (fix the settings) or EwsError (may pass)."""
    where = f"{endpoint.url} ({doing})"
    if isinstance(error, UnauthorizedError):
        raise EwsSetupError(
            f"the server refused the login of {endpoint.username} (HTTP 401): check the username and password"
            if endpoint.auth_type != "oauth"
            else f"the server refused the access token for {endpoint.username} (HTTP 401)"
        ) from error
    if isinstance(error, ErrorImpersonateUserDenied):
        raise EwsSetupError(
            f"{endpoint.username} may not impersonate {endpoint.mailbox} (ErrorImpersonateUserDenied): "
            "grant it the ApplicationImpersonation role for this mailbox"
        ) from error
    if isinstance(error, ErrorAccessDenied | ErrorNonExistentMailbox):
        raise EwsSetupError(
            f"{endpoint.username} may not open the mailbox {endpoint.mailbox} ({type(error).__name__}): "
            "grant it full access, or use impersonation"
        ) from error
    if isinstance(error, ErrorFolderNotFound):
        raise EwsSetupError(f"{where}: no such folder") from error
    if isinstance(error, RateLimitError):
        raise EwsError(
            f"the server is throttling requests (ErrorServerBusy) and asked to wait {error.wait:.0f} s, more than "
            f"the {endpoint.max_backoff_seconds:.0f} s waited within a cycle; the next cycle tries again"
        ) from error
    if isinstance(error, ErrorServerBusy):
        raise EwsError(f"the server is busy (ErrorServerBusy); the next cycle tries again ({doing})") from error
    if isinstance(error, ErrorInvalidSyncStateData):
        raise EwsSyncStateError(f"{where}: the server refused the stored sync state") from error
    cause = _find_cause(error)
    if isinstance(cause, ssl.SSLCertVerificationError):
        anchors = f"the system store and {endpoint.ca_file}" if endpoint.ca_file else "the system store"
        raise EwsSetupError(
            f"the certificate of {endpoint.url} is not trusted ({cause.verify_message or cause}; checked against "
            f"{anchors})"
        ) from error
    if isinstance(cause, ssl.SSLError):
        raise EwsSetupError(f"TLS with {endpoint.url} failed: {cause.reason or cause}") from error
    if cause is not None:
        raise EwsError(f"{endpoint.url} is unreachable: {describe_connection_error(cause)}") from error
    if isinstance(error, TransportError):
        raise EwsError(f"{where}: {_one_line(error)}") from error
    raise EwsError(f"{where}: the server answered {type(error).__name__}: {_one_line(error)}") from error


def _find_cause(error: BaseException) -> OSError | None:
    """The socket or TLS error under exchangelib's and requests' wrappers (they chain with context, not cause)."""
    seen: set[int] = set()
    current: BaseException | None = error
    found: OSError | None = None
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError | ConnectionError | TimeoutError) or (
            isinstance(current, OSError) and type(current) is OSError
        ):
            found = current
            if isinstance(current, ssl.SSLError):
                return current
        for arg in getattr(current, "args", ()):
            if isinstance(arg, BaseException) and id(arg) not in seen:
                inner = _find_cause(arg)
                if inner is not None:
                    return inner
        current = current.__cause__ or current.__context__ or getattr(current, "reason", None)
    return found


def _one_line(error: BaseException) -> str:
    return (" ".join(str(error).split()) or type(error).__name__)[:400]


def describe_error(error: BaseException) -> str:
    """One plain line for the health record and the alert (no secrets: none is ever put into these messages)."""
    if isinstance(error, EwsError | EwsSetupError):
        return str(error)
    return describe_connection_error(error)
