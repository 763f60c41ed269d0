"""Permission-matrix cases for the quarantine review: console pages and API operations.

Quarantined mail (the UNFILED target) belongs to no queue: admins list, read and act; auditors list and read, and
get 403 on release and delete; queue managers, agents and requesters get 403 on every page and endpoint. A
processed message (the OWN target's inbound row) was never in quarantine: 404 for those who may look.
"""

from __future__ import annotations

from typing import Final

from matrix import ANONYMOUS, OWN, UNFILED, Case

# Outcome per role for one target (UNFILED) or two (UNFILED, OWN).
_VIEW_ONE: Final = {"admin": (200,), "auditor": (200,), "queue_manager": (403,), "agent": (403,), "requester": (403,)}
_VIEW_TWO: Final = {
    "admin": (200, 404),
    "auditor": (200, 404),
    "queue_manager": (403, 403),
    "agent": (403, 403),
    "requester": (403, 403),
}


def _act(success: int) -> dict[str, tuple[object, ...]]:
    return {"admin": (success,), "auditor": (403,), "queue_manager": (403,), "agent": (403,), "requester": (403,)}


CASES: Final = (
    Case(
        "quarantine-list",
        "GET",
        lambda t: "/quarantine/",
        {**_VIEW_ONE, ANONYMOUS: ("login",)},
        targets=(UNFILED,),
        markers=lambda t: (t.inbound.tracking_id,),
    ),
    Case(
        "quarantine-detail",
        "GET",
        lambda t: f"/quarantine/{t.inbound.tracking_id}/",
        {**_VIEW_TWO, ANONYMOUS: ("login", "login")},
        targets=(UNFILED, OWN),
    ),
    Case(
        "quarantine-release",
        "POST",
        lambda t: f"/quarantine/{t.inbound.tracking_id}/release/",
        {**_act(302), ANONYMOUS: ("login",)},
        targets=(UNFILED,),
    ),
    Case(
        "quarantine-delete",
        "POST",
        lambda t: f"/quarantine/{t.inbound.tracking_id}/delete/",
        {**_act(302), ANONYMOUS: ("login",)},
        targets=(UNFILED,),
    ),
    Case(
        "GET api:list_quarantine",
        "GET",
        lambda t: "/api/v1/quarantine",
        {**_VIEW_ONE, ANONYMOUS: (401,)},
        targets=(UNFILED,),
        markers=lambda t: (t.inbound.tracking_id,),
    ),
    Case(
        "GET api:get_quarantined",
        "GET",
        lambda t: f"/api/v1/quarantine/{t.inbound.tracking_id}",
        {**_VIEW_TWO, ANONYMOUS: (401, 401)},
        targets=(UNFILED, OWN),
    ),
    Case(
        "POST api:release_quarantined",
        "POST",
        lambda t: f"/api/v1/quarantine/{t.inbound.tracking_id}/release",
        {**_act(200), ANONYMOUS: (401,)},
        targets=(UNFILED,),
    ),
    Case(
        "POST api:delete_quarantined",
        "POST",
        lambda t: f"/api/v1/quarantine/{t.inbound.tracking_id}/delete",
        {**_act(200), ANONYMOUS: (401,)},
        targets=(UNFILED,),
    ),
)
