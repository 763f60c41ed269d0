"""Every page, action and API endpoint x every role x a ticket in the user's own queue and in another queue.

The matrix is data: each URL pattern (from postroom.urls, and each operation of the API's routers) needs an entry,
so a new endpoint without one fails `test_every_endpoint_is_in_the_matrix`. An outcome is the HTTP status, "login"
for a redirect to the sign-in page, and for list pages "hidden" when the page answered but left the target out.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from matrix import ACT_API, ACT_WEB, ANONYMOUS, LIST, OTHER, OWN, READ, UNFILED, WHO, Case, Target, same, ticket_markers

from ingesting import ingest_raw
from mailfactory import build_mail
from postroom.accounts.models import Role
from postroom.api.urls import api
from postroom.inbound.models import InboundMessage, InboundStatus
from postroom.inbound.routes import add_route
from postroom.inbound.services import receive_message
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import Queue
from staff import make_staff

pytestmark = pytest.mark.django_db

BASE_CASES: Final = (
    Case("login", "GET", lambda t: "/login/", same(200, 200)),
    Case("logout", "POST", lambda t: "/logout/", same("login", "login")),
    Case(
        "ticket-list",
        "GET",
        lambda t: "/?status=",
        {**LIST, ANONYMOUS: ("login", "login")},
        markers=ticket_markers,
    ),
    Case(
        "ticket-list",
        "GET",
        lambda t: f"/?status=&queue={t.ticket.queue.slug if t.ticket else ''}",
        {**READ, ANONYMOUS: ("login", "login")},
    ),
    Case("ticket-detail", "GET", lambda t: f"/tickets/{t.reference}/", {**READ, ANONYMOUS: ("login", "login")}),
    Case(
        "attachment-download",
        "GET",
        lambda t: f"/attachments/{t.attachment_id}/",
        {**READ, ANONYMOUS: ("login", "login")},
    ),
    Case(
        "ticket-reply",
        "POST",
        lambda t: f"/tickets/{t.reference}/reply/",
        {**ACT_WEB, ANONYMOUS: ("login", "login")},
        data={"kind": "note", "text": "Checked the logs."},
    ),
    Case(
        "ticket-status",
        "POST",
        lambda t: f"/tickets/{t.reference}/status/",
        {**ACT_WEB, ANONYMOUS: ("login", "login")},
        data={"status": "pending"},
    ),
    Case(
        "message-headers",
        "GET",
        lambda t: f"/messages/{t.message_id}/headers/",
        {**READ, ANONYMOUS: ("login", "login")},
    ),
    Case(
        "inbound-list",
        "GET",
        lambda t: "/inbound/",
        {**{who: (*row, row[1]) for who, row in LIST.items()}, ANONYMOUS: ("login",) * 3},
        targets=(OWN, OTHER, UNFILED),
        markers=lambda t: (t.inbound.tracking_id,),
    ),
    Case(
        "inbound-trace",
        "GET",
        lambda t: f"/inbound/{t.inbound.tracking_id}/",
        {**{who: (*row, row[1]) for who, row in READ.items()}, ANONYMOUS: ("login",) * 3},
        targets=(OWN, OTHER, UNFILED),
    ),
    Case("api:api-root", "GET", lambda t: "/api/v1/", same(404, 404)),
    Case("api:openapi-json", "GET", lambda t: "/api/openapi.json", same(200, 200)),
    Case("api:openapi-view", "GET", lambda t: "/api/docs", same(200, 200)),
    Case(
        "GET api:list_messages",
        "GET",
        lambda t: f"/api/v1/tickets/{t.reference}/messages",
        {**READ, ANONYMOUS: (401, 401)},
    ),
    Case(
        "POST api:create_reply",
        "POST",
        lambda t: f"/api/v1/tickets/{t.reference}/replies",
        {**ACT_API, ANONYMOUS: (401, 401)},
        data={"text": "Please restart the printer."},
    ),
    Case(
        "POST api:create_note",
        "POST",
        lambda t: f"/api/v1/tickets/{t.reference}/notes",
        {**ACT_API, ANONYMOUS: (401, 401)},
        data={"text": "Called her."},
    ),
)


def _area_cases() -> tuple[Case, ...]:
    """Every `CASES` of the matrix_cases_*.py modules beside this file, in file-name order."""
    cases: list[Case] = []
    for path in sorted(Path(__file__).parent.glob("matrix_cases_*.py")):
        cases.extend(importlib.import_module(path.stem).CASES)
    return tuple(cases)


CASES: Final = (*BASE_CASES, *_area_cases())


def _url_names(patterns: list[URLPattern | URLResolver], namespace: str = "") -> Iterator[str]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _url_names(pattern.url_patterns, pattern.namespace or namespace)
        else:
            yield f"{namespace}:{pattern.name}" if namespace else str(pattern.name)


def _api_operations() -> dict[str, set[str]]:
    """URL name of each API path -> its operations as "METHOD api:name" (one path may carry several methods)."""
    operations: dict[str, set[str]] = {}
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                name = f"api:{operation.view_func.__name__}"
                operations.setdefault(name, set()).update(f"{method} {name}" for method in operation.methods)
    return operations


def test_every_endpoint_is_in_the_matrix() -> None:
    """
    GIVEN the URL configuration and the API's routers
    WHEN their patterns and operations are listed
    THEN each has a matrix entry, and the matrix has none for endpoints that no longer exist
    """
    operations = _api_operations()
    endpoints: set[str] = set()
    for name in _url_names(get_resolver().url_patterns):
        endpoints |= operations.get(name, {name})
    assert endpoints == {case.key for case in CASES}


@pytest.fixture
def targets() -> dict[str, Target]:
    """A ticket in Support, one in Sales (each with its inbound row and message), and quarantined mail."""
    add_route("support@example.com", "Support")
    add_route("sales@example.com", "Sales")
    log = [("log.txt", "text/plain", b"paper jam\n")]
    own = ingest_raw(build_mail(subject="Own question", to="support@example.com", attachments=log))
    other = ingest_raw(build_mail(subject="Other question", to="sales@example.com", attachments=log))
    result = receive_message(build_mail(subject="Stray question"), source_kind="test", enqueue=False)
    InboundMessage.objects.filter(pk=result.inbound_id).update(status=InboundStatus.QUARANTINED, cause="oversized")
    unfiled = InboundMessage.objects.get(pk=result.inbound_id)
    assert own.message and other.message
    return {
        OWN: Target(own.message.ticket, own),
        OTHER: Target(other.message.ticket, other),
        UNFILED: Target(None, unfiled),
    }


def _client(who: str) -> Client:
    """A session of `who`: queue managers and agents belong to Support (the OWN target's queue)."""
    client = Client()
    if who != ANONYMOUS:
        support = Queue.objects.get(slug="support")
        client.force_login(make_staff(Role(who), get_default_tenant(), [support]))
    return client


def _outcome(case: Case, target: Target, response: Any) -> object:
    if response.status_code == 302 and response["Location"].startswith("/login/"):
        return "login"
    if case.markers and response.status_code == 200:
        body = response.content.decode()
        shown = [marker in body for marker in case.markers(target)]
        if not all(shown):
            return "hidden" if not any(shown) else f"partly shown {shown}"
    return response.status_code


def _call(case: Case, client: Client, target: Target) -> object:
    """GET as it is; API calls send JSON; console forms post form data."""
    url = case.url(target)
    if case.method == "GET":
        response = client.get(url)
    elif " api:" in case.key:
        response = client.generic(case.method, url, json.dumps(case.data), content_type="application/json")
    else:
        response = client.post(url, case.data)
    return _outcome(case, target, response)


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.method} {case.key}")
def test_permission_matrix(case: Case, targets: dict[str, Target]) -> None:
    """
    GIVEN a ticket in a queue the queue manager and agent belong to, one in another queue, and quarantined mail
    WHEN each role (and an anonymous visitor) calls the endpoint about each of them
    THEN the status (or redirect to sign in, or a list leaving it out) is the matrix's row for that role
    """
    outcomes = {}
    for who in WHO:
        client = _client(who)
        outcomes[who] = tuple(_call(case, client, targets[name]) for name in case.targets)
    assert outcomes == case.expected


def test_view_only_pages_offer_no_actions_and_refusals_are_problems(targets: dict[str, Target]) -> None:
    """
    GIVEN an auditor and an agent of Support
    WHEN the auditor opens a ticket and posts a note through the API, and the agent asks for a Sales ticket
    THEN the page has no composer or status form, the API answers 403 and 404 as problem details
    """
    auditor, agent = _client(Role.AUDITOR.value), _client(Role.AGENT.value)
    reference = targets[OWN].reference
    page = auditor.get(f"/tickets/{reference}/").content.decode()
    assert "Read only" in page and f"/tickets/{reference}/reply/" not in page and 'name="status"' not in page
    assert f"/tickets/{reference}/reply/" in agent.get(f"/tickets/{reference}/").content.decode()
    refused = auditor.post(f"/api/v1/tickets/{reference}/notes", {"text": "x"}, content_type="application/json")
    assert refused.status_code == 403 and refused["Content-Type"] == "application/problem+json"
    hidden = agent.get(f"/api/v1/tickets/{targets[OTHER].reference}/messages")
    assert hidden.status_code == 404 and hidden.json()["title"] == "Not found"
