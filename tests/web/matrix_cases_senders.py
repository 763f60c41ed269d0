"""Permission-matrix cases for the allow and block lists (console admin page, API) and the quarantine's "allow the
sender" action.

Admins list, add and remove entries; auditors list them read-only and get 403 on changes; queue managers, agents
and requesters get 403 everywhere. "Allow the sender" is a quarantine action: admins only (auditors 403), about
quarantined mail (the UNFILED target). Rows the cases need are made by the URL functions.
"""

from __future__ import annotations

from typing import Final

from matrix import ANONYMOUS, OWN, UNFILED, Case

from postroom.inbound.models import ListKind, SenderListEntry
from postroom.tenants.services import get_default_tenant

_LOGIN: Final = "login"


def _readers(ok: object, anonymous: object) -> dict[str, tuple[object, ...]]:
    return {
        "admin": (ok,),
        "auditor": (ok,),
        "queue_manager": (403,),
        "agent": (403,),
        "requester": (403,),
        ANONYMOUS: (anonymous,),
    }


def _admins(ok: object, anonymous: object) -> dict[str, tuple[object, ...]]:
    return {**_readers(ok, anonymous), "auditor": (403,)}


def _entry_id() -> int:
    entry, _ = SenderListEntry.objects.get_or_create(
        tenant=get_default_tenant(), pattern="@blocked.example", mailbox=None, defaults={"kind": ListKind.BLOCK}
    )
    return int(entry.pk)


_NEW_ENTRY: Final = {"pattern": "promo@spam.example", "kind": "block", "note": "sends offers"}

CASES: Final = (
    Case(
        "admin-sender-list",
        "GET",
        lambda t: (_entry_id(), "/admin/senders/")[1],
        _readers(200, _LOGIN),
        (OWN,),
        markers=lambda t: ("@blocked.example",),
    ),
    Case("admin-sender-list", "POST", lambda t: "/admin/senders/", _admins(302, _LOGIN), (OWN,), _NEW_ENTRY),
    Case(
        "admin-sender-delete", "POST", lambda t: f"/admin/senders/{_entry_id()}/delete/", _admins(302, _LOGIN), (OWN,)
    ),
    Case(
        "GET api:list_sender_entries",
        "GET",
        lambda t: (_entry_id(), "/api/v1/sender-lists")[1],
        _readers(200, 401),
        (OWN,),
        markers=lambda t: ("@blocked.example",),
    ),
    Case(
        "POST api:create_sender_entry", "POST", lambda t: "/api/v1/sender-lists", _admins(201, 401), (OWN,), _NEW_ENTRY
    ),
    Case(
        "DELETE api:delete_sender_entry",
        "DELETE",
        lambda t: f"/api/v1/sender-lists/{_entry_id()}",
        _admins(204, 401),
        (OWN,),
    ),
    Case(
        "quarantine-allow-sender",
        "POST",
        lambda t: f"/quarantine/{t.inbound.tracking_id}/allow-sender/",
        _admins(302, _LOGIN),
        (UNFILED,),
    ),
    Case(
        "POST api:allow_quarantined_sender",
        "POST",
        lambda t: f"/api/v1/quarantine/{t.inbound.tracking_id}/allow-sender",
        _admins(200, 401),
        (UNFILED,),
    ),
)
