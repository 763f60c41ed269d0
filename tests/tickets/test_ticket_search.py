"""The ticket query service: filters, full-text search (PostgreSQL FTS, SQLite LIKE), scoping, keyset pages."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import QuerySet

from postroom.accounts.models import Role
from postroom.accounts.permissions import scope_tickets
from postroom.tenants.services import get_default_tenant
from postroom.tickets import search
from postroom.tickets.models import Ticket
from postroom.tickets.search import (
    MESSAGE_VECTOR_SQL,
    PROBE_LIMIT,
    UNASSIGNED,
    Cursor,
    TicketFilters,
    TicketQueryError,
    build_matching_messages,
    decode_cursor,
    encode_cursor,
    filter_tickets,
    parse_assignee,
    parse_statuses,
    search_tickets,
)
from staff import make_staff
from ticketfactory import AT, add_message, get_queue, make_ticket

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="PostgreSQL full-text search")


def _references(tickets: QuerySet[Ticket] | list[Ticket]) -> set[str]:
    return {ticket.reference for ticket in tickets}


def _all() -> QuerySet[Ticket]:
    return Ticket.objects.all()


def test_filters_narrow_by_each_field() -> None:
    """
    GIVEN tickets differing in status, queue, assignee, priority, requester and dates
    WHEN each filter is applied alone
    THEN exactly the tickets with that value are left
    """
    support, sales = get_queue("Support"), get_queue("Sales")
    ann = get_user_model().objects.create_user("ann")
    new = make_ticket(support, "New one", requester="a@example.org")
    pending = make_ticket(support, "Waiting one", status="pending", assignee=ann, priority="urgent")
    closed = make_ticket(sales, "Done one", status="closed", requester="B@Example.org")
    Ticket.objects.filter(pk=closed.pk).update(created_at=AT - dt.timedelta(days=30))

    def refs(**kwargs: object) -> set[str]:
        return _references(filter_tickets(_all(), TicketFilters(**kwargs)))  # type: ignore[arg-type]

    assert refs(statuses=frozenset({"new", "pending"})) == {new.reference, pending.reference}
    assert refs(queue_id=sales.pk) == {closed.reference}
    assert refs(assignee=ann.pk) == {pending.reference}
    assert refs(assignee=UNASSIGNED) == {new.reference, closed.reference}
    assert refs(priorities=frozenset({"urgent", "high"})) == {pending.reference}
    assert refs(requester_email=" b@example.ORG ") == {closed.reference}
    assert refs(created_before=AT - dt.timedelta(days=1)) == {closed.reference}
    assert refs(created_after=AT - dt.timedelta(days=1)) == {new.reference, pending.reference}
    Ticket.objects.filter(pk=new.pk).update(updated_at=AT - dt.timedelta(days=3))
    assert refs(updated_before=AT - dt.timedelta(days=1)) == {new.reference}
    assert new.reference not in refs(updated_after=AT - dt.timedelta(days=1))


def test_filter_values_are_parsed_or_refused() -> None:
    """GIVEN filter strings WHEN parsed THEN 'active' expands, 'me' is the viewer, and unknown values are refused."""
    assert parse_statuses(["active"]) == frozenset({"new", "open", "pending"})
    assert parse_assignee("me", 7) == 7 and parse_assignee("none", 7) == UNASSIGNED and parse_assignee("", 7) is None
    assert parse_assignee("12", 7) == 12
    with pytest.raises(TicketQueryError, match="status"):
        parse_statuses(["opened"])
    with pytest.raises(TicketQueryError, match="assignee"):
        parse_assignee("someone", 7)


def test_search_finds_words_in_subjects_and_message_text() -> None:
    """
    GIVEN tickets whose words are in the (first message's) subject, in a later message's text, or nowhere
    WHEN searched, in another case and word order
    THEN the tickets holding every word are found, the other is not
    """
    queue = get_queue("Support")
    by_subject = make_ticket(queue, "VPN tunnel drops", "It keeps disconnecting.")
    by_message = make_ticket(queue, "Help", "Hello")
    add_message(by_message, "Since Monday the vpn Tunnel drops every hour.", at=AT + dt.timedelta(hours=1))
    make_ticket(queue, "Printer", "The printer is jammed, not the tunnel.")

    found = filter_tickets(_all(), TicketFilters(text="tunnel VPN"))
    assert _references(found) == {by_subject.reference, by_message.reference}
    assert _references(filter_tickets(_all(), TicketFilters(text="vpn nothing-like-this"))) == set()


def test_search_finds_a_ticket_by_its_reference() -> None:
    """GIVEN two tickets WHEN one's reference is searched THEN that ticket is found."""
    queue = get_queue("Support")
    wanted = make_ticket(queue, "First")
    make_ticket(queue, "Second")
    assert _references(filter_tickets(_all(), TicketFilters(text=wanted.reference))) == {wanted.reference}


def test_search_never_reaches_beyond_the_scope() -> None:
    """
    GIVEN an agent of Support and the same words in a Support ticket and in a Sales ticket's message
    WHEN the agent searches within their visible tickets
    THEN only the Support ticket comes back (the match in Sales is not revealed)
    """
    support, sales = get_queue("Support"), get_queue("Sales")
    agent = make_staff(Role.AGENT, get_default_tenant(), [support])
    own = make_ticket(support, "Invoice question", "Where is invoice 4711?")
    make_ticket(sales, "Quote", "Invoice 4711 was wrong.")
    visible = scope_tickets(Ticket.objects.all(), agent)
    page = search_tickets(visible, TicketFilters(text="invoice 4711"))
    assert _references(page.tickets) == {own.reference}


def test_pages_follow_each_other_without_gaps_or_repeats() -> None:
    """
    GIVEN seven tickets, three of them with the same last activity
    WHEN the list is read three at a time, each page asking for the cursor of the one before
    THEN every ticket appears exactly once, newest activity first and ties by id, and the last page has no cursor
    """
    queue = get_queue("Support")
    times = [AT, AT, AT, AT - dt.timedelta(hours=1), AT + dt.timedelta(hours=1), AT - dt.timedelta(days=1), AT]
    tickets = [make_ticket(queue, f"Ticket {n}", at=at) for n, at in enumerate(times)]
    expected = [t.pk for t in sorted(tickets, key=lambda t: (t.last_message_at, t.pk), reverse=True)]
    seen: list[int] = []
    cursor = ""
    for _ in range(4):
        page = search_tickets(_all(), TicketFilters(), cursor=cursor, limit=3)
        seen += [ticket.pk for ticket in page.tickets]
        assert all(page.message_counts[ticket.pk] == 1 for ticket in page.tickets)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == expected
    assert page.next_cursor is None


def test_cursors_round_trip_and_forged_ones_are_refused() -> None:
    """GIVEN a cursor WHEN decoded THEN it is the same; garbage, naive times and huge ids are refused."""
    cursor = Cursor(AT, 42)
    assert decode_cursor(encode_cursor(cursor)) == cursor
    naive = base64.urlsafe_b64encode(b"2026-11-27T09:00:00|42").decode()
    for bad in ("", "!!!", base64.urlsafe_b64encode(b"yesterday|1").decode(), naive):
        with pytest.raises(TicketQueryError, match="cursor"):
            decode_cursor(bad)
    with pytest.raises(TicketQueryError, match="cursor"):
        decode_cursor(encode_cursor(Cursor(AT, 2**63)))
    with pytest.raises(TicketQueryError, match="limit"):
        search_tickets(_all(), TicketFilters(), limit=101)


@postgres_only
def test_postgres_search_reads_the_gin_index() -> None:
    """
    GIVEN PostgreSQL with the migration's stored search_vector and its GIN index
    WHEN the probe for matching messages is explained (sequential scans discouraged, as on a large table)
    THEN it reads message_search_idx
    """
    make_ticket(get_queue("Support"))
    probe = build_matching_messages("printer jammed").values_list("ticket_id", flat=True)[: PROBE_LIMIT + 1]
    sql, params = probe.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "message_search_idx" in plan, plan


@postgres_only
def test_the_stored_vector_is_the_documented_expression() -> None:
    """GIVEN the catalog WHEN search_vector's generation expression is read THEN it is MESSAGE_VECTOR_SQL's."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a "
            "ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
            "WHERE d.adrelid = 'tickets_message'::regclass AND a.attname = 'search_vector'"
        )
        row = cursor.fetchone()
    assert row is not None
    expression = row[0].replace('"left"', "left").replace("::text", "").replace("(", "").replace(")", "")
    assert expression == MESSAGE_VECTOR_SQL.replace("(", "").replace(")", "")


@postgres_only
@pytest.mark.parametrize("probe_limit", [PROBE_LIMIT, 1])
def test_rare_and_common_words_find_the_same_tickets(monkeypatch: pytest.MonkeyPatch, probe_limit: int) -> None:
    """
    GIVEN tickets where a word occurs in two of three tickets' messages (one ticket with it twice), in any scope
    WHEN searched with the probe treating the word as rare (ids from the index) and as common (EXISTS per ticket)
    THEN both strategies return the same tickets in the same order, within the scope
    """
    monkeypatch.setattr(search, "PROBE_LIMIT", probe_limit)
    support, sales = get_queue("Support"), get_queue("Sales")
    first = make_ticket(support, "Toner", "toner empty", at=AT)
    add_message(first, "still no toner", at=AT + dt.timedelta(minutes=5))
    second = make_ticket(support, "Paper", "toner and paper", at=AT + dt.timedelta(minutes=1))
    make_ticket(support, "Other", "nothing here", at=AT + dt.timedelta(minutes=2))
    make_ticket(sales, "Sales toner", "toner for sales", at=AT + dt.timedelta(minutes=3))
    visible = Ticket.objects.filter(queue=support)
    page = search_tickets(visible, TicketFilters(text="toner"))
    assert [t.pk for t in page.tickets] == [first.pk, second.pk]


@postgres_only
def test_postgres_search_understands_phrases_and_exclusions() -> None:
    """GIVEN two tickets sharing words WHEN searched with a quoted phrase or a -word THEN websearch syntax applies."""
    queue = get_queue("Support")
    phrase = make_ticket(queue, "A", "the mail server is down")
    other = make_ticket(queue, "B", "the server sends no mail")
    assert _references(filter_tickets(_all(), TicketFilters(text='"mail server"'))) == {phrase.reference}
    assert _references(filter_tickets(_all(), TicketFilters(text="server -down"))) == {other.reference}
