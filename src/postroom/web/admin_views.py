"""Console admin pages: queues (with their policies and members) and routes; mailboxes and users have their own
modules. The rules (docs/architecture/admin.md): admins change everything; auditors see every page read-only;
queue managers see their queues and manage those queues' members; agents and requesters get 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from postroom.accounts.admin_access import (
    can_change_admin,
    can_manage_members,
    can_read_admin,
    get_acting_tenant,
    scope_to_tenant,
    uses_admin_pages,
)
from postroom.accounts.models import AgentProfile, QueueMembership
from postroom.accounts.permissions import MEMBER_ROLES, scope_queues
from postroom.accounts.services import remove_from_queue
from postroom.accounts.staff import add_member
from postroom.inbound.models import Route
from postroom.inbound.route_admin import save_route
from postroom.tickets.models import Queue
from postroom.tickets.queue_settings import QueueInUseError, delete_queue, save_queue
from postroom.web.admin_forms import MemberForm, QueueForm, RouteForm, add_service_errors
from postroom.web.views import console_view

View = Callable[..., HttpResponse]


def admin_page(view: View) -> View:
    """Signed in (else to sign in), with a role that has admin pages (admins, auditors, queue managers; else 403)."""

    @console_view
    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not uses_admin_pages(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def require_reader(request: HttpRequest) -> None:
    """Admins and auditors (queue managers manage members only)."""
    if not can_read_admin(request.user):
        raise PermissionDenied


def require_admin(request: HttpRequest) -> None:
    if not can_change_admin(request.user):
        raise PermissionDenied


def render_admin(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    """Every admin page knows whether it may offer changes (`can_change`) and which section it is (`section`)."""
    context = {"can_change": can_change_admin(request.user), "can_read_all": can_read_admin(request.user), **context}
    return render(request, f"postroom/{template}", context, status=status)


@admin_page
def admin_home(request: HttpRequest) -> HttpResponse:
    return redirect("admin-queue-list")


# --- queues ---------------------------------------------------------------------------------------------------


def _get_queue(request: HttpRequest, pk: int) -> Queue:
    """The queue when the user sees it (404 otherwise: a queue manager sees only the queues they belong to)."""
    return get_object_or_404(scope_queues(Queue.objects.all(), request.user), pk=pk)


@admin_page
def queue_list(request: HttpRequest) -> HttpResponse:
    queues = scope_queues(Queue.objects.all(), request.user).order_by("name")
    return render_admin(request, "admin_queue_list.html", {"queues": queues, "section": "queues"})


def _queue_form_page(request: HttpRequest, queue: Queue, *, creating: bool) -> HttpResponse:
    form = QueueForm(request.POST or None, instance=queue)
    if request.method == "POST":
        require_admin(request)
        if form.is_valid():
            if not creating and not form.cleaned_data.get("slug"):
                form.instance.slug = Queue.objects.get(pk=queue.pk).slug  # empty: keep the short name it has
            try:
                save_queue(form.save(commit=False))
            except ValidationError as e:
                add_service_errors(form, e)
            else:
                return redirect("admin-queue-edit", pk=queue.pk)
    if not can_change_admin(request.user):
        for field in form.fields.values():
            field.disabled = True
    context = {"form": form, "queue": queue, "creating": creating, "section": "queues"}
    return render_admin(request, "admin_queue_form.html", context, status=422 if form.errors else 200)


@admin_page
def queue_create(request: HttpRequest) -> HttpResponse:
    require_admin(request)
    return _queue_form_page(request, Queue(tenant=get_acting_tenant(request.user)), creating=True)


@admin_page
def queue_edit(request: HttpRequest, pk: int) -> HttpResponse:
    queue = _get_queue(request, pk)
    require_reader(request)
    return _queue_form_page(request, queue, creating=False)


@require_POST
@admin_page
def queue_delete(request: HttpRequest, pk: int) -> HttpResponse:
    queue = _get_queue(request, pk)
    require_admin(request)
    try:
        delete_queue(queue)
    except QueueInUseError as e:
        form = QueueForm(instance=queue)
        context = {"form": form, "queue": queue, "creating": False, "section": "queues", "refusal": str(e)}
        return render_admin(request, "admin_queue_form.html", context, status=409)
    return redirect("admin-queue-list")


# --- members --------------------------------------------------------------------------------------------------


def _member_form(queue: Queue, data: Any = None) -> MemberForm:
    """Active queue managers and agents of the queue's tenant may be added; the list offers the non-members."""
    profiles = AgentProfile.objects.filter(tenant_id=queue.tenant_id, role__in=sorted(MEMBER_ROLES))
    eligible = get_user_model().objects.filter(pk__in=profiles.values("user_id"), is_active=True).order_by("username")
    members = QueueMembership.objects.filter(queue=queue).values("user_id")
    return MemberForm(data, eligible=eligible, members=members)


@admin_page
def queue_members(request: HttpRequest, pk: int) -> HttpResponse:
    """A queue's members; admins and the queue's own managers add and remove them (POST), auditors read."""
    queue = _get_queue(request, pk)
    may_manage = can_manage_members(request.user, queue)
    if not (may_manage or can_read_admin(request.user)):
        raise PermissionDenied
    form = _member_form(queue)
    if request.method == "POST":
        if not may_manage:
            raise PermissionDenied
        if remove := request.POST.get("remove"):
            user = get_object_or_404(get_user_model(), pk=int(remove) if remove.isdigit() else 0)
            remove_from_queue(user, queue)
            return redirect("admin-queue-members", pk=queue.pk)
        form = _member_form(queue, request.POST)
        if form.is_valid():
            try:
                add_member(queue, form.cleaned_data["user"])
            except ValidationError as e:
                add_service_errors(form, e, {"user_id": "user"})
            else:
                return redirect("admin-queue-members", pk=queue.pk)
    memberships = QueueMembership.objects.filter(queue=queue).select_related("user").order_by("user__username")
    roles = dict(AgentProfile.objects.filter(user_id__in=memberships.values("user_id")).values_list("user_id", "role"))
    members = [(m.user, roles.get(m.user_id, "")) for m in memberships]
    context = {"queue": queue, "members": members, "form": form, "may_manage": may_manage, "section": "queues"}
    return render_admin(request, "admin_queue_members.html", context, status=422 if form.errors else 200)


# --- routes ---------------------------------------------------------------------------------------------------


def _routes(request: HttpRequest) -> Any:
    return scope_to_tenant(Route.objects.select_related("queue", "mailbox"), request.user)


@admin_page
def route_list(request: HttpRequest) -> HttpResponse:
    require_reader(request)
    routes = _routes(request).order_by("address", "id")
    return render_admin(request, "admin_route_list.html", {"routes": routes, "section": "routes"})


def _route_form_page(request: HttpRequest, route: Route, *, creating: bool) -> HttpResponse:
    form = RouteForm(request.POST or None, instance=route, tenant_id=route.tenant_id)
    if request.method == "POST":
        require_admin(request)
        if form.is_valid():
            try:
                save_route(form.save(commit=False))
            except ValidationError as e:
                add_service_errors(form, e, {"queue_id": "queue", "mailbox_id": "mailbox"})
            else:
                return redirect("admin-route-list")
    if not can_change_admin(request.user):
        for field in form.fields.values():
            field.disabled = True
    context = {"form": form, "route": route, "creating": creating, "section": "routes"}
    return render_admin(request, "admin_route_form.html", context, status=422 if form.errors else 200)


@admin_page
def route_create(request: HttpRequest) -> HttpResponse:
    require_admin(request)
    return _route_form_page(request, Route(tenant=get_acting_tenant(request.user)), creating=True)


@admin_page
def route_edit(request: HttpRequest, pk: int) -> HttpResponse:
    require_reader(request)
    return _route_form_page(request, get_object_or_404(_routes(request), pk=pk), creating=False)


@require_POST
@admin_page
def route_delete(request: HttpRequest, pk: int) -> HttpResponse:
    require_admin(request)
    get_object_or_404(_routes(request), pk=pk).delete()
    return redirect("admin-route-list")
