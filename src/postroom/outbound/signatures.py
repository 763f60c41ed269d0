"""The signature and disclaimer added below an agent's reply: the queue's signature, then the tenant's text."""

from __future__ import annotations

import string
from collections.abc import Mapping

from django.contrib.auth.models import User

from postroom.tickets.models import Ticket

SIGNATURE_DELIMITER = "-- "  # RFC 3676 section 4.3: "-- " alone on a line starts the signature


class _KeepUnknown(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill_merge_fields(template: str, fields: Mapping[str, str]) -> str:
    """Replace `{agent_name}`-style fields; unknown fields and stray braces stay as written."""
    try:
        return string.Formatter().vformat(template, (), _KeepUnknown(fields))
    except (ValueError, IndexError):  # an unbalanced brace in the template: leave it untouched
        return template


def build_merge_fields(ticket: Ticket, user: User | None) -> dict[str, str]:
    full_name = ""
    if user is not None:
        full_name = getattr(user, "get_full_name", lambda: "")() or user.get_username()
    return {
        "agent_name": full_name,
        "agent_email": getattr(user, "email", "") if user is not None else "",
        "queue_name": ticket.queue.name,
        "ticket_reference": ticket.reference,
        "ticket_subject": ticket.subject,
        "requester_name": ticket.requester.name or ticket.requester.email,
    }


def build_signature_block(ticket: Ticket, user: User | None) -> str:
    fields = build_merge_fields(ticket, user)
    signature = fill_merge_fields(ticket.queue.signature, fields).strip()
    disclaimer = fill_merge_fields(ticket.tenant.disclaimer, fields).strip()
    parts = [f"{SIGNATURE_DELIMITER}\n{signature}" if signature else "", disclaimer]
    return "\n\n".join(part for part in parts if part)
