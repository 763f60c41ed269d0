"""Decide what a message may do to the ticket it continues: who may add, late replies, reopening, participants."""

from __future__ import annotations

import datetime as dt
from typing import Final

from postroom.inbound.context import InboundContext, StageResult, Stop
from postroom.inbound.models import InboundStatus, QuarantineCause
from postroom.inbound.queries import (
    find_organization_id,
    get_own_addresses,
    is_agent_address,
    list_participant_keys,
)
from postroom.inbound.waivers import Waiver, find_waiver
from postroom.mail.values import Address
from postroom.tickets.models import ClosedReplyPolicy, Ticket, TicketStatus, UnknownSenderPolicy
from postroom.tickets.services import FINISHED_STATUSES

NAME: Final = "admit"


def _collect_participants(ctx: InboundContext) -> tuple[Address, ...]:
    """To/Cc of the message minus our own addresses, the sender and agents (issue #3, item 8)."""
    parsed = ctx.require_parsed()
    own = get_own_addresses(ctx.tenant)
    sender = ctx.requester.address.lower() if ctx.requester else ""
    # The addresses this copy was delivered to are ours whether or not a route names them; with no trace of
    # delivery at all (a file import without routes), the first To address is taken as ours.
    delivered = [*(ctx.inbound.envelope_to or ()), *(person.address for person in parsed.delivered_to)]
    if not delivered and not any(person.address.lower() in own for person in parsed.to) and parsed.to:
        delivered.append(parsed.to[0].address)
    seen: set[str] = {sender, *(address.lower() for address in delivered)}
    people = []
    for person in (*parsed.to, *parsed.cc):
        key = person.address.lower()
        if not key or key in seen or key in own or is_agent_address(key):
            continue
        seen.add(key)
        people.append(person)
    return tuple(people)


def _new_ticket(ctx: InboundContext) -> StageResult:
    reading = ctx.require_reading()
    ctx.participants = _collect_participants(ctx)
    forward = reading.forward
    sender = ctx.requester.address if ctx.requester else ""
    if forward is not None and forward.from_ is not None and forward.from_.address and is_agent_address(sender):
        # An agent forwarded a customer's mail to us: the customer is the requester, not the agent.
        ctx.requester = forward.from_
        return StageResult(
            verdict="new_ticket",
            reason=f"an agent forwarded mail from {forward.from_.address}, who becomes the requester",
            data={"requester": forward.from_.address, "forwarded_by": sender},
        )
    return StageResult(verdict="new_ticket", reason="opens a new ticket", data={"participants": len(ctx.participants)})


def _sender_standing(ctx: InboundContext, ticket: Ticket) -> str | None:
    """Why the sender may add to the ticket, or None when they are a stranger to it."""
    sender = ctx.requester.address.lower() if ctx.requester else ""
    if sender == ticket.requester.email_key:
        return "the requester"
    if sender in list_participant_keys(ticket):
        return "a participant"
    if is_agent_address(sender):
        return "an agent"
    if ticket.queue.allow_organization_followups:
        organization = find_organization_id(ctx.tenant, sender)
        if organization is not None and organization == find_organization_id(ctx.tenant, ticket.requester.email_key):
            return "of the requester's organisation"
    return None


def _stranger(ctx: InboundContext, ticket: Ticket) -> StageResult:
    policy = ticket.queue.unknown_sender_policy
    sender = ctx.requester.address if ctx.requester else "?"
    if policy == UnknownSenderPolicy.QUARANTINE:
        return StageResult(
            verdict="quarantine",
            reason=f"{sender} is not on {ticket.reference} and the queue quarantines such updates",
            data={"ticket": ticket.reference},
            stop=Stop(InboundStatus.QUARANTINED, QuarantineCause.UNKNOWN_SENDER_UPDATE),
        )
    if policy == UnknownSenderPolicy.NEW_TICKET:
        ctx.ticket = None
        ctx.answered_message_id = None
        result = _new_ticket(ctx)
        return StageResult(
            verdict="new_ticket",
            reason=f"{sender} is not on {ticket.reference}; the queue opens a new ticket for strangers",
            data={**result.data, "not_on": ticket.reference},
        )
    ctx.as_note = True
    ctx.reopen = False
    return StageResult(
        verdict="internal_note",
        reason=f"{sender} is not on {ticket.reference}; added as an internal note for an agent to review",
        data={"ticket": ticket.reference},
    )


def _find_stranger_waiver(ctx: InboundContext, ticket: Ticket) -> Waiver | None:
    """An admin released this stranger's update: it continues the ticket as if the sender were on it."""
    if ticket.queue.unknown_sender_policy != UnknownSenderPolicy.QUARANTINE:
        return None  # the queue's policy changed since: a note or a new ticket, as for any stranger now
    return find_waiver(ctx, QuarantineCause.UNKNOWN_SENDER_UPDATE)


def _late_reply(ctx: InboundContext, ticket: Ticket, standing: str) -> StageResult | None:
    """A reply to a resolved or closed ticket, per the queue's policy; None when it simply reopens."""
    policy = ticket.queue.closed_reply_policy
    if policy == ClosedReplyPolicy.NEW_AFTER_DAYS:
        closed_at = ticket.closed_at or ticket.last_message_at
        age = ctx.inbound.received_at - closed_at
        if age <= dt.timedelta(days=ticket.queue.reopen_within_days):
            return None
        policy = ClosedReplyPolicy.NEW_LINKED
        why = f"closed {age.days} days ago, more than {ticket.queue.reopen_within_days}"
    else:
        why = f"{ticket.status}"
    if policy == ClosedReplyPolicy.NEW_LINKED:
        ctx.linked_from = ticket
        ctx.ticket = None
        ctx.answered_message_id = None
        ctx.participants = _collect_participants(ctx)
        return StageResult(
            verdict="new_linked_ticket",
            reason=f"{ticket.reference} is {why}; a new ticket linked to it is opened",
            data={"linked_from": ticket.reference},
        )
    if policy == ClosedReplyPolicy.REJECT:
        from postroom.outbound.notices import send_closed_ticket_notice

        # RFC 3834 section 2: never answer automatic mail, list mail, or mail that asks for no automatic answer.
        answer = ctx.require_reading().automatic.auto_answer_allowed
        if answer and ctx.requester is not None:
            send_closed_ticket_notice(ticket, ctx.requester)
        return StageResult(
            verdict="rejected",
            reason=f"{ticket.reference} is {why} and its queue rejects late replies"
            + ("; a notice was sent" if answer else "; no notice: automatic or list mail, or it asked for none"),
            data={"ticket": ticket.reference, "notice": int(answer)},
            stop=Stop(InboundStatus.PROCESSED),
        )
    return None


def run(ctx: InboundContext) -> StageResult:
    ticket = ctx.ticket
    if ticket is None:
        return _new_ticket(ctx)
    if ctx.as_note:
        ctx.reopen = False
        return StageResult(verdict="internal_note", reason="a reply to an internal notification stays internal")
    standing = _sender_standing(ctx, ticket)
    if standing is None:
        waiver = _find_stranger_waiver(ctx, ticket)
        if waiver is None:
            return _stranger(ctx, ticket)
        standing = f"a sender not on {ticket.reference}, released by {waiver.released_by}"
    reading = ctx.require_reading()
    quiet = reading.automatic.is_automatic or reading.acknowledgement.is_acknowledgement
    if quiet:
        ctx.reopen = False
        what = "an automatic reply" if reading.automatic.is_automatic else "only thanks or acknowledges"
        ctx.participants = _collect_participants(ctx)
        return StageResult(
            verdict="appended_quietly",
            reason=f"from {standing}; {what}, so the ticket's status is left as it is",
            data={"ticket": ticket.reference},
        )
    if ticket.status in FINISHED_STATUSES:
        late = _late_reply(ctx, ticket, standing)
        if late is not None:
            return late
    ctx.participants = _collect_participants(ctx)
    return StageResult(
        verdict="follow_up",
        reason=f"from {standing}" + (f"; reopens {ticket.reference}" if ticket.status != TicketStatus.OPEN else ""),
        data={"ticket": ticket.reference, "participants": len(ctx.participants)},
    )
