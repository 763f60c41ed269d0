from __future__ import annotations

import dataclasses
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from connectorkit import build_raw, wait_for
from django.test import Client

from graphstandin import GraphStandIn, make_graph_mailbox
from postroom.connectors.health import get_health
from postroom.connectors.leases import list_pollable_mailbox_ids
from postroom.connectors.runner import MailboxRunner
from postroom.inbound.models import InboundMessage

USER = "runner@contoso.onmicrosoft.com"


@pytest.fixture(autouse=True)
def _private_hosts_allowed(settings: Any) -> None:
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, allow_private_hosts=True)


@pytest.mark.django_db(transaction=True)
def test_runner_reads_a_graph_mailbox_and_wakes_on_a_notification() -> None:
    with GraphStandIn() as graph:
        graph.add_mailbox(USER)
        graph.deliver(USER, build_raw("First"))
        graph.validator = lambda url, token: True
        graph.notifier = lambda url, body: (
            Client().post(urlsplit(url).path, json.dumps(body), "application/json").status_code
        )
        mailbox = make_graph_mailbox(graph, USER, poll_seconds=3600, notification_url="https://desk.example.com")
        assert mailbox.pk in list_pollable_mailbox_ids()
        runner = MailboxRunner(mailbox.pk, lambda: True)
        runner.start()
        try:
            wait_for(lambda: InboundMessage.objects.filter(mailbox=mailbox).count() == 1, timeout=10, what="first")
            wait_for(lambda: (h := get_health(mailbox.pk)) and h.last_success_at, timeout=10, what="health")
            wait_for(lambda: graph.subscriptions, timeout=10, what="subscribed")
            graph.deliver(USER, build_raw("Second"))
            wait_for(lambda: InboundMessage.objects.filter(mailbox=mailbox).count() == 2, timeout=10, what="woken")
            graph.expire_tokens()
            graph.deliver(USER, build_raw("Third"))
            wait_for(lambda: InboundMessage.objects.filter(mailbox=mailbox).count() == 3, timeout=10, what="401")
        finally:
            runner.stop()
            runner.join(10)
        assert not runner.is_alive()
