"""Permission-matrix cases for a mailbox's OAuth sign-in pages (postroom.web.oauth_views).

Admins and auditors see the consent page; only admins start a sign-in (the matrix's mailboxes have no oauth
settings, so an admin's start is refused with 409) or complete one (a callback without a state this session started
is a 400); queue managers, agents and requesters get 403; anonymous users are sent to sign in.
"""

from __future__ import annotations

from typing import Final

from matrix import ANONYMOUS, OWN, Case, Target

from postroom.mailboxes.models import ConnectorKind, Mailbox

_LOGIN: Final = "login"


def _mailbox_id(t: Target) -> int:
    assert t.ticket is not None
    queue = t.ticket.queue
    mailbox, _ = Mailbox.objects.get_or_create(
        tenant_id=queue.tenant_id,
        name=f"{queue.name} mailbox",
        defaults={"kind": ConnectorKind.SMTP, "default_queue": queue},
    )
    return int(mailbox.pk)


def _outcomes(admin: object, auditor: object, n: int) -> dict[str, tuple[object, ...]]:
    return {
        "admin": (admin,) * n,
        "auditor": (auditor,) * n,
        "queue_manager": (403,) * n,
        "agent": (403,) * n,
        "requester": (403,) * n,
        ANONYMOUS: (_LOGIN,) * n,
    }


CASES: Final = (
    Case("admin-mailbox-oauth", "GET", lambda t: f"/admin/mailboxes/{_mailbox_id(t)}/oauth/", _outcomes(200, 200, 2)),
    Case("admin-mailbox-oauth", "POST", lambda t: f"/admin/mailboxes/{_mailbox_id(t)}/oauth/", _outcomes(409, 403, 2)),
    Case(
        "admin-oauth-callback", "GET", lambda t: "/admin/oauth/callback/?state=x&code=y", _outcomes(400, 403, 1), (OWN,)
    ),
)
