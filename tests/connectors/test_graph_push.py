"""Push for Graph mailboxes: the notification endpoint's validation handshake and clientState check, and, end to
end over a live server, subscriptions made by the cycle, a notification waking the reader, renewal and removal."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from connectorkit import build_raw
from django.db import connection
from django.test import Client

from graphstandin import GraphStandIn, make_graph_mailbox
from postroom.connectors.graph_conf import build_graph_client, build_graph_config
from postroom.connectors.graph_push import (
    PUSH_CURSOR,
    SUBSCRIPTION_LIFETIME,
    ensure_subscriptions,
    has_pending_notification,
    load_push_row,
    wait_for_graph_notification,
)
from postroom.connectors.graph_sync import run_graph_cycle
from postroom.connectors.models import FolderCursor
from postroom.inbound.models import InboundMessage
from postroom.mailboxes.models import Mailbox

USER = "queue@contoso.onmicrosoft.com"


def graph_mailbox(graph: GraphStandIn, **extra: Any) -> Mailbox:
    mailbox: Mailbox = make_graph_mailbox(graph, USER, **extra)
    return mailbox


@pytest.fixture(autouse=True)
def _private_hosts_allowed(settings: Any) -> None:
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, allow_private_hosts=True)


def _notification(subscription_id: str, client_state: str) -> str:
    return json.dumps(
        {
            "value": [
                {
                    "subscriptionId": subscription_id,
                    "changeType": "created",
                    "resource": "Users/x/Messages/y",
                    "clientState": client_state,
                }
            ]
        }
    )


@pytest.mark.django_db
def test_the_endpoint_answers_the_handshake_and_refuses_a_wrong_client_state() -> None:
    """
    GIVEN a Graph mailbox with a subscription whose clientState is "right-state"
    WHEN Graph's validation request, a notification with the right state, one with a wrong state, one for an
         unknown subscription, a non-notification body, and a request for a mailbox without push arrive
    THEN the token is echoed as text/plain; the right one is 202 and wakes the reader; the others are 403, 403,
         400 and 404, and wake nothing
    """
    with GraphStandIn() as graph:
        graph.add_mailbox(USER)
        mailbox = graph_mailbox(graph)
    row = load_push_row(mailbox.pk)
    row.state = {"subscriptions": {"folder": {"id": "sub-1", "client_state_sha256": _sha("right-state")}}}
    row.save()
    client = Client()
    url = f"/graph/notifications/{mailbox.pk}/"

    handshake = client.post(f"{url}?validationToken=Validation%3A+Testing+client+application", b"", "text/plain")
    assert handshake.status_code == 200 and handshake["Content-Type"].startswith("text/plain")
    assert handshake.content == b"Validation: Testing client application"

    assert client.post(url, _notification("sub-1", "wrong-state"), "application/json").status_code == 403
    assert client.post(url, _notification("sub-2", "right-state"), "application/json").status_code == 403
    assert client.post(url, "not json", "application/json").status_code == 400
    assert not has_pending_notification(mailbox.pk)
    assert client.post(url, _notification("sub-1", "right-state"), "application/json").status_code == 202
    assert has_pending_notification(mailbox.pk)
    assert wait_for_graph_notification(mailbox.pk, threading.Event(), timeout=0.1)

    other = f"/graph/notifications/{mailbox.pk + 1000}/"
    assert client.post(f"{other}?validationToken=x", b"", "text/plain").status_code == 404
    assert client.post(other, _notification("sub-1", "right-state"), "application/json").status_code == 404
    assert client.get(url).status_code == 405


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def graph() -> Iterator[GraphStandIn]:
    with GraphStandIn() as standin:
        standin.add_mailbox(USER)
        yield standin


@pytest.mark.django_db(transaction=True)
def test_push_end_to_end_subscribes_wakes_renews_and_unsubscribes(graph: GraphStandIn, live_server: Any) -> None:
    """
    GIVEN a Graph mailbox whose notification_url is Postroom's (a live server)
    WHEN a cycle runs, then a message arrives, then the subscription nears expiry, then push is switched off
    THEN the cycle created a subscription (Graph's validation request was answered by our endpoint); the
         arrival's notification was accepted and woke a waiting reader, whose next cycle took the message;
         the near-expiry one was renewed, not replaced; and switching off deleted it and stopped the endpoint
    """
    mailbox = graph_mailbox(graph, notification_url=live_server.url, post_action="keep")
    config = build_graph_config(mailbox)
    run_graph_cycle(mailbox, config)
    (sub,) = graph.subscriptions.values()
    inbox = graph.folder_id(USER, "inbox")
    assert sub["resource"] == f"users/{USER}/mailFolders('{inbox}')/messages"
    assert sub["notificationUrl"] == f"{live_server.url}/graph/notifications/{mailbox.pk}/"
    assert sub["changeType"] == "created"
    assert not wait_for_graph_notification(mailbox.pk, threading.Event(), timeout=0.1)

    woken: list[bool] = []

    def wait() -> None:
        try:
            woken.append(wait_for_graph_notification(mailbox.pk, threading.Event(), timeout=30))
        finally:
            connection.close()  # this thread's own database connection

    waiter = threading.Thread(target=wait)
    waiter.start()
    graph.deliver(USER, build_raw("Pushed"))
    waiter.join(35)
    assert woken == [True] and graph.notification_statuses == [202]
    assert run_graph_cycle(mailbox, config).created == 1
    assert not has_pending_notification(mailbox.pk)  # the cycle took note of what it had been woken for

    row = FolderCursor.objects.get(mailbox=mailbox, folder=PUSH_CURSOR)
    later = dt.datetime.fromisoformat(row.state["subscriptions"][inbox]["expires_at"]) - dt.timedelta(hours=1)
    with build_graph_client(config) as client:
        ensure_subscriptions(client, config, {"Inbox": inbox}, now=later)
    (renewed,) = graph.subscriptions.values()
    assert renewed["id"] == sub["id"]
    assert renewed["expirationDateTime"].startswith((later + SUBSCRIPTION_LIFETIME).strftime("%Y-%m-%dT%H:%M"))

    mailbox.settings = {**mailbox.settings, "notification_url": ""}
    mailbox.save()
    run_graph_cycle(mailbox, build_graph_config(mailbox))
    assert graph.subscriptions == {}
    assert not FolderCursor.objects.filter(mailbox=mailbox, folder=PUSH_CURSOR).exists()
    assert InboundMessage.objects.filter(mailbox=mailbox).count() == 1


@pytest.mark.django_db
def test_a_refused_subscription_leaves_polling_working(graph: GraphStandIn) -> None:
    """
    GIVEN a notification_url Graph cannot validate (nothing answers there)
    WHEN the cycle runs
    THEN the mail is still fetched, no subscription exists, and the failure is remembered so the next cycle does
         not ask Graph again at once
    """
    graph.validator = lambda url, token: False
    graph.deliver(USER, build_raw("Polled anyway"))
    mailbox = graph_mailbox(graph, notification_url="https://desk.example.com")
    result = run_graph_cycle(mailbox, build_graph_config(mailbox))
    assert result.created == 1 and graph.subscriptions == {}
    row = FolderCursor.objects.get(mailbox=mailbox, folder=PUSH_CURSOR)
    assert "failed_at" in row.state
    posts = len(graph.recorded("/subscriptions", "POST"))
    run_graph_cycle(mailbox, build_graph_config(mailbox))
    assert len(graph.recorded("/subscriptions", "POST")) == posts
