"""Merging two tickets and splitting a message off: what moves, what is recorded, what is refused, and the locks."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction

from postroom.mail.values import Address
from postroom.tickets.merging import MergeRefusedError, lock_tickets, merge_tickets, split_ticket
from postroom.tickets.models import Direction, ExternalReference, Message, Participant, Ticket
from postroom.tickets.services import add_participants, record_external_references, upsert_contact
from ticketfactory import AT, add_message, get_queue, make_ticket

pytestmark = pytest.mark.django_db
LATER = AT + dt.timedelta(hours=2)


def test_merge_moves_the_conversation_and_closes_the_source() -> None:
    """
    GIVEN two tickets from different requesters, the source with a participant, an external reference, two
    messages and newer activity
    WHEN the source is merged into the target
    THEN the messages, the participant and the reference belong to the target, the source's requester became a
    participant, the target's activity is the newer one, the source is closed and points at the target, and a note
    on each records it
    """
    queue = get_queue("Support")
    agent = get_user_model().objects.create_user("ann")
    target = make_ticket(queue, "Printer jammed", requester="jane@example.org")
    source = make_ticket(queue, "Printer still jammed", requester="john@example.org", at=AT + dt.timedelta(hours=1))
    later = add_message(source, "Any news?", at=LATER)
    carol = upsert_contact(source.tenant, Address("", "carol@example.org"))
    add_participants(source, [carol])
    record_external_references(source, ["4711"])

    result = merge_tickets(source.pk, target.pk, actor_id=agent.pk, at=LATER)

    assert result.moved_messages == 2 and result.target.pk == target.pk
    assert Message.objects.filter(ticket=source, direction=Direction.INBOUND).count() == 0
    assert Message.objects.get(pk=later.pk).ticket_id == target.pk
    emails = set(Participant.objects.filter(ticket=target).values_list("contact__email", flat=True))
    assert emails == {"carol@example.org", "john@example.org"}
    assert not Participant.objects.filter(ticket=source).exists()
    assert list(ExternalReference.objects.filter(ticket=target).values_list("reference", flat=True)) == ["4711"]
    target.refresh_from_db()
    source.refresh_from_db()
    assert target.last_message_at == LATER
    assert (source.status, source.merged_into_id, source.closed_at) == ("closed", target.pk, LATER)
    target_note = Message.objects.get(ticket=target, direction=Direction.NOTE)
    source_note = Message.objects.get(ticket=source, direction=Direction.NOTE)
    assert source.reference in target_note.text and target_note.author_user_id == agent.pk
    assert target.reference in source_note.text


def test_merge_refuses_itself_and_merged_tickets() -> None:
    """GIVEN tickets, one already merged WHEN merged into itself or from/into the merged one THEN refused, unchanged."""
    queue = get_queue("Support")
    first, second, third = (make_ticket(queue, f"T{n}") for n in range(3))
    with pytest.raises(MergeRefusedError, match="itself"):
        merge_tickets(first.pk, first.pk, actor_id=None, at=AT)
    merge_tickets(second.pk, first.pk, actor_id=None, at=AT)
    with pytest.raises(MergeRefusedError, match="already merged"):
        merge_tickets(second.pk, third.pk, actor_id=None, at=AT)
    with pytest.raises(MergeRefusedError, match="already merged"):
        merge_tickets(third.pk, second.pk, actor_id=None, at=AT)
    assert Message.objects.filter(ticket=third).count() == 1


def test_merge_keeps_a_participant_the_target_already_has_once() -> None:
    """GIVEN the same participant on both tickets WHEN merged THEN the target lists them once."""
    queue = get_queue("Support")
    target, source = make_ticket(queue, "A"), make_ticket(queue, "B")
    carol = upsert_contact(target.tenant, Address("", "carol@example.org"))
    add_participants(target, [carol])
    add_participants(source, [carol])
    merge_tickets(source.pk, target.pk, actor_id=None, at=AT)
    assert Participant.objects.filter(ticket=target, contact=carol).count() == 1


def test_split_moves_one_message_to_a_linked_ticket() -> None:
    """
    GIVEN a ticket with a participant and two messages, the second the newest
    WHEN the second message is split off
    THEN a new ticket with the same requester, queue and participant holds it, linked from the original; the
    original's activity falls back to its remaining message, and notes on both record it
    """
    queue = get_queue("Support")
    agent = get_user_model().objects.create_user("ann")
    original = make_ticket(queue, "Printer jammed")
    add_participants(original, [upsert_contact(original.tenant, Address("", "carol@example.org"))])
    second = add_message(original, "Also: my laptop does not boot.", at=LATER, subject="Laptop")

    result = split_ticket(original.pk, second.pk, actor_id=agent.pk, at=LATER, prefix="PR")

    new = Ticket.objects.get(pk=result.new_ticket.pk)
    original.refresh_from_db()
    assert (new.requester_id, new.queue_id, new.linked_from_id, new.subject) == (
        original.requester_id,
        queue.pk,
        original.pk,
        "Laptop",
    )
    assert Message.objects.get(pk=second.pk).ticket_id == new.pk and new.last_message_at == LATER
    assert original.last_message_at == AT
    assert list(new.participants.values_list("contact__email", flat=True)) == ["carol@example.org"]
    assert new.reference in Message.objects.get(ticket=original, direction=Direction.NOTE).text
    assert original.reference in Message.objects.get(ticket=new, direction=Direction.NOTE).text


def test_split_refuses_the_only_message_and_foreign_messages() -> None:
    """GIVEN two one-message tickets WHEN the only message or another ticket's message is split THEN refused."""
    queue = get_queue("Support")
    first, second = make_ticket(queue, "A"), make_ticket(queue, "B")
    only = Message.objects.get(ticket=first)
    with pytest.raises(MergeRefusedError, match="only message"):
        split_ticket(first.pk, only.pk, actor_id=None, at=AT, prefix="PR")
    with pytest.raises(MergeRefusedError, match="not on"):
        split_ticket(second.pk, only.pk, actor_id=None, at=AT, prefix="PR")
    assert Ticket.objects.count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row locks need PostgreSQL")
def test_opposite_merges_queue_instead_of_deadlocking() -> None:
    """
    GIVEN two tickets and a transaction holding the lower id's row lock (as lock_tickets takes it first)
    WHEN another thread merges the pair in the opposite direction (higher into lower)
    THEN it waits for the lower id without having locked the higher one, and completes once the first transaction
    ends
    """
    queue = get_queue("Support")
    low, high = make_ticket(queue, "Low"), make_ticket(queue, "High")
    worker_pid: list[int] = []
    started, finished = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def merge_high_into_low() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                worker_pid.append(cursor.fetchone()[0])
            started.set()
            merge_tickets(high.pk, low.pk, actor_id=None, at=AT)
        except BaseException as e:  # reported to the test thread
            errors.append(e)
        finally:
            connections.close_all()
            started.set()
            finished.set()

    worker = threading.Thread(target=merge_high_into_low)
    try:
        with transaction.atomic():
            lock_tickets([low.pk])
            worker.start()
            assert started.wait(10) and worker_pid
            _wait_until_waiting(worker_pid[0])
            with connection.cursor() as cursor:  # the waiting merge has not locked the higher id
                cursor.execute("SELECT id FROM tickets_ticket WHERE id = %s FOR UPDATE NOWAIT", [high.pk])
            assert not finished.is_set()
    finally:
        worker.join(10)
    assert finished.is_set() and not errors
    assert Ticket.objects.get(pk=high.pk).merged_into_id == low.pk


def _wait_until_waiting(pid: int, timeout: float = 10.0) -> None:
    """Until backend `pid` waits for a lock (pg_locks is read afresh each time, unlike pg_stat_activity)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted", [pid])
            row = cursor.fetchone()
            if row and row[0]:
                return
    pytest.fail("the merge never waited for the row lock")
