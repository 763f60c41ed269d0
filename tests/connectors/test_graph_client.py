"""The Graph mail client against the local stand-in: paging and delta links, removed entries, throttling with
Retry-After (timed by the server's clock), a refused token refreshed once, expired delta tokens, sendMail, folders."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from connectorkit import build_raw

from graphstandin import CLIENT_ID, CLIENT_SECRET, TENANT, GraphStandIn
from postroom.mail.transport.graph_client import GraphClient
from postroom.mail.transport.graph_token import ClientCredentialsToken
from postroom.mail.transport.graph_values import (
    GraphAuthError,
    GraphError,
    GraphNotFoundError,
    GraphSyncStateError,
    GraphThrottledError,
)

USER = "support@contoso.onmicrosoft.com"


@pytest.fixture
def graph() -> Iterator[GraphStandIn]:
    with GraphStandIn() as standin:
        standin.add_mailbox(USER)
        yield standin


def make_tokens(graph: GraphStandIn, secret: str = CLIENT_SECRET) -> ClientCredentialsToken:
    return ClientCredentialsToken(
        tenant_id=TENANT, client_id=CLIENT_ID, client_secret=secret, login_url=graph.login_url
    )


@pytest.fixture
def client(graph: GraphStandIn) -> Iterator[GraphClient]:
    with GraphClient(user=USER, tokens=make_tokens(graph), base_url=graph.base_url, max_wait=5) as c:
        yield c


def test_delta_pages_through_next_links_and_ends_with_a_delta_link(graph: GraphStandIn, client: GraphClient) -> None:
    """
    GIVEN 7 messages in the Inbox and a page size of 3
    WHEN a delta round is read
    THEN three pages come (3, 3, 1), the first two with a next link, the last with the delta link, each id once;
         and a round from that delta link lists only the message delivered afterwards
    """
    ids = [graph.deliver(USER, build_raw(f"Paged {n}")) for n in range(7)]
    inbox = client.find_folder("Inbox")
    pages = list(client.iterate_delta(inbox.id, None, page_size=3))
    assert [len(page.items) for page in pages] == [3, 3, 1]
    assert [bool(page.next_link) for page in pages] == [True, True, False]
    assert pages[-1].delta_link and "$deltatoken=" in pages[-1].delta_link
    assert sorted(item.id for page in pages for item in page.items) == sorted(ids)
    delta_requests = graph.recorded("/messages/delta")
    assert all("odata.maxpagesize=3" in ",".join(r.headers["prefer"]) for r in delta_requests)
    assert all('IdType="ImmutableId"' in ",".join(r.headers["prefer"]) for r in delta_requests)

    late = graph.deliver(USER, build_raw("Late"))
    again = list(client.iterate_delta(inbox.id, pages[-1].delta_link, page_size=3))
    assert [item.id for page in again for item in page.items] == [late]


def test_a_round_without_the_created_filter_reports_removed_messages(graph: GraphStandIn, client: GraphClient) -> None:
    """
    GIVEN a finished round without the changeType filter, then one message deleted
    WHEN the next round is read
    THEN it carries that id as an `@removed` entry
    """
    gone = graph.deliver(USER, build_raw("Soon gone"))
    inbox = client.find_folder("inbox")
    first = list(client.iterate_delta(inbox.id, None, page_size=10, created_only=False))
    graph.delete(USER, gone)
    second = list(client.iterate_delta(inbox.id, first[-1].delta_link, page_size=10))
    assert [(item.id, item.removed) for page in second for item in page.items] == [(gone, True)]


def test_throttled_calls_wait_the_retry_after_the_server_asked_for(graph: GraphStandIn, client: GraphClient) -> None:
    """
    GIVEN Graph answers the next two MIME fetches with 429 and `Retry-After: 1`
    WHEN the MIME is fetched
    THEN it arrives, and by the server's own clock each retry came at least 1 s after the 429 before it
    """
    message_id = graph.deliver(USER, build_raw("Throttled"))
    graph.throttle(2, retry_after=1, path="/$value")
    assert b"Subject: Throttled" in client.fetch_mime(message_id)
    calls = graph.recorded("/$value")
    assert [c.status for c in calls] == [429, 429, 200]
    assert calls[1].at - calls[0].at >= 1.0
    assert calls[2].at - calls[1].at >= 1.0


def test_throttling_past_the_cap_gives_up_with_one_plain_line(graph: GraphStandIn) -> None:
    """
    GIVEN Graph keeps answering 429 (more times than the client retries), and another time asks for 300 s
    WHEN calls are made
    THEN GraphThrottledError says how often and how long, without waiting 300 s
    """
    with GraphClient(
        user=USER, tokens=make_tokens(graph), base_url=graph.base_url, max_retries=2, max_wait=5, sleep=lambda s: None
    ) as client:
        graph.throttle(3, retry_after=1, path="/mailFolders/inbox")
        with pytest.raises(GraphThrottledError) as caught:
            client.get_folder("inbox")
        assert "\n" not in str(caught.value) and "3 times" in str(caught.value)
        assert len(graph.recorded("/mailFolders/inbox")) == 3
        graph.throttle(1, retry_after=300, path="/mailFolders/archive")
        with pytest.raises(GraphThrottledError, match="asked to wait 300 s"):
            client.get_folder("archive")


def test_an_expired_token_is_refreshed_and_the_call_retried_once(graph: GraphStandIn, client: GraphClient) -> None:
    """
    GIVEN a working client whose token Graph then considers expired (401 InvalidAuthenticationToken)
    WHEN the next call is made
    THEN a new token is fetched and the call succeeds on its retry
    """
    client.get_folder("inbox")
    assert graph.token_requests == 1
    graph.expire_tokens()
    assert client.get_folder("inbox").display_name == "Inbox"
    assert graph.token_requests == 2
    assert [r.status for r in graph.recorded("/mailFolders/inbox")] == [200, 401, 200]


def test_a_token_refused_twice_is_an_auth_error(graph: GraphStandIn) -> None:
    """
    GIVEN a token source that keeps handing out a token Graph refuses
    WHEN a call is made
    THEN it is retried once and then fails with GraphAuthError naming Graph's code, in one line
    """

    class Stale:
        invalidated = 0

        def access_token(self) -> str:
            return "expired-token"

        def invalidate(self) -> None:
            self.invalidated += 1

    stale = Stale()
    client = GraphClient(user=USER, tokens=stale, base_url=graph.base_url)
    with client, pytest.raises(GraphAuthError, match="401 InvalidAuthenticationToken") as caught:
        client.get_folder("inbox")
    assert stale.invalidated == 1 and "\n" not in str(caught.value)


def test_a_wrong_client_secret_is_worded_without_the_secret(graph: GraphStandIn) -> None:
    """
    GIVEN the app's secret is wrong
    WHEN a call needs a token
    THEN GraphAuthError carries the sign-in service's code and first line, never the secret
    """
    client = GraphClient(user=USER, tokens=make_tokens(graph, "wrong-secret"), base_url=graph.base_url)
    with client, pytest.raises(GraphAuthError, match="invalid_client") as caught:
        client.get_folder("inbox")
    assert "wrong-secret" not in str(caught.value) and "\n" not in str(caught.value)


def test_an_expired_delta_link_is_a_sync_state_error(graph: GraphStandIn, client: GraphClient) -> None:
    """
    GIVEN a stored delta link the server has since forgotten
    WHEN a round starts from it
    THEN GraphSyncStateError (410 SyncStateNotFound) tells the caller to start a new round
    """
    graph.deliver(USER, build_raw("Before expiry"))
    inbox = client.find_folder("Inbox")
    link = list(client.iterate_delta(inbox.id, None, page_size=5))[-1].delta_link
    graph.expire_delta_tokens()
    with pytest.raises(GraphSyncStateError, match="410 SyncStateNotFound"):
        list(client.iterate_delta(inbox.id, link, page_size=5))


def test_links_outside_the_graph_address_are_not_followed(graph: GraphStandIn, client: GraphClient) -> None:
    """
    GIVEN a stored link that points somewhere else
    WHEN a round starts from it
    THEN nothing is sent there (the bearer token stays with Graph)
    """
    with pytest.raises(GraphError, match="outside its own address"):
        list(client.iterate_delta("x", "https://attacker.example/v1.0/delta?$deltatoken=1", page_size=5))


def test_mark_read_move_and_folders(graph: GraphStandIn, client: GraphClient) -> None:
    """
    GIVEN a message in the Inbox and a folder Inbox/Support
    WHEN it is marked read and moved there (immutable ids), and a missing folder is asked for
    THEN the stand-in shows it read in Support under the same id; the missing folder is GraphNotFoundError
    """
    support = graph.add_folder(USER, "Support", parent="inbox")
    message_id = graph.deliver(USER, build_raw("Move me"))
    assert client.find_folder("Inbox/Support").id == support
    client.mark_read(message_id)
    assert client.move(message_id, support) == message_id
    moved = graph.messages_in(USER, support)
    assert [(m.id, m.is_read) for m in moved] == [(message_id, True)]
    with pytest.raises(GraphNotFoundError):
        client.find_folder("Inbox/Nope")
    with pytest.raises(GraphNotFoundError):
        client.mark_read("AAMkADno-such-message")


def test_send_mime_is_base64_text_plain(graph: GraphStandIn, client: GraphClient) -> None:
    """
    GIVEN a composed message
    WHEN it is sent with sendMail
    THEN the stand-in received exactly those bytes, base64 in a text/plain body
    """
    raw = build_raw("Outgoing reply", sender=USER, to="customer@example.org")
    client.send_mime(raw)
    assert graph.sent == [raw]
    (request,) = graph.recorded("/sendMail", "POST")
    assert request.status == 202 and request.headers["content-type"] == ["text/plain"]
    assert base64.b64encode(raw)  # the wire form the stand-in decoded
