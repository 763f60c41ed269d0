"""The tickets and messages API: list and search, read, change, merge, split, raw downloads, rate limits."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from ingesting import ingest_raw
from mailfactory import build_mail
from postroom.accounts.models import Role, TokenScope
from postroom.accounts.tokens import create_token
from postroom.api import ratelimit
from postroom.inbound.routes import add_route
from postroom.outbound.services import ReplyDraft, add_note, send_reply
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import Direction, Message, Queue, Ticket
from staff import make_staff
from ticketfactory import AT, add_message, get_queue, make_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def queues() -> tuple[Queue, Queue]:
    return get_queue("Support"), get_queue("Sales")


@pytest.fixture
def agent(queues: tuple[Queue, Queue]) -> Any:
    """An agent of Support (not of Sales)."""
    return make_staff(Role.AGENT, get_default_tenant(), [queues[0]], username="agent")


@pytest.fixture
def api(agent: Any) -> Client:
    client = Client()
    client.force_login(agent)
    return client


def _patch(client: Client, reference: str, body: dict[str, Any]) -> Any:
    return client.patch(f"/api/v1/tickets/{reference}", body, content_type="application/json")


def _post(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, body, content_type="application/json")


def test_list_filters_searches_and_pages(api: Client, queues: tuple[Queue, Queue]) -> None:
    """
    GIVEN five Support tickets (one pending and urgent, one about a VPN) and one Sales ticket about a VPN
    WHEN the agent lists with filters, searches, and follows next_cursor two at a time
    THEN each answer holds just the matching Support tickets, the pages cover them once, newest first
    """
    support, sales = queues
    tickets = [make_ticket(support, f"Question {n}", at=AT + dt.timedelta(minutes=n)) for n in range(3)]
    urgent = make_ticket(support, "Urgent one", status="pending", priority="urgent", at=AT - dt.timedelta(hours=1))
    vpn = make_ticket(support, "Network", "The VPN drops", at=AT - dt.timedelta(hours=2))
    make_ticket(sales, "Sales network", "The VPN drops too")

    def refs(query: str) -> list[str]:
        response = api.get(f"/api/v1/tickets?{query}")
        assert response.status_code == 200, response.content
        return [item["reference"] for item in response.json()["items"]]

    assert refs("status=pending") == [urgent.reference]
    assert refs("priority=urgent&priority=high") == [urgent.reference]
    assert refs("q=vpn") == [vpn.reference]
    assert refs(f"queue={support.slug}&assignee=none&status=new") == [t.reference for t in reversed(tickets)] + [
        vpn.reference
    ]
    seen: list[str] = []
    url = "/api/v1/tickets?limit=2"
    while url:
        body = api.get(url).json()
        seen += [item["reference"] for item in body["items"]]
        url = f"/api/v1/tickets?limit=2&cursor={body['next_cursor']}" if body["next_cursor"] else ""
    assert seen == [*(t.reference for t in reversed(tickets)), urgent.reference, vpn.reference]
    first = api.get("/api/v1/tickets?limit=1").json()["items"][0]
    assert first["queue"]["slug"] == "support" and first["requester"]["email"] == "jane@example.org"
    assert first["message_count"] == 1 and first["assignee"] is None


@pytest.mark.parametrize(
    "query",
    ["status=opened", "limit=101", "limit=0", "cursor=nonsense", "queue=sales", "queue=nowhere", "assignee=x"],
)
def test_unusable_filters_are_422_problems(api: Client, queues: tuple[Queue, Queue], query: str) -> None:
    """GIVEN the agent WHEN a filter value is unknown, out of range or a foreign queue THEN 422 problem details."""
    response = api.get(f"/api/v1/tickets?{query}")
    assert response.status_code == 422 and response["Content-Type"] == "application/problem+json"


def test_list_reads_a_constant_number_of_queries(
    api: Client, queues: tuple[Queue, Queue], django_assert_max_num_queries: Any
) -> None:
    """GIVEN 50 tickets WHEN a page of 50 is listed THEN a handful of queries, not one per ticket."""
    for n in range(50):
        make_ticket(queues[0], f"Question {n}", at=AT + dt.timedelta(minutes=n))
    with django_assert_max_num_queries(8):
        response = api.get("/api/v1/tickets?limit=50")
    assert len(response.json()["items"]) == 50


def test_get_ticket_hides_a_merged_into_reference_the_user_may_not_see(
    api: Client, queues: tuple[Queue, Queue]
) -> None:
    """GIVEN a Support ticket merged into a Sales ticket WHEN the Support agent reads it THEN merged_into is null."""
    support, sales = queues
    source, target = make_ticket(support, "Source"), make_ticket(sales, "Target")
    Ticket.objects.filter(pk=source.pk).update(merged_into=target, status="closed")
    body = api.get(f"/api/v1/tickets/{source.reference}").json()
    assert body["merged_into"] is None and body["status"] == "closed" and body["participants"] == []


def test_patch_changes_fields_within_the_rules(api: Client, agent: Any, queues: tuple[Queue, Queue]) -> None:
    """
    GIVEN an agent of Support and Billing, a colleague only in Support, and a Support ticket
    WHEN the agent changes status and priority, assigns it to the colleague, then moves it to Billing
    THEN each change is stored; the move unassigns the colleague, who does not work in Billing
    """
    support, _ = queues
    billing = get_queue("Billing")
    from postroom.accounts.services import add_to_queue

    add_to_queue(agent, billing)
    colleague = make_staff(Role.AGENT, get_default_tenant(), [support], username="colleague")
    ticket = make_ticket(support)

    body = _patch(api, ticket.reference, {"status": "pending", "priority": "high", "assignee": colleague.pk}).json()
    assert (body["status"], body["priority"], body["assignee"]["username"]) == ("pending", "high", "colleague")
    body = _patch(api, ticket.reference, {"queue": "billing"}).json()
    assert body["queue"]["slug"] == "billing" and body["assignee"] is None
    body = _patch(api, ticket.reference, {"assignee": "me"}).json()
    assert body["assignee"]["username"] == "agent"
    body = _patch(api, ticket.reference, {"assignee": None}).json()
    assert body["assignee"] is None and body["queue"]["slug"] == "billing"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"queue": "sales"}, "queue"),
        ({"queue": 999_999}, "queue"),
        ({"assignee": "outsider"}, "assignee"),
        ({"status": "done"}, None),
        ({"priority": "asap"}, None),
        ({"assignee": 2**63}, None),
    ],
)
def test_patch_refuses_what_the_agent_may_not_set(
    api: Client, queues: tuple[Queue, Queue], body: dict[str, Any], field: str | None
) -> None:
    """
    GIVEN an agent of Support, a Sales agent and a Support ticket
    WHEN the agent moves it to Sales, to a queue that does not exist, assigns the Sales agent, or sends bad values
    THEN 422 problem details (naming the field where a rule refused it) and the ticket is unchanged
    """
    support, sales = queues
    outsider = make_staff(Role.AGENT, get_default_tenant(), [sales], username="outsider")
    ticket = make_ticket(support)
    if body.get("assignee") == "outsider":
        body = {"assignee": outsider.pk}
    response = _patch(api, ticket.reference, body)
    assert response.status_code == 422 and response["Content-Type"] == "application/problem+json"
    if field:
        assert response.json()["field"] == field
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.queue_id, stored.assignee_id, stored.status, stored.priority) == (support.pk, None, "new", "normal")


def test_merge_and_split_through_the_api(api: Client, queues: tuple[Queue, Queue]) -> None:
    """
    GIVEN two Support tickets and a Sales ticket
    WHEN the agent merges one Support ticket into the other, tries to merge into the Sales ticket, then splits the
    moved message off again
    THEN the merge answers the target with both messages, the Sales merge is a 422 revealing nothing, and the
    split answers 201 with a new ticket linked from the target
    """
    support, sales = queues
    target, source = make_ticket(support, "Target"), make_ticket(support, "Source", "second issue")
    foreign = make_ticket(sales, "Foreign")

    merged = _post(api, f"/api/v1/tickets/{source.reference}/merge", {"into": target.reference})
    assert merged.status_code == 200 and merged.json()["reference"] == target.reference
    assert merged.json()["message_count"] == 3  # two messages and the merge note
    assert Ticket.objects.get(pk=source.pk).merged_into_id == target.pk

    refused = _post(api, f"/api/v1/tickets/{target.reference}/merge", {"into": foreign.reference})
    assert refused.status_code == 422 and "among yours" in refused.json()["detail"]

    moved = Message.objects.get(ticket=target, text="second issue")
    split = _post(api, f"/api/v1/tickets/{target.reference}/split", {"message_id": moved.pk})
    assert split.status_code == 201 and split.json()["linked_from"] == target.reference
    assert Message.objects.get(pk=moved.pk).ticket.reference == split.json()["reference"]


def test_messages_and_their_raw_bytes(api: Client, agent: Any, queues: tuple[Queue, Queue]) -> None:
    """
    GIVEN an ingested Support mail, the agent's reply and note, and a Sales mail
    WHEN the agent reads each message and downloads /raw
    THEN inbound and outbound raw bytes come as a message/rfc822 attachment with nosniff; the note has none (404);
    the Sales message is 404 like one that does not exist
    """
    add_route("support@example.com", "Support")
    add_route("sales@example.com", "Sales")
    raw = build_mail(subject="Raw please", to="support@example.com", body="<b>bold</b> text\n")
    inbound = ingest_raw(raw).message
    foreign = ingest_raw(build_mail(subject="Not yours", to="sales@example.com")).message
    assert inbound and foreign
    reply = send_reply(inbound.ticket_id, agent, ReplyDraft(text="On it."))
    note = add_note(inbound.ticket_id, agent, "internal")

    body = api.get(f"/api/v1/messages/{inbound.pk}").json()
    assert body["ticket"] == inbound.ticket.reference and body["has_raw"] and body["direction"] == "in"
    download = api.get(f"/api/v1/messages/{inbound.pk}/raw")
    assert download.status_code == 200 and download.content == raw
    assert download["Content-Type"] == "message/rfc822" and download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Disposition"].startswith("attachment;")
    sent = api.get(f"/api/v1/messages/{reply.pk}/raw")
    assert sent.status_code == 200 and b"On it." in sent.content and b"Message-ID:" in sent.content
    assert api.get(f"/api/v1/messages/{note.pk}").json()["has_raw"] is False
    assert api.get(f"/api/v1/messages/{note.pk}/raw").status_code == 404
    for hidden in (foreign.pk, 10**12):
        for path in (f"/api/v1/messages/{hidden}", f"/api/v1/messages/{hidden}/raw"):
            response = api.get(path)
            assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"
    assert api.get(f"/api/v1/messages/{2**63}").status_code == 422


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """The rate limiter's clock, set by the test (no waiting for a real minute to pass)."""
    now = [1_800_000_010.0]  # 10 s into a one-minute window
    monkeypatch.setattr(ratelimit, "clock", lambda: now[0])
    cache.clear()
    yield now
    cache.clear()


def test_rate_limit_per_token_and_per_session_user(
    settings: Any, fixed_clock: list[float], agent: Any, queues: tuple[Queue, Queue]
) -> None:
    """
    GIVEN a limit of 3 requests a minute, two tokens of the same agent and the agent's session
    WHEN the first token makes a fourth request in the minute, then the window ends
    THEN the fourth is a 429 problem with Retry-After (the seconds left), the other token and the session are
    unaffected, and the next window admits the first token again
    """
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, api_rate_limit=3)
    make_ticket(queues[0])
    first = create_token(agent, "one", scope=TokenScope.READ).token
    second = create_token(agent, "two", scope=TokenScope.READ).token
    client, session = Client(), Client()
    session.force_login(agent)

    def call(token: str | None) -> Any:
        if token is None:
            return session.get("/api/v1/tickets")
        return client.get("/api/v1/tickets", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert [call(first).status_code for _ in range(3)] == [200, 200, 200]
    refused = call(first)
    assert refused.status_code == 429 and refused["Content-Type"] == "application/problem+json"
    assert refused["Retry-After"] == "50" and refused.json()["status"] == 429
    assert call(second).status_code == 200 and call(None).status_code == 200
    fixed_clock[0] += 50
    assert call(first).status_code == 200


def test_rate_limit_zero_turns_it_off(settings: Any, fixed_clock: list[float], api: Client) -> None:
    """GIVEN POSTROOM_API_RATE_LIMIT=0 WHEN many requests are made in one minute THEN none is refused."""
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, api_rate_limit=0)
    assert {api.get("/api/v1/tickets").status_code for _ in range(20)} == {200}


def test_notes_written_through_the_api_are_notes(api: Client, queues: tuple[Queue, Queue]) -> None:
    """GIVEN a ticket WHEN a note is added THEN it is on the ticket as a note (the older endpoints still work)."""
    ticket = make_ticket(queues[0])
    add_message(ticket, "more", at=AT + dt.timedelta(minutes=1))
    response = _post(api, f"/api/v1/tickets/{ticket.reference}/notes", {"text": "Called her."})
    assert response.status_code == 201
    assert Message.objects.filter(ticket=ticket, direction=Direction.NOTE).count() == 1


def test_the_rate_limit_setting_is_read_and_checked(tmp_path: Any) -> None:
    """GIVEN POSTROOM_API_RATE_LIMIT unset, 120, or -1 WHEN settings load THEN 600, 120, and a ConfigError."""
    from postroom.conf.env import ConfigError, load_settings

    base = {"POSTROOM_HOME": str(tmp_path), "POSTROOM_SECRET_KEY": "x" * 50}
    assert load_settings(base).api_rate_limit == 600
    assert load_settings({**base, "POSTROOM_API_RATE_LIMIT": "120"}).api_rate_limit == 120
    with pytest.raises(ConfigError, match="POSTROOM_API_RATE_LIMIT"):
        load_settings({**base, "POSTROOM_API_RATE_LIMIT": "-1"})
