"""One database round trip for every threading signal: Message-IDs, token targets, Thread-Index, numbers.

The scored matcher runs for every inbound message, so its lookups are one UNION ALL query over indexed columns
(tenant + message_id, primary keys, tenant + thread_index, tenant + number, tenant + external reference) rather
than one ORM query per signal: a round trip costs far more than the index probes. Plain SQL that PostgreSQL and
SQLite both run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from django.db import connection

from postroom.tickets.models import ExternalReference, Message, Ticket

MAX_LOOKUP_IDS: Final = 50  # senders cap References too (see mail.compose); more ids is a loop or an attack
MAX_LOOKUP_TOKENS: Final = 20
MAX_LOOKUP_NUMBERS: Final = 10

_M: Final = Message._meta.db_table
_T: Final = Ticket._meta.db_table
_E: Final = ExternalReference._meta.db_table


@dataclass(frozen=True, slots=True)
class ThreadHit:
    signal: str  # message_id, token, thread_index, subject, foreign_reference
    key: str  # the Message-ID or external reference that matched ("" for others)
    message_pk: int | None
    message_direction: str
    ticket_id: int
    ticket_reference: str


def _placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


# Each branch yields (signal, key, message id, direction, ticket id, ticket reference); `{in}` becomes the IN
# list's placeholders. Table names are ours and every value is a bound parameter, hence the S608 waivers.
_JOIN_TICKET: Final = f"JOIN {_T} t ON t.id = m.ticket_id"
_BRANCHES: Final = {
    "message_id": f"SELECT 'message_id', m.message_id, m.id, m.direction, t.id, t.reference FROM {_M} m "  # noqa: S608
    f"{_JOIN_TICKET} WHERE m.tenant_id = %s AND m.message_id IN ({{in}})",
    "token": f"SELECT 'token', '', m.id, m.direction, t.id, t.reference FROM {_M} m "  # noqa: S608
    f"{_JOIN_TICKET} WHERE m.tenant_id = %s AND m.id IN ({{in}})",
    "thread_index": f"SELECT 'thread_index', '', m.id, m.direction, t.id, t.reference FROM {_M} m "  # noqa: S608
    f"{_JOIN_TICKET} WHERE m.id = (SELECT max(id) FROM {_M} WHERE tenant_id = %s AND thread_index IN ({{in}}))",
    "subject": f"SELECT 'subject', '', NULL, '', t.id, t.reference FROM {_T} t "  # noqa: S608
    "WHERE t.tenant_id = %s AND t.number IN ({in})",
    "foreign_reference": f"SELECT 'foreign_reference', e.reference, NULL, '', t.id, t.reference FROM {_E} e "  # noqa: S608
    f"JOIN {_T} t ON t.id = e.ticket_id WHERE e.tenant_id = %s AND e.reference IN ({{in}})",
}


def find_thread_hits(
    tenant_id: int,
    *,
    message_ids: Sequence[str] = (),
    token_message_pks: Sequence[int] = (),
    thread_root: str | None = None,
    numbers: Sequence[int] = (),
    foreign_refs: Sequence[str] = (),
) -> list[ThreadHit]:
    wanted: dict[str, list[Any]] = {
        "message_id": list(dict.fromkeys(message_ids))[:MAX_LOOKUP_IDS],
        "token": list(dict.fromkeys(token_message_pks))[:MAX_LOOKUP_TOKENS],
        "thread_index": [thread_root] if thread_root else [],
        "subject": list(dict.fromkeys(numbers))[:MAX_LOOKUP_NUMBERS],
        "foreign_reference": list(dict.fromkeys(foreign_refs))[:MAX_LOOKUP_NUMBERS],
    }
    parts: list[str] = []
    params: list[Any] = []
    for signal, values in wanted.items():
        if values:
            parts.append(_BRANCHES[signal].replace("{in}", _placeholders(len(values))))
            params += [tenant_id, *values]
    if not parts:
        return []
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        rows = cursor.fetchall()
    return [ThreadHit(str(r[0]), str(r[1] or ""), r[2], str(r[3] or ""), int(r[4]), str(r[5])) for r in rows]
