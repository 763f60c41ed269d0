"""Ticket lists: filters, full-text search and keyset pagination, narrowing a queryset the caller has scoped.

This layer sits below `postroom.accounts`, so it cannot apply roles itself: every entry point takes the tickets the
user may see (`scope_tickets(...)`) as its first argument and only ever narrows it. Search terms select ticket ids
from messages, which are then intersected with that scope, so a match in a ticket the user may not see is never
returned (the API and the console test this).

A ticket matches when one of its messages does (its subject or text; the first message carries the ticket's
subject). A query made only of ticket references (`PR-000123`) finds those tickets by number.

Full text on PostgreSQL: `tickets_message.search_vector`, a stored `to_tsvector('simple', ...)` with a GIN index
(migration tickets 0005), queried with `websearch_to_tsquery` ("quoted phrases", `or`, `-word`). The `simple`
configuration lowercases and splits words without stemming or stop words: mail arrives in many languages and a
wrong stemmer hides more than it finds. Only the first 100,000 characters of a message are indexed (a tsvector holds
at most 1 MB, PostgreSQL documentation 12.11). Which plan is fast depends on how common the words are, which the
planner guesses poorly for words it has no statistics on, so the search measures it: it asks the index for up to
`PROBE_LIMIT` matching messages. Fewer than that is every match, and the page is read from those ticket ids; more
means the words are common, and the page walks the visible tickets newest first (`ticket_activity_idx`), asking each
whether a message matches, which finds a page's worth after a few hundred tickets. At a million messages either way
answers in milliseconds (docs/architecture/console.md, "Ticket search").

On SQLite (embedded, small installations) every word must occur in the subject or text of one of the ticket's
messages, compared with LIKE.

Pagination is keyset (seek) pagination on (last_message_at, id), newest first: stable while tickets arrive and as
fast on page 1,000 as on page 1; the cursor is opaque to clients.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal

from django.conf import settings
from django.db import connection
from django.db.models import BooleanField, Count, Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL

from postroom.mail.ticketref import find_ticket_numbers
from postroom.tickets.models import Message, Ticket, TicketPriority, TicketStatus

ACTIVE: Final = "active"  # pseudo-status: the tickets someone still works on (new, open, pending)
ACTIVE_STATUSES: Final = frozenset({TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING})
UNASSIGNED: Final = "none"
MAX_PAGE_SIZE: Final = 100
MAX_ID: Final = 2**63 - 1  # ids are bigints: a larger number in a cursor is no id (and no database error)
MAX_QUERY_CHARS: Final = 500  # a search box, not a document (our bound)
MAX_SQLITE_TERMS: Final = 8  # each word is one LIKE subquery on SQLite (our bound)

# PostgreSQL full text: the stored column of migration tickets 0005 (which holds MESSAGE_VECTOR_SQL) and the query.
FTS_CONFIG: Final = "simple"
MESSAGE_SEARCH_CHARS: Final = 100_000
MESSAGE_VECTOR_SQL: Final = (
    f"to_tsvector('{FTS_CONFIG}'::regconfig, left(subject || ' ' || text, {MESSAGE_SEARCH_CHARS}))"
)
MATCH_SQL: Final = f"search_vector @@ websearch_to_tsquery('{FTS_CONFIG}'::regconfig, %s)"
# Matching messages read to tell rare words from common ones: at most this many ticket ids go into the page query
# (our bound: a few milliseconds from the GIN index, a short IN list).
PROBE_LIMIT: Final = 5_000


class TicketQueryError(ValueError):
    """A filter value or cursor that cannot be used; the message names the parameter (for a 422 or a form error)."""


@dataclass(frozen=True, slots=True)
class TicketFilters:
    """What to list. Empty sets and None mean "any"; `assignee` is a user id or UNASSIGNED."""

    statuses: frozenset[str] = frozenset()
    queue_id: int | None = None
    assignee: int | Literal["none"] | None = None
    priorities: frozenset[str] = frozenset()
    requester_email: str = ""
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    updated_after: dt.datetime | None = None
    updated_before: dt.datetime | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ends: the last ticket's (last_message_at, id)."""

    last_message_at: dt.datetime
    ticket_id: int


@dataclass(frozen=True, slots=True)
class TicketPage:
    """One page of tickets (queue, requester and assignee loaded) with each one's message count."""

    tickets: list[Ticket]
    message_counts: dict[int, int]
    next_cursor: str | None


def parse_statuses(values: Iterable[str]) -> frozenset[str]:
    """Status filter values; "active" stands for new, open and pending. Raises TicketQueryError for unknown ones."""
    statuses: set[str] = set()
    for value in values:
        if value == ACTIVE:
            statuses |= ACTIVE_STATUSES
        elif value in TicketStatus.values:
            statuses.add(value)
        else:
            raise TicketQueryError(f"status: unknown status {value!r} (use {', '.join(TicketStatus.values)} or active)")
    return frozenset(statuses)


def parse_priorities(values: Iterable[str]) -> frozenset[str]:
    priorities = frozenset(values)
    unknown = sorted(priorities - set(TicketPriority.values))
    if unknown:
        raise TicketQueryError(f"priority: unknown priority {unknown[0]!r} (use {', '.join(TicketPriority.values)})")
    return priorities


def parse_assignee(value: str, viewer_id: int) -> int | Literal["none"] | None:
    """'' (anyone), "me" (the viewer), "none" (unassigned) or a user id."""
    value = value.strip().lower()
    if not value:
        return None
    if value == "me":
        return viewer_id
    if value in {UNASSIGNED, "unassigned"}:
        return UNASSIGNED
    if value.isdigit():
        return int(value)
    raise TicketQueryError(f"assignee: use me, none or a user id, not {value!r}")


def encode_cursor(cursor: Cursor) -> str:
    raw = f"{cursor.last_message_at.isoformat()}|{cursor.ticket_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> Cursor:
    """The cursor a previous page returned; TicketQueryError for anything else."""
    try:
        stamp, _, ticket_id = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().partition("|")
        cursor = Cursor(dt.datetime.fromisoformat(stamp), int(ticket_id))
    except (ValueError, UnicodeDecodeError, binascii.Error) as e:
        raise TicketQueryError("cursor: not a cursor this API returned") from e
    if cursor.last_message_at.tzinfo is None or not 0 < cursor.ticket_id <= MAX_ID:
        raise TicketQueryError("cursor: not a cursor this API returned")
    return cursor


def filter_tickets(visible: QuerySet[Ticket], filters: TicketFilters) -> QuerySet[Ticket]:
    """Narrow the tickets the user may see (`visible`, already scoped) by `filters`; unordered."""
    tickets = visible
    if filters.statuses:
        tickets = tickets.filter(status__in=sorted(filters.statuses))
    if filters.queue_id is not None:
        tickets = tickets.filter(queue_id=filters.queue_id)
    if filters.assignee == UNASSIGNED:
        tickets = tickets.filter(assignee__isnull=True)
    elif filters.assignee is not None:
        tickets = tickets.filter(assignee_id=filters.assignee)
    if filters.priorities:
        tickets = tickets.filter(priority__in=sorted(filters.priorities))
    if filters.requester_email.strip():
        tickets = tickets.filter(requester__email_key=filters.requester_email.strip().lower())
    if filters.created_after is not None:
        tickets = tickets.filter(created_at__gte=filters.created_after)
    if filters.created_before is not None:
        tickets = tickets.filter(created_at__lt=filters.created_before)
    if filters.updated_after is not None:
        tickets = tickets.filter(updated_at__gte=filters.updated_after)
    if filters.updated_before is not None:
        tickets = tickets.filter(updated_at__lt=filters.updated_before)
    text = filters.text.strip()[:MAX_QUERY_CHARS]
    if text:
        tickets = tickets.filter(_match_text(text))
    return tickets


def _match_text(text: str) -> Q:
    """The condition on tickets for a search text (runs the PostgreSQL probe query, see the module docstring)."""
    words = text.split()
    numbers = [find_ticket_numbers(word, settings.POSTROOM.ticket_prefix) for word in words]
    if all(numbers):  # only references: those tickets
        return Q(number__in=sorted({number for found in numbers for number in found}))
    if connection.vendor != "postgresql":
        return Q(pk__in=_like_matches(text))
    matching = build_matching_messages(text)
    ticket_ids = list(matching.values_list("ticket_id", flat=True)[: PROBE_LIMIT + 1])
    if len(ticket_ids) <= PROBE_LIMIT:  # every match: rare words
        return Q(pk__in=sorted(set(ticket_ids)))
    return Q(Exists(matching.filter(ticket_id=OuterRef("pk"))))  # common words


def build_matching_messages(text: str) -> QuerySet[Message]:
    """PostgreSQL: the messages whose search_vector matches `text` (websearch syntax), unordered and unscoped."""
    matches = RawSQL(MATCH_SQL, [text], output_field=BooleanField())  # noqa: S611 - constant SQL, text a parameter
    return Message.objects.filter(matches).order_by()


_WORD: Final = re.compile(r"[^\s\"']+")


def _like_matches(text: str) -> QuerySet[Any, Any]:
    """SQLite: tickets where every word occurs (case-insensitively) in the subject or text of one of its messages."""
    tickets = Ticket.objects.all()
    for word in _WORD.findall(text)[:MAX_SQLITE_TERMS]:
        in_messages = Message.objects.filter(Q(subject__icontains=word) | Q(text__icontains=word)).values("ticket_id")
        tickets = tickets.filter(pk__in=in_messages)
    return tickets.values("pk").order_by()


def search_tickets(
    visible: QuerySet[Ticket], filters: TicketFilters, *, cursor: str = "", limit: int = 50
) -> TicketPage:
    """One page of the visible tickets matching `filters`, newest activity first, with the cursor of the next page.

    Two queries: the page (limit + 1 rows, to know whether another follows) and the message counts of its tickets.
    """
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise TicketQueryError(f"limit: between 1 and {MAX_PAGE_SIZE}")
    tickets = filter_tickets(visible, filters)
    if cursor:
        after = decode_cursor(cursor)
        # The first conjunct bounds the index range scan; the second drops the ties already shown.
        tickets = tickets.filter(
            Q(last_message_at__lte=after.last_message_at)
            & (Q(last_message_at__lt=after.last_message_at) | Q(pk__lt=after.ticket_id))
        )
    rows = list(
        tickets.select_related("queue", "requester", "assignee").order_by("-last_message_at", "-id")[: limit + 1]
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(Cursor(rows[-1].last_message_at, rows[-1].pk)) if more else None
    return TicketPage(rows, count_messages([row.pk for row in rows]), next_cursor)


def count_messages(ticket_ids: list[int]) -> dict[int, int]:
    """Messages per ticket for one page, in one grouped query (served by message_timeline_idx)."""
    if not ticket_ids:
        return {}
    rows = Message.objects.filter(ticket_id__in=ticket_ids).values("ticket_id").annotate(n=Count("id")).order_by()
    return {row["ticket_id"]: row["n"] for row in rows}
