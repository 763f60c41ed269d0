"""The console's ticket list: filters, search, saved views, bulk actions, and the queue overview.

The list reads through postroom.tickets.search with the tickets the user may see (scope_tickets), so a search
match in another queue never shows; it pages with the search's keyset cursor. Bulk actions apply the API's rules
(postroom.accounts.change_rules) to every selected ticket first and change nothing when one is refused; the changes
are then made in one transaction, tickets locked in id order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Min, Q
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from postroom.accounts.change_rules import ChangeNotAllowedError, check_changes, list_assignable_users
from postroom.accounts.models import Role
from postroom.accounts.permissions import Access, TicketAccess, User, get_access, get_ticket_access, scope_tickets
from postroom.tickets.changes import TicketChangeError, TicketChanges, update_ticket
from postroom.tickets.models import Queue, Ticket, TicketPriority, TicketStatus
from postroom.tickets.search import (
    ACTIVE,
    ACTIVE_STATUSES,
    TicketFilters,
    TicketPage,
    TicketQueryError,
    parse_assignee,
    search_tickets,
)
from postroom.web import queries
from postroom.web.models import SavedView
from postroom.web.views import console_view

PAGE_SIZE: Final = 50
ACTING_ROLES: Final = frozenset({Role.ADMIN, Role.QUEUE_MANAGER, Role.AGENT})
MAX_BULK: Final = 200  # tickets one bulk action may change (our bound: one transaction, one lock each)
WAITING_STATUSES: Final = (TicketStatus.NEW, TicketStatus.OPEN)  # waiting for us (pending waits for the customer)
LIST_PARAMETERS: Final = ("status", "queue", "assignee", "priority", "q")  # what a saved view keeps


@dataclass(frozen=True, slots=True)
class ListState:
    """The list's filters as the form shows them."""

    status: str  # the status select's value: "active", "" (any) or one status
    queue: Queue | None
    assignee: str  # "", "mine", "unassigned" or a user id
    priority: str
    q: str


def _read_state(request: HttpRequest) -> ListState:
    """The filters from the query string; unknown values fall back to "any" (a bookmark never breaks the page)."""
    params = request.GET
    queue = None
    if slug := params.get("queue", ""):
        queue = get_object_or_404(queries.list_visible_queues(request.user), slug=slug)  # foreign queue: 404
    status = params.get("status", ACTIVE) if "status" in params else ACTIVE
    if status not in {ACTIVE, "", *TicketStatus.values}:
        status = ACTIVE
    assignee = params.get("assignee", "")
    if assignee not in {"", "mine", "unassigned"} and not assignee.isdigit():
        assignee = ""
    priority = params.get("priority", "")
    if priority not in TicketPriority.values:
        priority = ""
    return ListState(status, queue, assignee, priority, params.get("q", "").replace("\x00", "")[:500])


def _filters(state: ListState, viewer_id: int) -> TicketFilters:
    statuses: frozenset[str] = frozenset()
    if state.status == ACTIVE:
        statuses = frozenset(ACTIVE_STATUSES)
    elif state.status:
        statuses = frozenset({state.status})
    assignee = "me" if state.assignee == "mine" else state.assignee
    return TicketFilters(
        statuses=statuses,
        queue_id=state.queue.pk if state.queue else None,
        assignee=parse_assignee(assignee, viewer_id) if len(assignee) < 19 else None,
        priorities=frozenset({state.priority}) if state.priority else frozenset(),
        text=state.q,
    )


def _query_without(request: HttpRequest, *names: str) -> QueryDict:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query


def _user_tenant(access: Access, queues: list[Queue]) -> int | None:
    return access.tenant_id if access.tenant_id is not None else (queues[0].tenant_id if queues else None)


def _list_context(request: HttpRequest, state: ListState, page: TicketPage) -> dict[str, Any]:
    access = get_access(request.user)
    queues = list_queues_with_active_counts(request.user)
    can_act = access.role in ACTING_ROLES
    tenant_id = _user_tenant(access, queues)
    assignable = (
        list(list_assignable_users(tenant_id, [queue.pk for queue in queues]))
        if tenant_id is not None and queues
        else []
    )
    for ticket in page.tickets:
        ticket.message_count = page.message_counts.get(ticket.pk, 0)  # type: ignore[attr-defined]
    saved_query = _query_without(request, "cursor")
    next_query = _query_without(request, "cursor")
    if page.next_cursor:
        next_query["cursor"] = page.next_cursor
    return {
        "queues": queues,
        "queue": state.queue,
        "state": state,
        "status": state.status,
        "statuses": TicketStatus.choices,
        "priorities": TicketPriority.choices,
        "tickets": page.tickets,
        "next_url": f"?{next_query.urlencode()}" if page.next_cursor else "",
        "first_url": f"?{saved_query.urlencode()}" if "cursor" in request.GET else "",
        "saved_views": SavedView.objects.filter(user_id=int(request.user.pk or 0)),
        "current_query": saved_query.urlencode(),
        "list_url": request.get_full_path(),
        "can_act": can_act,
        "assignable": assignable,
        "assignee_names": {str(user.pk): user.get_full_name() or user.get_username() for user in assignable},
    }


def _render_list(request: HttpRequest, *, status: int = 200, error: str = "") -> HttpResponse:
    state = _read_state(request)
    visible = scope_tickets(Ticket.objects.all(), request.user)
    try:
        page = search_tickets(
            visible, _filters(state, int(request.user.pk or 0)), cursor=request.GET.get("cursor", ""), limit=PAGE_SIZE
        )
    except TicketQueryError:  # a stale or edited cursor: start from the first page
        page = search_tickets(visible, _filters(state, int(request.user.pk or 0)), limit=PAGE_SIZE)
    context = _list_context(request, state, page)
    context["error"] = error
    return render(request, "postroom/ticket_list.html", context, status=status)


@console_view
def ticket_list(request: HttpRequest) -> HttpResponse:
    return _render_list(request)


def _safe_next(request: HttpRequest) -> str:
    """Back to the list the form was posted from (only a path on this site)."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("ticket-list")


def _parse_ids(values: list[str]) -> list[int]:
    return sorted({int(value) for value in values if value.isdigit() and len(value) < 19})


def _requested_changes(post: QueryDict, viewer_id: int) -> dict[str, Any]:
    """The bulk action as keyword arguments of check_changes; ValueError names a value that cannot be used."""
    action = post.get("action", "")
    if action == "status":
        if post.get("status") not in TicketStatus.values:
            raise ValueError("choose a status")
        return {"status": post["status"]}
    if action == "priority":
        if post.get("priority") not in TicketPriority.values:
            raise ValueError("choose a priority")
        return {"priority": post["priority"]}
    if action == "assign":
        raw = post.get("assignee", "")
        if raw == "unassigned":
            return {"assignee_id": None}
        if raw == "mine":
            return {"assignee_id": viewer_id}
        if raw.isdigit() and len(raw) < 19:
            return {"assignee_id": int(raw)}
        raise ValueError("choose someone to assign")
    if action == "queue":
        raw = post.get("queue", "")
        if raw.isdigit() and len(raw) < 19:
            return {"queue_id": int(raw)}
        raise ValueError("choose a queue")
    raise ValueError("choose an action")


@require_POST
@console_view
def ticket_bulk(request: HttpRequest) -> HttpResponse:
    """Change status, priority, assignee or queue of the selected tickets: all of them, or none (422)."""
    if get_access(request.user).role not in ACTING_ROLES:
        raise PermissionDenied  # view-only roles act on nothing
    ids = _parse_ids(request.POST.getlist("ticket"))
    if not ids:
        messages.warning(request, "Select tickets first.")
        return redirect(_safe_next(request))
    if len(ids) > MAX_BULK:
        return _render_bulk_error(request, f"at most {MAX_BULK} tickets at once")
    tickets = list(scope_tickets(Ticket.objects.filter(pk__in=ids), request.user).order_by("pk"))
    if len(tickets) != len(ids):
        raise Http404("no such ticket")  # one of them does not exist or is not visible: the same answer
    if any(get_ticket_access(request.user, ticket) is not TicketAccess.ACT for ticket in tickets):
        raise PermissionDenied
    try:
        requested = _requested_changes(request.POST, int(request.user.pk or 0))
    except ValueError as e:
        return _render_bulk_error(request, str(e))
    planned: list[tuple[Ticket, TicketChanges]] = []
    refused: list[str] = []
    assignees: dict[int, Access | None] = {}
    for ticket in tickets:
        try:
            planned.append((ticket, check_changes(request.user, ticket, assignees=assignees, **requested)))
        except ChangeNotAllowedError as e:
            refused.append(f"{ticket.reference}: {e}")
    if refused:
        return _render_bulk_error(request, "nothing was changed; " + "; ".join(refused))
    now = timezone.now()
    try:
        with transaction.atomic():
            changed = sum(bool(update_ticket(ticket.pk, changes, now)[1]) for ticket, changes in planned)
    except TicketChangeError as e:
        return _render_bulk_error(request, f"nothing was changed; {e}")
    messages.success(request, f"{changed} of {len(planned)} ticket(s) changed.")
    return redirect(_safe_next(request))


def _render_bulk_error(request: HttpRequest, error: str) -> HttpResponse:
    """The list the form came from, with the refusal (422): its filters travel in `next`."""
    target = _safe_next(request)
    request.GET = QueryDict(target.partition("?")[2])
    return _render_list(request, status=422, error=f"Bulk change refused: {error}.")


def _saved_query(raw: str) -> str:
    """Only the list's own parameters (no cursor), re-encoded."""
    source = QueryDict(raw[:1000])
    kept = QueryDict(mutable=True)
    for name in LIST_PARAMETERS:
        for value in source.getlist(name):
            kept.appendlist(name, value)
    return kept.urlencode()


@require_POST
@console_view
def saved_view_create(request: HttpRequest) -> HttpResponse:
    """Save the list's current filters under a name (the same name replaces the earlier view)."""
    name = " ".join(request.POST.get("name", "").split())[:80]
    query = _saved_query(request.POST.get("query", ""))
    if not name:
        messages.warning(request, "Give the view a name.")
        return redirect(f"{reverse('ticket-list')}?{query}")
    SavedView.objects.update_or_create(user_id=int(request.user.pk or 0), name=name, defaults={"query": query})
    messages.success(request, f"Saved view “{name}”.")
    return redirect(f"{reverse('ticket-list')}?{query}")


@require_POST
@console_view
def saved_view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    view = get_object_or_404(SavedView, pk=pk, user_id=int(request.user.pk or 0))  # another user's view: 404
    view.delete()
    messages.success(request, f"Deleted view “{view.name}”.")
    return redirect(_safe_next(request))


@dataclass(frozen=True, slots=True)
class QueueLoad:
    queue: Queue
    active: int
    unassigned: int
    oldest_waiting_since: dt.datetime | None


def list_queue_load(user: User) -> list[QueueLoad]:
    """Per visible queue: active tickets, the unassigned ones among them, and the oldest waiting ticket's activity.

    One grouped query over the active tickets (served by ticket_list_idx) rather than a join from every queue to
    all of its tickets, closed ones included; queues without active tickets show zeros."""
    rows = (
        scope_tickets(Ticket.objects.filter(status__in=sorted(ACTIVE_STATUSES)), user)
        .order_by()
        .values("queue_id")
        .annotate(
            active=Count("id"),
            unassigned=Count("id", filter=Q(assignee__isnull=True)),
            oldest=Min("last_message_at", filter=Q(status__in=WAITING_STATUSES)),
        )
    )
    load: dict[int, QueueLoad] = {}
    queues = list(queries.list_visible_queues(user).order_by("name"))
    by_id = {queue.pk: queue for queue in queues}
    for row in rows:
        if row["queue_id"] in by_id:
            queue = by_id[row["queue_id"]]
            load[queue.pk] = QueueLoad(queue, row["active"], row["unassigned"], row["oldest"])
    return [load.get(queue.pk, QueueLoad(queue, 0, 0, None)) for queue in queues]


def list_queues_with_active_counts(user: User) -> list[Queue]:
    """The visible queues by name, each with `open_count`: its active tickets (one grouped count, no join)."""
    counts = dict(
        scope_tickets(Ticket.objects.filter(status__in=sorted(ACTIVE_STATUSES)), user)
        .order_by()
        .values("queue_id")
        .annotate(n=Count("id"))
        .values_list("queue_id", "n")
    )
    queues = list(queries.list_visible_queues(user).order_by("name"))
    for queue in queues:
        queue.open_count = counts.get(queue.pk, 0)  # type: ignore[attr-defined]
    return queues


@console_view
def queue_overview(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "postroom/queue_overview.html",
        {"rows": list_queue_load(request.user), "now": timezone.now()},
    )
