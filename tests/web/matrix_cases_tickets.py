"""Permission-matrix cases of the ticket list, search, saved views, bulk actions, queue overview and ticket API.

Merge and split name no second ticket the matrix could know (the body is the same for every target), so an actor
gets 422 for the made-up ticket or message after the access checks; the successful paths are in test_merge_split.py
and test_tickets_api.py. The bulk action posts no selection here (403 for view-only roles before anything else);
per-ticket scoping of bulk actions is tested in test_ticket_list_console.py.
"""

from __future__ import annotations

from typing import Final

from matrix import ANONYMOUS, LIST, READ, Case, Target, same, ticket_markers

# An action whose made-up second ticket or message is refused with 422 once the access checks passed.
REFUSED_ACTION: Final = {
    "admin": (422, 422),
    "queue_manager": (422, 404),
    "agent": (422, 404),
    "auditor": (403, 403),
    "requester": (403, 403),
    ANONYMOUS: (401, 401),
}
CHANGE_API: Final = {
    "admin": (200, 200),
    "queue_manager": (200, 404),
    "agent": (200, 404),
    "auditor": (403, 403),
    "requester": (403, 403),
    ANONYMOUS: (401, 401),
}
CONSOLE_FORM: Final = {**same(302, 302), "requester": (403, 403), ANONYMOUS: ("login", "login")}


def reference_marker(target: Target) -> tuple[str, ...]:
    """In API lists a ticket shows as its reference."""
    assert target.ticket
    return (f'"{target.ticket.reference}"',)


def queue_marker(target: Target) -> tuple[str, ...]:
    assert target.ticket
    return (f"?queue={target.ticket.queue.slug}&amp;",)


CASES: Final = (
    Case(
        "ticket-list",
        "GET",
        lambda t: "/?status=&q=question",
        {**LIST, ANONYMOUS: ("login", "login")},
        markers=ticket_markers,
    ),
    Case(
        "ticket-bulk",
        "POST",
        lambda t: "/bulk/",
        {**CONSOLE_FORM, "auditor": (403, 403)},
        data={"action": "priority", "priority": "high"},
    ),
    Case(
        "saved-view-create",
        "POST",
        lambda t: "/views/",
        CONSOLE_FORM,
        data={"name": "Waiting", "query": "status=open"},
    ),
    Case(
        "saved-view-delete",
        "POST",
        lambda t: "/views/999999/delete/",
        {**same(404, 404), "requester": (403, 403), ANONYMOUS: ("login", "login")},
    ),
    Case(
        "queue-overview",
        "GET",
        lambda t: "/queues/",
        {**LIST, ANONYMOUS: ("login", "login")},
        markers=queue_marker,
    ),
    Case(
        "GET api:list_tickets",
        "GET",
        lambda t: "/api/v1/tickets",
        {**LIST, ANONYMOUS: (401, 401)},
        markers=reference_marker,
    ),
    Case(
        "GET api:list_tickets",
        "GET",
        lambda t: "/api/v1/tickets?q=question&status=new&status=open",
        {**LIST, ANONYMOUS: (401, 401)},
        markers=reference_marker,
    ),
    Case("GET api:get_ticket", "GET", lambda t: f"/api/v1/tickets/{t.reference}", {**READ, ANONYMOUS: (401, 401)}),
    Case(
        "PATCH api:update_ticket_fields",
        "PATCH",
        lambda t: f"/api/v1/tickets/{t.reference}",
        CHANGE_API,
        data={"priority": "high", "status": "pending"},
    ),
    Case(
        "POST api:merge_ticket",
        "POST",
        lambda t: f"/api/v1/tickets/{t.reference}/merge",
        REFUSED_ACTION,
        data={"into": "PR-999999"},
    ),
    Case(
        "POST api:split_ticket_message",
        "POST",
        lambda t: f"/api/v1/tickets/{t.reference}/split",
        REFUSED_ACTION,
        data={"message_id": 9_000_000_000},
    ),
    Case(
        "GET api:get_message",
        "GET",
        lambda t: f"/api/v1/messages/{t.message_id}",
        {**READ, ANONYMOUS: (401, 401)},
    ),
    Case(
        "GET api:get_message_raw",
        "GET",
        lambda t: f"/api/v1/messages/{t.message_id}/raw",
        {**READ, ANONYMOUS: (401, 401)},
    ),
)
