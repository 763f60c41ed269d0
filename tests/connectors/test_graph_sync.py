"""The Graph connector's fetch cycle against the stand-in: every page committed once, only new mail on the next
cycle, post-actions only after the commit (a crash in between loses and doubles nothing), expired delta links."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from connectorkit import build_raw

from graphstandin import GraphStandIn, make_graph_mailbox
from postroom.connectors.conf import ConnectorConfigError
from postroom.connectors.graph_conf import GraphFetchConfig, build_graph_client, build_graph_config
from postroom.connectors.graph_sync import build_graph_source_key, run_graph_cycle
from postroom.connectors.models import FolderCursor
from postroom.connectors.sync import LeaseLostError
from postroom.inbound.models import InboundMessage
from postroom.mail.transport.graph_client import GraphClient
from postroom.mailboxes.models import Mailbox

pytestmark = pytest.mark.django_db

USER = "helpdesk@contoso.onmicrosoft.com"


@pytest.fixture(autouse=True)
def _private_hosts_allowed(settings: Any) -> None:
    """The stand-in is on loopback, which the SSRF guard refuses unless the operator allows it."""
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, allow_private_hosts=True)


@pytest.fixture
def graph() -> Iterator[GraphStandIn]:
    with GraphStandIn() as standin:
        standin.add_mailbox(USER)
        yield standin


def graph_mailbox(graph: GraphStandIn, **extra: Any) -> Mailbox:
    mailbox: Mailbox = make_graph_mailbox(graph, USER, **extra)
    return mailbox


def ledger_keys(mailbox: Mailbox) -> list[str]:
    return sorted(InboundMessage.objects.filter(mailbox=mailbox).values_list("source_key", flat=True))


def test_a_first_cycle_commits_every_page_once_and_marks_read_after(graph: GraphStandIn) -> None:
    """
    GIVEN 12 messages in the Inbox and a batch (page size) of 5
    WHEN one cycle runs
    THEN three delta pages were read, 12 ledger rows keyed graph:<mailbox>:<id> exist, each MIME fetched once,
         every message is read on the server, and the folder's cursor holds the delta link
    """
    ids = [graph.deliver(USER, build_raw(f"Ticket {n}")) for n in range(12)]
    mailbox = graph_mailbox(graph, batch=5)
    result = run_graph_cycle(mailbox, build_graph_config(mailbox))
    assert result.created == 12 and result.lag_seconds is not None
    assert len(graph.recorded("/messages/delta")) == 3
    assert ledger_keys(mailbox) == sorted(build_graph_source_key(mailbox.pk, i) for i in ids)
    assert len(graph.recorded("/$value")) == 12
    assert all(m.is_read for m in graph.messages_in(USER))
    cursor = FolderCursor.objects.get(mailbox=mailbox, folder="graph-folder:Inbox")
    assert "$deltatoken=" in cursor.state["delta_link"] and "next_link" not in cursor.state


def test_the_next_cycle_fetches_only_new_mail(graph: GraphStandIn) -> None:
    """
    GIVEN a mailbox synced once
    WHEN two messages arrive and another cycle runs, then a third cycle runs with nothing new
    THEN the second cycle fetches exactly the two new MIMEs, the third none, and no row is doubled
    """
    graph.deliver(USER, build_raw("Old one"))
    mailbox = graph_mailbox(graph, post_action="keep")
    config = build_graph_config(mailbox)
    assert run_graph_cycle(mailbox, config).created == 1
    new = [graph.deliver(USER, build_raw(f"New {n}")) for n in range(2)]
    fetched_before = len(graph.recorded("/$value"))
    assert run_graph_cycle(mailbox, config).created == 2
    assert {r.path.split("/")[-2] for r in graph.recorded("/$value")[fetched_before:]} == set(new)
    assert run_graph_cycle(mailbox, config).created == 0
    assert len(graph.recorded("/$value")) == fetched_before + 2
    assert len(ledger_keys(mailbox)) == 3
    assert not any(m.is_read for m in graph.messages_in(USER))  # keep leaves them as they were


class CrashAfterCommit(GraphClient):
    """A client whose first post-action raises, as if the poller died right after the commit."""

    crashes = 1

    def mark_read(self, message_id: str) -> None:
        if CrashAfterCommit.crashes:
            CrashAfterCommit.crashes -= 1
            raise RuntimeError("poller killed between commit and post-action")
        super().mark_read(message_id)


def test_a_crash_between_commit_and_post_action_loses_and_doubles_nothing(graph: GraphStandIn) -> None:
    """
    GIVEN 4 messages, and a poller that dies after committing the first page but before marking it read
    WHEN the cycle runs (and fails), then a healthy cycle runs
    THEN after the crash the rows are committed but no message is read yet; after the rerun each message has
         exactly one row, every message is read, and no MIME was fetched twice
    """
    for n in range(4):
        graph.deliver(USER, build_raw(f"Crash {n}"))
    mailbox = graph_mailbox(graph, batch=2)
    config = build_graph_config(mailbox)

    def crashing(config: GraphFetchConfig) -> GraphClient:
        base = build_graph_client(config)
        return CrashAfterCommit(user=config.user, tokens=base.tokens, base_url=config.graph_url)

    CrashAfterCommit.crashes = 1
    with pytest.raises(RuntimeError, match="killed"):
        run_graph_cycle(mailbox, config, client_factory=crashing)
    assert len(ledger_keys(mailbox)) == 2  # the first page is stored...
    assert not any(m.is_read for m in graph.messages_in(USER))  # ...and nothing was acted on before that
    fetched = len(graph.recorded("/$value"))

    result = run_graph_cycle(mailbox, config)
    assert result.created == 2
    assert len(ledger_keys(mailbox)) == 4
    assert all(m.is_read for m in graph.messages_in(USER))
    assert len(graph.recorded("/$value")) == fetched + 2  # the committed page was not fetched again


def test_a_lost_lease_commits_nothing_and_acts_on_nothing(graph: GraphStandIn) -> None:
    """
    GIVEN a message, and a poller whose lease ran out
    WHEN the cycle reaches its commit
    THEN LeaseLostError stops it: no row, and the message is still unread on the server
    """
    graph.deliver(USER, build_raw("Not mine any more"))
    mailbox = graph_mailbox(graph)
    with pytest.raises(LeaseLostError):
        run_graph_cycle(mailbox, build_graph_config(mailbox), lease_valid=lambda: False)
    assert ledger_keys(mailbox) == []
    assert not any(m.is_read for m in graph.messages_in(USER))


def test_an_expired_delta_link_resyncs_without_duplicates(graph: GraphStandIn) -> None:
    """
    GIVEN a mailbox synced once (3 messages, kept unread), whose delta link then expires (410)
    WHEN a message arrives and the next cycle runs
    THEN it starts a full round, creates only the new message's row and fetches only its MIME
    """
    for n in range(3):
        graph.deliver(USER, build_raw(f"Before {n}"))
    mailbox = graph_mailbox(graph, post_action="keep", batch=2)
    config = build_graph_config(mailbox)
    run_graph_cycle(mailbox, config)
    graph.expire_delta_tokens()
    graph.deliver(USER, build_raw("After expiry"))
    fetched = len(graph.recorded("/$value"))
    assert run_graph_cycle(mailbox, config).created == 1
    assert 410 in [r.status for r in graph.recorded("/messages/delta")]
    assert len(ledger_keys(mailbox)) == 4
    assert len(graph.recorded("/$value")) == fetched + 1


def test_move_after_commit_keeps_the_immutable_id(graph: GraphStandIn) -> None:
    """
    GIVEN post_action move to Inbox/Done and folders Inbox and Inbox/Done both read
    WHEN two cycles run
    THEN the message is in Done, and reading Done finds the same id in the ledger: one row, one MIME fetch
    """
    done = graph.add_folder(USER, "Done", parent="inbox")
    message_id = graph.deliver(USER, build_raw("File me"))
    mailbox = graph_mailbox(graph, post_action="move", move_to="Inbox/Done", folders=["Inbox", "Inbox/Done"])
    config = build_graph_config(mailbox)
    run_graph_cycle(mailbox, config)
    run_graph_cycle(mailbox, config)
    assert [m.id for m in graph.messages_in(USER, done)] == [message_id]
    assert ledger_keys(mailbox) == [build_graph_source_key(mailbox.pk, message_id)]
    assert len(graph.recorded("/$value")) == 1


def test_bad_settings_are_named(graph: GraphStandIn) -> None:
    """
    GIVEN Graph mailboxes with a missing user, a move without a folder, a plain-http Graph URL, no secret
    WHEN their config is built
    THEN ConnectorConfigError names the setting
    """
    cases = [
        ({"user": ""}, "user"),
        ({"post_action": "move"}, "move_to"),
        ({"graph_url": "http://graph.example.com/v1.0"}, "graph_url"),
    ]
    for extra, word in cases:
        with pytest.raises(ConnectorConfigError, match=word):
            build_graph_config(graph_mailbox(graph, **extra))
    no_secret = graph_mailbox(graph)
    no_secret.secrets = {}
    with pytest.raises(ConnectorConfigError, match="graph_client_secret"):
        build_graph_config(no_secret)
