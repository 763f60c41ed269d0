"""Sending through Microsoft Graph (outbound/graph_send.py) against the stand-in: the MIME arrives as it was sent,
Bcc recipients are named for Graph, throttling and refusals become the SMTP path's deferred or failed outcomes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default
from typing import Any

import pytest
from connectorkit import build_raw

from graphstandin import GraphStandIn, make_graph_mailbox
from postroom.mail.transport.smtp_values import SendStatus
from postroom.mailboxes.models import Mailbox
from postroom.outbound.graph_send import (
    build_graph_mime,
    build_graph_sender_client,
    find_graph_sending_mailbox,
    send_with_graph,
)
from postroom.tenants.services import get_default_tenant

pytestmark = pytest.mark.django_db

USER = "replies@contoso.onmicrosoft.com"


@pytest.fixture(autouse=True)
def _private_hosts_allowed(settings: Any) -> None:
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, allow_private_hosts=True)


@pytest.fixture
def graph() -> Iterator[GraphStandIn]:
    with GraphStandIn() as standin:
        standin.add_mailbox(USER)
        yield standin


def sending_mailbox(graph: GraphStandIn) -> Mailbox:
    mailbox: Mailbox = make_graph_mailbox(graph, USER, send_via="graph")
    return mailbox


def test_a_reply_sent_through_graph_is_captured_with_its_bcc(graph: GraphStandIn) -> None:
    """
    GIVEN a Graph mailbox that sends through Graph, and a reply to the customer with a Bcc'd colleague
    WHEN the mailbox is looked up by its address and the reply sent
    THEN the stand-in captured the message with the customer in To and the colleague in a Bcc header; SENT
    """
    mailbox = sending_mailbox(graph)
    assert find_graph_sending_mailbox(get_default_tenant(), USER.upper()) == mailbox
    raw = build_raw("Re: printer", sender=USER, to="customer@example.org")
    result = send_with_graph(mailbox, ["customer@example.org", "boss@contoso.com"], raw)
    assert result.status is SendStatus.SENT
    (sent,) = graph.sent
    parsed = message_from_bytes(sent, policy=default)
    assert parsed["To"] == "customer@example.org" and parsed["Bcc"] == "boss@contoso.com"
    assert sent.endswith(raw)


def test_a_mailbox_that_sends_by_smtp_is_not_used() -> None:
    """
    GIVEN a Graph mailbox without send_via graph
    WHEN the sending mailbox for its address is looked up
    THEN there is none (the SMTP relay sends)
    """
    with GraphStandIn() as graph:
        graph.add_mailbox(USER)
        make_graph_mailbox(graph, USER)
    assert find_graph_sending_mailbox(get_default_tenant(), USER) is None


def test_throttling_defers_and_a_refusal_fails(graph: GraphStandIn) -> None:
    """
    GIVEN Graph throttles sendMail for longer than the client waits, then refuses a message it cannot parse
    WHEN the message is sent each time
    THEN the first outcome is DEFERRED (retried later), the second FAILED, each worded in one line
    """
    mailbox = sending_mailbox(graph)
    graph.throttle(1, retry_after=3600, path="/sendMail")
    deferred = send_with_graph(mailbox, ["customer@example.org"], build_raw("Later"))
    assert deferred.status is SendStatus.DEFERRED and "throttled" in deferred.reply and "\n" not in deferred.reply

    graph.sent.clear()

    def broken(mailbox: Mailbox) -> Any:
        client = build_graph_sender_client(mailbox)
        client.user = "nobody@contoso.onmicrosoft.com"  # an unknown mailbox: Graph's 404 ErrorInvalidUser
        return client

    failed = send_with_graph(mailbox, ["customer@example.org"], build_raw("Never"), client_factory=broken)
    assert failed.status is SendStatus.FAILED and "ErrorInvalidUser" in failed.reply
    assert graph.sent == []


def test_build_graph_mime_leaves_a_message_alone_when_headers_name_everyone() -> None:
    """
    GIVEN a message whose To header names its only recipient (in another case)
    WHEN it is prepared for Graph
    THEN its bytes are unchanged
    """
    raw = build_raw("All named", to="customer@example.org")
    assert build_graph_mime(raw, ["Customer@Example.org"]) == raw


def test_an_agents_reply_from_a_graph_sending_address_goes_out_through_graph(
    graph: GraphStandIn, ingest: Any, agent: Any, outbox: Any
) -> None:
    """
    GIVEN a queue whose From address is a Graph mailbox with send_via graph, and an SMTP relay configured too
    WHEN an agent replies to a ticket and the outbox runs
    THEN the stand-in's sendMail captured the reply (the requester in To) and the SMTP relay got nothing
    """
    from mailfactory import build_mail
    from postroom.inbound.routes import add_route
    from postroom.outbound.models import Delivery, DeliveryStatus
    from postroom.outbound.sender import send_due_deliveries
    from postroom.outbound.services import ReplyDraft, send_reply

    sending_mailbox(graph)
    add_route("support@example.com", "Support")
    ticket = ingest(build_mail(message_id="graph-send@mail.example.org")).message.ticket
    ticket.queue.from_address = USER
    ticket.queue.save()
    message = send_reply(ticket.pk, agent, ReplyDraft(text="Sent by Graph."))

    assert send_due_deliveries() == 1
    assert Delivery.objects.get(message=message).status == DeliveryStatus.SENT
    assert outbox.messages == []
    (sent,) = graph.sent
    parsed = message_from_bytes(sent, policy=default)
    assert parsed["To"].addresses[0].addr_spec == "jane.doe@example.org" and USER in parsed["From"]
