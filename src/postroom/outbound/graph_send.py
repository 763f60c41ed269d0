"""Sending a queued message through Microsoft Graph (`POST /users/{id}/sendMail`, MIME) instead of SMTP.

For a Graph mailbox whose settings say `"send_via": "graph"` and whose address is the From address: the same
bytes the SMTP path would send, base64 text/plain (learn.microsoft.com/graph/api/user-sendmail, "send a message
in MIME format"). Graph takes the recipients from the To, Cc and Bcc headers, not from an envelope, so envelope
recipients that no header names (the Bcc ones, which composing leaves out of the headers) are added as a `Bcc:`
header, which Exchange removes before delivery. Exchange keeps a copy in Sent Items.

The outcome is the SMTP path's SendResult: throttling, unreachable Graph, a refused token and 5xx are DEFERRED
(retried by the sender's backoff); any other refusal is FAILED. This module reads the mailbox's settings itself
(outbound sits below postroom.connectors in the layers), with the same keys as postroom.connectors.graph_conf.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from email.headerregistry import Address
from email.parser import BytesHeaderParser
from email.policy import default
from email.utils import getaddresses
from typing import Final

from postroom.mail.transport.graph_client import GraphClient
from postroom.mail.transport.graph_token import ClientCredentialsToken
from postroom.mail.transport.graph_values import (
    DEFAULT_GRAPH_URL,
    DEFAULT_LOGIN_URL,
    GraphAuthError,
    GraphConnectionError,
    GraphError,
    GraphThrottledError,
)
from postroom.mail.transport.smtp_values import SendResult, SendStatus
from postroom.mailboxes.models import ConnectorKind, Mailbox
from postroom.tenants.models import Tenant

SECRET: Final = "graph_client_secret"  # noqa: S105 (a key name, not a secret)
ClientFactory = Callable[[Mailbox], GraphClient]

_tokens: dict[tuple[int, str, str, str, str], ClientCredentialsToken] = {}
_tokens_lock = threading.Lock()


def find_graph_sending_mailbox(tenant: Tenant, from_address: str) -> Mailbox | None:
    """The active Graph mailbox with this address that sends through Graph, if there is one."""
    if not from_address:
        return None
    for mailbox in Mailbox.objects.filter(
        tenant=tenant, address__iexact=from_address, is_active=True, kind=ConnectorKind.GRAPH
    ).order_by("id"):
        if isinstance(mailbox.settings, Mapping) and mailbox.settings.get("send_via") == "graph":
            return mailbox
    return None


def build_graph_mime(raw: bytes, recipients: Sequence[str]) -> bytes:
    """`raw` with a Bcc header naming the envelope recipients its To, Cc and Bcc headers leave out."""
    headers = BytesHeaderParser(policy=default).parsebytes(raw)
    named = {
        address.lower()
        for _, address in getaddresses([str(v) for key in ("to", "cc", "bcc") for v in headers.get_all(key, [])])
    }
    missing = [r for r in dict.fromkeys(recipients) if r.lower() not in named]
    if not missing:
        return raw
    bcc = ", ".join(str(Address(addr_spec=r)) for r in missing)
    newline = b"\r\n" if b"\r\n" in raw.split(b"\n", 1)[0] + b"\n" else b"\n"
    return b"Bcc: " + bcc.encode("ascii", "replace") + newline + raw


def build_graph_sender_client(mailbox: Mailbox) -> GraphClient:
    """A Graph client with the mailbox's app-only token (kept across sends)."""
    raw = mailbox.settings if isinstance(mailbox.settings, Mapping) else {}
    secrets = mailbox.secrets if isinstance(mailbox.secrets, Mapping) else {}
    login_url = str(raw.get("login_url") or DEFAULT_LOGIN_URL)
    tenant_id, client_id = str(raw.get("tenant_id") or ""), str(raw.get("client_id") or "")
    client_secret = str(secrets.get(SECRET) or "")
    key = (mailbox.pk, login_url, tenant_id, client_id, client_secret)
    with _tokens_lock:
        tokens = _tokens.get(key)
        if tokens is None:
            for stale in [k for k in _tokens if k[0] == mailbox.pk]:
                del _tokens[stale]
            tokens = _tokens[key] = ClientCredentialsToken(
                tenant_id=tenant_id, client_id=client_id, client_secret=client_secret, login_url=login_url
            )
    return GraphClient(
        user=str(raw.get("user") or ""), tokens=tokens, base_url=str(raw.get("graph_url") or DEFAULT_GRAPH_URL)
    )


def send_with_graph(
    mailbox: Mailbox,
    recipients: Sequence[str],
    raw: bytes,
    *,
    client_factory: ClientFactory = build_graph_sender_client,
) -> SendResult:
    """Send one message through the mailbox's Graph account; the outcome as the SMTP path words it."""
    try:
        with client_factory(mailbox) as client:
            client.send_mime(build_graph_mime(raw, recipients))
    except (GraphThrottledError, GraphConnectionError, GraphAuthError) as e:
        return SendResult(SendStatus.DEFERRED, None, str(e))
    except GraphError as e:
        status = SendStatus.DEFERRED if e.status >= 500 else SendStatus.FAILED
        return SendResult(status, None, str(e))
    return SendResult(SendStatus.SENT, None, "accepted by Microsoft Graph sendMail (202)")
