"""The console's ticket list: filters, search, cursor pages, saved views, bulk actions, the queue overview."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from postroom.accounts.models import Role
from postroom.accounts.services import add_to_queue
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import Queue, Ticket
from postroom.web.models import SavedView
from staff import make_staff
from ticketfactory import AT, get_queue, make_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def queues() -> tuple[Queue, Queue]:
    return get_queue("Support"), get_queue("Sales")


@pytest.fixture
def agent(queues: tuple[Queue, Queue]) -> Any:
    return make_staff(Role.AGENT, get_default_tenant(), [queues[0]], username="agent")


@pytest.fixture
def console(agent: Any) -> Client:
    client = Client()
    client.force_login(agent)
    return client


def _rows(page: str) -> list[str]:
    """The ticket references listed, in order."""
    return re.findall(r'<td class="ref"><a href="/tickets/([^/]+)/">\1</a></td>', page)


def test_filters_and_search(console: Client, agent: Any, queues: tuple[Queue, Queue]) -> None:
    """
    GIVEN Support tickets that are new, closed, urgent, assigned to the agent, and one about a VPN; a Sales ticket
    about a VPN too
    WHEN the agent filters by status, priority, assignee and searches
    THEN each list holds exactly the matching Support tickets (the default shows active ones only)
    """
    support, sales = queues
    new = make_ticket(support, "New one")
    closed = make_ticket(support, "Closed one", status="closed")
    urgent = make_ticket(support, "Urgent one", priority="urgent")
    mine = make_ticket(support, "Mine", assignee=agent)
    vpn = make_ticket(support, "Network", "Our VPN drops")
    make_ticket(sales, "Sales VPN", "Their VPN drops")
    active = {new.reference, urgent.reference, mine.reference, vpn.reference}

    def listed(query: str) -> set[str]:
        response = console.get(f"/?{query}")
        assert response.status_code == 200
        return set(_rows(response.content.decode()))

    assert listed("") == active
    assert listed("status=") == active | {closed.reference}
    assert listed("status=closed") == {closed.reference}
    assert listed("priority=urgent") == {urgent.reference}
    assert listed("assignee=mine") == {mine.reference}
    assert listed("assignee=unassigned") == active - {mine.reference}
    assert listed("q=vpn&status=") == {vpn.reference}
    assert listed(f"q={closed.reference}&status=") == {closed.reference}


def test_search_text_and_subjects_are_escaped(console: Client, queues: tuple[Queue, Queue]) -> None:
    """GIVEN a subject with markup WHEN listed and searched for markup THEN both are shown escaped."""
    make_ticket(queues[0], "<script>alert(1)</script>")
    page = console.get("/?q=<img src=x onerror=alert(1)>").content.decode()
    assert "<img src=x" not in page and "&lt;img src=x" in page
    page = console.get("/").content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_older_pages_follow_by_cursor(console: Client, queues: tuple[Queue, Queue]) -> None:
    """GIVEN 53 tickets WHEN the list and its "Older" link are opened THEN 50 then 3, each once, newest first."""
    tickets = [make_ticket(queues[0], f"Question {n}", at=AT + dt.timedelta(minutes=n)) for n in range(53)]
    first = console.get("/").content.decode()
    older = re.search(r'<a href="([^"]+)" rel="next">Older</a>', first)
    assert older is not None
    second = console.get("/" + older.group(1).replace("&amp;", "&")).content.decode()
    assert _rows(first) + _rows(second) == [t.reference for t in reversed(tickets)]
    assert 'rel="next"' not in second and ">Newest</a>" in second


def test_the_list_reads_the_same_queries_for_5_and_50_tickets(
    console: Client, queues: tuple[Queue, Queue], django_assert_max_num_queries: Any
) -> None:
    """
    GIVEN an agent's list with 5 tickets, then with 50 (assigned, with requesters, in a queue)
    WHEN the list is opened
    THEN the number of queries is the same, and small: nothing is read per ticket
    """
    support = queues[0]
    owner = make_staff(Role.AGENT, get_default_tenant(), [support], username="owner")

    def fill(count: int) -> None:
        for n in range(count):
            make_ticket(support, f"T{n}", requester=f"r{n}@example.org", assignee=owner)

    fill(5)
    with CaptureQueriesContext(connection) as few:
        assert len(_rows(console.get("/").content.decode())) == 5
    fill(45)
    with django_assert_max_num_queries(12), CaptureQueriesContext(connection) as many:
        assert len(_rows(console.get("/").content.decode())) == 50
    assert len(many.captured_queries) == len(few.captured_queries)


def test_saved_views_are_private_and_can_be_replaced_and_deleted(
    console: Client, agent: Any, queues: tuple[Queue, Queue]
) -> None:
    """
    GIVEN the agent saves the current filters (with a cursor, which is not kept) and saves again under the name
    WHEN the list is opened by the agent and by a colleague, and the colleague tries to delete the view
    THEN the agent's sidebar links it with the newer filters, the colleague sees nothing and gets 404; the agent
    can delete it
    """
    saved = console.post("/views/", {"name": "  My   urgent ", "query": "priority=high&cursor=abc"})
    assert saved.status_code == 302 and saved["Location"] == "/?priority=high"
    console.post("/views/", {"name": "My urgent", "query": "priority=urgent&status=&evil=1"})
    view = SavedView.objects.get(user=agent)
    assert (view.name, view.query) == ("My urgent", "status=&priority=urgent")
    assert '<a href="?status=&amp;priority=urgent">My urgent</a>' in console.get("/").content.decode()

    colleague = Client()
    colleague.force_login(make_staff(Role.AGENT, get_default_tenant(), [queues[0]], username="colleague"))
    assert "My urgent" not in colleague.get("/").content.decode()
    assert colleague.post(f"/views/{view.pk}/delete/").status_code == 404
    assert console.post(f"/views/{view.pk}/delete/").status_code == 302
    assert not SavedView.objects.exists()


def test_bulk_actions_change_the_selected_tickets(console: Client, agent: Any, queues: tuple[Queue, Queue]) -> None:
    """
    GIVEN three Support tickets and a colleague in Support; the agent also works in Billing
    WHEN the agent sets the priority of two, assigns them to the colleague, then moves them to Billing
    THEN the two change each time (the move unassigns the colleague, who is not in Billing), the third never
    """
    support = queues[0]
    billing = get_queue("Billing")
    add_to_queue(agent, billing)
    colleague = make_staff(Role.AGENT, get_default_tenant(), [support], username="colleague")
    first, second, third = (make_ticket(support, f"T{n}") for n in range(3))
    selected = [first.pk, second.pk]

    response = console.post("/bulk/", {"ticket": selected, "action": "priority", "priority": "high", "next": "/?x=1"})
    assert response.status_code == 302 and response["Location"] == "/?x=1"
    console.post("/bulk/", {"ticket": selected, "action": "assign", "assignee": str(colleague.pk)})
    assert set(Ticket.objects.filter(assignee=colleague).values_list("pk", flat=True)) == set(selected)
    console.post("/bulk/", {"ticket": selected, "action": "queue", "queue": str(billing.pk)})
    for ticket in Ticket.objects.filter(pk__in=selected):
        assert (ticket.priority, ticket.queue_id, ticket.assignee_id) == ("high", billing.pk, None)
    untouched = Ticket.objects.get(pk=third.pk)
    assert (untouched.priority, untouched.queue_id) == ("normal", support.pk)
    assert "2 of 2 ticket(s) changed." in console.get("/").content.decode()


@pytest.mark.parametrize("case", ["foreign ticket", "foreign queue", "outsider", "no action", "external next"])
def test_bulk_actions_change_nothing_when_one_ticket_is_refused(
    console: Client, queues: tuple[Queue, Queue], case: str
) -> None:
    """
    GIVEN two Support tickets and a Sales ticket, a Sales agent
    WHEN the Support agent's bulk action includes the Sales ticket, moves to Sales, assigns the Sales agent, names
    no action, or asks to go back to another site
    THEN 404 (the Sales ticket is not revealed) or 422 and nothing is changed, or the redirect stays on this site
    """
    support, sales = queues
    outsider = make_staff(Role.AGENT, get_default_tenant(), [sales], username="outsider")
    own = [make_ticket(support, "A"), make_ticket(support, "B")]
    foreign = make_ticket(sales, "C")
    data: dict[str, Any] = {"ticket": [t.pk for t in own], "action": "status", "status": "closed"}
    expected = 422
    if case == "foreign ticket":
        data["ticket"].append(foreign.pk)
        expected = 404
    elif case == "foreign queue":
        data.update(action="queue", queue=str(sales.pk))
    elif case == "outsider":
        data.update(action="assign", assignee=str(outsider.pk))
    elif case == "no action":
        data["action"] = "explode"
    else:
        data["next"] = "https://evil.example/"
        expected = 302
    response = console.post("/bulk/", data)
    assert response.status_code == expected
    if expected == 302:
        assert response["Location"] == "/"
        return
    states = set(Ticket.objects.values_list("status", "queue_id", "assignee_id"))
    assert states == {("new", support.pk, None), ("new", sales.pk, None)}
    if expected == 422:
        assert "Bulk change refused" in response.content.decode()


def test_auditors_see_no_bulk_controls_and_are_refused(queues: tuple[Queue, Queue]) -> None:
    """GIVEN an auditor WHEN the list is opened and a bulk action posted THEN no checkboxes, and 403."""
    ticket = make_ticket(queues[0])
    auditor = Client()
    auditor.force_login(make_staff(Role.AUDITOR, get_default_tenant()))
    page = auditor.get("/").content.decode()
    assert ticket.reference in page and 'name="ticket"' not in page
    assert auditor.post("/bulk/", {"ticket": [ticket.pk], "action": "status", "status": "closed"}).status_code == 403


def test_queue_overview_counts_per_visible_queue(console: Client, agent: Any, queues: tuple[Queue, Queue]) -> None:
    """
    GIVEN Support with two new tickets (one assigned, the older waiting two days), a pending and a closed one;
    Sales with a ticket
    WHEN the Support agent opens the queue overview
    THEN Support shows 3 active, 1 unassigned... and the oldest waiting age; Sales is not listed
    """
    support, sales = queues
    now = dt.datetime.now(dt.UTC)
    make_ticket(support, "Old", at=now - dt.timedelta(days=2, hours=1))
    make_ticket(support, "Assigned", at=now - dt.timedelta(hours=1), assignee=agent)
    make_ticket(support, "Pending", at=now - dt.timedelta(days=9), status="pending", assignee=agent)
    make_ticket(support, "Closed", at=now - dt.timedelta(days=30), status="closed")
    make_ticket(sales, "Sales")
    page = console.get("/queues/").content.decode()
    support_row = r'<th scope="row"><a href="/\?queue=support&amp;status=active">Support</a></th>(.*?)</tr>'
    row = re.search(support_row, page, re.S)
    assert row is not None
    cells = re.findall(r"<td>(.*?)</td>", row.group(1), re.S)
    assert cells[0] == "3" and ">1</a>" in cells[1] and "2\xa0days" in cells[2]
    assert "queue=sales" not in page
