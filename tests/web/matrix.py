"""What the permission matrix is made of: targets, cases, the outcome tables shared by every area's cases.

test_permission_matrix.py runs the base cases it holds plus every `CASES` tuple of the `matrix_cases_*.py`
modules beside it (one per area: tickets API, quarantine, admin, portal...), so an area adds its endpoints
without editing the runner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from postroom.accounts.models import Role
from postroom.inbound.models import InboundMessage
from postroom.tickets.models import Ticket

OWN: Final = "own"  # a ticket in Support: queue managers and agents belong to it
OTHER: Final = "other"  # a ticket in Sales: nobody but admins and auditors sees it
UNFILED: Final = "unfiled"  # quarantined mail that became no ticket
ANONYMOUS: Final = "anonymous"
WHO: Final = (*(role.value for role in Role), ANONYMOUS)


@dataclass(frozen=True, slots=True)
class Target:
    """What a request is about: its ticket (None for unfiled mail) and its inbound row."""

    ticket: Ticket | None
    inbound: InboundMessage

    @property
    def reference(self) -> str:
        return self.ticket.reference if self.ticket else "PR-999999"

    @property
    def message_id(self) -> int:
        return self.inbound.message_id or 0

    @property
    def attachment_id(self) -> int:
        from postroom.tickets.models import Attachment

        first = Attachment.objects.filter(message_id=self.message_id).order_by("id").first()
        return first.pk if first else 0


@dataclass(frozen=True, slots=True)
class Case:
    """One endpoint (by URL name; API operations as "METHOD api:name"), how to call it, what each role gets."""

    key: str
    method: str
    url: Callable[[Target], str]
    expected: dict[str, tuple[object, ...]]  # who -> outcome per target, in the order of `targets`
    targets: tuple[str, ...] = (OWN, OTHER)
    data: dict[str, Any] = field(default_factory=dict)
    markers: Callable[[Target], tuple[str, ...]] | None = None  # list pages: what shows the target is listed


def same(*outcome: object) -> dict[str, tuple[object, ...]]:
    return dict.fromkeys(WHO, outcome)


# Who sees what on a page about one ticket (detail, headers, trace, API read).
READ = {
    "admin": (200, 200),
    "queue_manager": (200, 404),
    "agent": (200, 404),
    "auditor": (200, 200),
    "requester": (403, 403),
}
# Who may act on a ticket (reply, note, status): web actions redirect back to the ticket after success.
ACT_WEB = {
    "admin": (302, 302),
    "queue_manager": (302, 404),
    "agent": (302, 404),
    "auditor": (403, 403),
    "requester": (403, 403),
}
ACT_API = {who: tuple(201 if outcome == 302 else outcome for outcome in row) for who, row in ACT_WEB.items()}
LIST = {
    "admin": (200, 200),
    "queue_manager": (200, "hidden"),
    "agent": (200, "hidden"),
    "auditor": (200, 200),
    "requester": (403, 403),
}


def ticket_markers(target: Target) -> tuple[str, ...]:
    """On the ticket list a ticket shows as its subject, its queue as a link with the open count."""
    assert target.ticket
    return (target.ticket.subject, f"?queue={target.ticket.queue.slug}&amp;")
