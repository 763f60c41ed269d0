"""Permission-matrix cases for the Microsoft Graph change-notification URL (postroom.api.graph_notifications).

The URL is unauthenticated by design (Graph cannot sign in): every role and anonymous visitors get the same
answers. A signed-in session gains nothing: notifications are checked by the subscription's clientState only.
"""

from __future__ import annotations

from typing import Final

from matrix import Case, same

from postroom.connectors.graph_push import load_push_row
from postroom.mailboxes.models import ConnectorKind, Mailbox
from postroom.tenants.services import get_default_tenant
from postroom.tickets.services import ensure_default_queue


def _push_mailbox_id() -> int:
    """A Graph mailbox with push state (created on first use; the matrix calls each URL once per role)."""
    tenant = get_default_tenant()
    mailbox, _ = Mailbox.objects.get_or_create(
        tenant=tenant,
        name="Graph matrix",
        defaults={
            "kind": ConnectorKind.GRAPH,
            "settings": {"tenant_id": "t", "client_id": "c", "user": "matrix@example.com"},
            "default_queue": ensure_default_queue(tenant),
        },
    )
    row = load_push_row(mailbox.pk)
    if not row.state:
        row.state = {"subscriptions": {"inbox": {"id": "sub-matrix", "client_state_sha256": "0" * 64}}}
        row.save()
    return mailbox.pk


CASES: Final = (
    # Graph's validation handshake: the token comes back as text/plain, whoever asks.
    Case(
        "graph-notification",
        "POST",
        lambda t: f"/graph/notifications/{_push_mailbox_id()}/?validationToken=matrix",
        same(200, 200),
    ),
    # A form post is no change notification; a session does not make it one.
    Case("graph-notification", "POST", lambda t: f"/graph/notifications/{_push_mailbox_id()}/", same(400, 400)),
    # A mailbox without push has no notification URL.
    Case("graph-notification", "POST", lambda t: "/graph/notifications/999999/?validationToken=x", same(404, 404)),
    Case("graph-notification", "GET", lambda t: f"/graph/notifications/{_push_mailbox_id()}/", same(405, 405)),
)
