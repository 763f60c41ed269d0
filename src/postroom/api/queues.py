"""API: queues (with their policy settings and members), routes, and the users who work in the queues.

Mounted at /v1: /queues, /queues/{id}/members/{user_id}, /routes, /users. Roles (docs/architecture/admin.md):
admins change everything; auditors read everything and change nothing; queue managers list their queues and
manage the members of the queues they belong to; agents list their queues' names; requesters get 403.
A queue the caller does not see answers 404. Queues are named by slug in request bodies.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status

from postroom.accounts.admin_access import (
    can_manage_members,
    can_read_admin,
    can_read_members,
    get_acting_tenant,
    scope_to_tenant,
)
from postroom.accounts.models import AgentProfile, QueueMembership
from postroom.accounts.permissions import scope_queues
from postroom.accounts.services import remove_from_queue
from postroom.accounts.staff import StaffChange, add_member, change_staff_user, create_staff_user, list_staff
from postroom.api.admin_common import (
    QueueRef,
    Text,
    conflict_response,
    invalid_response,
    require_admin,
    require_console,
    require_reader,
)
from postroom.inbound.models import Route
from postroom.inbound.route_admin import save_route
from postroom.tickets.models import ClosedReplyPolicy, Queue, UnknownSenderPolicy
from postroom.tickets.queue_settings import QueueInUseError, delete_queue, save_queue

router = Router(tags=["queues"])


# --- queues ---------------------------------------------------------------------------------------------------


class QueueSettingsOut(Schema):
    from_address: str
    from_name: str
    signature: str
    reply_to_token: bool
    unknown_sender_policy: UnknownSenderPolicy
    allow_organization_followups: bool
    closed_reply_policy: ClosedReplyPolicy
    reopen_within_days: int
    foreign_reference_patterns: list[str]


class QueueSettingsIn(Schema):
    from_address: Text | None = None
    from_name: Text | None = None
    signature: Text | None = None
    reply_to_token: bool | None = None
    unknown_sender_policy: UnknownSenderPolicy | None = None
    allow_organization_followups: bool | None = None
    closed_reply_policy: ClosedReplyPolicy | None = None
    reopen_within_days: int | None = None
    foreign_reference_patterns: list[Text] | None = None


class QueueOut(Schema):
    id: int
    slug: str
    name: str
    is_default: bool
    settings: QueueSettingsOut | None  # None for agents and queue managers: they see names only


class QueueIn(Schema):
    name: Text
    slug: Text = ""
    is_default: bool = False
    settings: QueueSettingsIn | None = None


class QueuePatch(Schema):
    name: Text | None = None
    slug: Text | None = None
    is_default: bool | None = None
    settings: QueueSettingsIn | None = None


def _queue_out(queue: Queue, *, full: bool) -> QueueOut:
    settings = QueueSettingsOut.model_validate(queue, from_attributes=True) if full else None
    return QueueOut(id=queue.pk, slug=queue.slug, name=queue.name, is_default=queue.is_default, settings=settings)


def _get_visible_queue(request: HttpRequest, queue_id: int) -> Queue:
    require_console(request)
    return get_object_or_404(scope_queues(Queue.objects.all(), request.user), pk=queue_id)


def _apply_queue(queue: Queue, payload: QueueIn | QueuePatch) -> None:
    for name, value in payload.model_dump(exclude_unset=True, exclude={"settings"}).items():
        if value is not None:
            setattr(queue, name, value)
    if payload.settings is not None:
        for name, value in payload.settings.model_dump(exclude_unset=True).items():
            if value is not None:
                setattr(queue, name, value)


@router.get("/queues", response=list[QueueOut])
def list_queues(request: HttpRequest) -> list[QueueOut]:
    """Admins and auditors: every queue with its settings; queue managers and agents: their queues' names."""
    require_console(request)
    full = can_read_admin(request.user)
    return [_queue_out(q, full=full) for q in scope_queues(Queue.objects.all(), request.user).order_by("name")]


@router.get("/queues/{queue_id}", response=QueueOut)
def get_queue(request: HttpRequest, queue_id: int) -> QueueOut:
    return _queue_out(_get_visible_queue(request, queue_id), full=can_read_admin(request.user))


@router.post("/queues", response={201: QueueOut})
def create_queue(request: HttpRequest, payload: QueueIn) -> Status[QueueOut] | HttpResponse:
    require_admin(request)
    queue = Queue(tenant=get_acting_tenant(request.user))
    _apply_queue(queue, payload)
    try:
        save_queue(queue)
    except ValidationError as e:
        return invalid_response(e)
    return Status(201, _queue_out(queue, full=True))


@router.patch("/queues/{queue_id}", response=QueueOut)
def update_queue(request: HttpRequest, queue_id: int, payload: QueuePatch) -> QueueOut | HttpResponse:
    require_admin(request)
    queue = _get_visible_queue(request, queue_id)
    _apply_queue(queue, payload)
    try:
        save_queue(queue)
    except ValidationError as e:
        return invalid_response(e)
    return _queue_out(queue, full=True)


@router.delete("/queues/{queue_id}", response={204: None})
def remove_queue(request: HttpRequest, queue_id: int) -> Status[None] | HttpResponse:
    require_admin(request)
    queue = _get_visible_queue(request, queue_id)
    try:
        delete_queue(queue)
    except QueueInUseError as e:
        return conflict_response("The queue is in use", str(e))
    return Status(204, None)


# --- members --------------------------------------------------------------------------------------------------


class MemberOut(Schema):
    user_id: int
    username: str
    name: str
    role: str


def _member_out(user: Any, role: str) -> MemberOut:
    return MemberOut(user_id=user.pk, username=user.get_username(), name=user.get_full_name(), role=role)


def _get_member_queue(request: HttpRequest, queue_id: int, *, change: bool) -> Queue:
    """404 when the queue is not visible; 403 unless the caller may read (or, with `change`, manage) its members."""
    queue = _get_visible_queue(request, queue_id)
    allowed = can_manage_members if change else can_read_members
    if not allowed(request.user, queue):
        raise PermissionDenied("Only admins and the queue's managers manage its members." if change else "")
    return queue


@router.get("/queues/{queue_id}/members", response=list[MemberOut])
def list_members(request: HttpRequest, queue_id: int) -> list[MemberOut]:
    queue = _get_member_queue(request, queue_id, change=False)
    memberships = QueueMembership.objects.filter(queue=queue).select_related("user").order_by("user__username")
    roles = dict(AgentProfile.objects.filter(user_id__in=memberships.values("user_id")).values_list("user_id", "role"))
    return [_member_out(m.user, roles.get(m.user_id, "")) for m in memberships]


@router.put("/queues/{queue_id}/members/{user_id}", response=MemberOut)
def add_queue_member(request: HttpRequest, queue_id: int, user_id: int) -> MemberOut | HttpResponse:
    """Idempotent: the user is a member afterwards, whether they were before or not."""
    queue = _get_member_queue(request, queue_id, change=True)
    user = get_object_or_404(get_user_model(), pk=user_id)
    try:
        add_member(queue, user)
    except ValidationError as e:
        return invalid_response(e)
    profile = AgentProfile.objects.filter(user_id=user.pk).only("role").first()
    return _member_out(user, profile.role if profile else "")


@router.delete("/queues/{queue_id}/members/{user_id}", response={204: None})
def remove_queue_member(request: HttpRequest, queue_id: int, user_id: int) -> Status[None]:
    queue = _get_member_queue(request, queue_id, change=True)
    user = get_object_or_404(get_user_model(), pk=user_id)
    remove_from_queue(user, queue)
    return Status(204, None)


# --- routes ---------------------------------------------------------------------------------------------------


class RouteOut(Schema):
    id: int
    address: str
    queue: QueueRef
    mailbox_id: int | None


class RouteIn(Schema):
    address: Text
    queue: Text  # the queue's slug
    mailbox_id: int | None = None


class RoutePatch(Schema):
    address: Text | None = None
    queue: Text | None = None
    mailbox_id: int | None = None


def _route_out(route: Route) -> RouteOut:
    queue = route.queue
    return RouteOut(
        id=route.pk,
        address=route.address,
        queue=QueueRef(id=queue.pk, slug=queue.slug, name=queue.name),
        mailbox_id=route.mailbox_id,
    )


def _find_queue_id(tenant_id: int, slug: str) -> int | None:
    return Queue.objects.filter(tenant_id=tenant_id, slug=slug).values_list("pk", flat=True).first()


def _routes(request: HttpRequest) -> Any:
    return scope_to_tenant(Route.objects.select_related("queue"), request.user)


@router.get("/routes", response=list[RouteOut])
def list_routes(request: HttpRequest) -> list[RouteOut]:
    require_reader(request)
    return [_route_out(route) for route in _routes(request).order_by("address", "id")]


@router.get("/routes/{route_id}", response=RouteOut)
def get_route(request: HttpRequest, route_id: int) -> RouteOut:
    require_reader(request)
    return _route_out(get_object_or_404(_routes(request), pk=route_id))


def _save_route(route: Route, payload: RouteIn | RoutePatch) -> RouteOut | HttpResponse:
    fields = payload.model_dump(exclude_unset=True)
    if fields.get("address") is not None:
        route.address = fields["address"]
    if fields.get("queue") is not None:
        route.queue_id = _find_queue_id(route.tenant_id, fields["queue"])  # type: ignore[assignment]
    if "mailbox_id" in fields:
        route.mailbox_id = fields["mailbox_id"]
    try:
        save_route(route)
    except ValidationError as e:
        return invalid_response(e)
    route.refresh_from_db()
    return _route_out(route)


@router.post("/routes", response={201: RouteOut})
def create_route(request: HttpRequest, payload: RouteIn) -> Status[RouteOut] | HttpResponse:
    require_admin(request)
    outcome = _save_route(Route(tenant=get_acting_tenant(request.user)), payload)
    return Status(201, outcome) if isinstance(outcome, RouteOut) else outcome


@router.patch("/routes/{route_id}", response=RouteOut)
def update_route(request: HttpRequest, route_id: int, payload: RoutePatch) -> RouteOut | HttpResponse:
    require_admin(request)
    return _save_route(get_object_or_404(_routes(request), pk=route_id), payload)


@router.delete("/routes/{route_id}", response={204: None})
def delete_route(request: HttpRequest, route_id: int) -> Status[None]:
    require_admin(request)
    get_object_or_404(_routes(request), pk=route_id).delete()
    return Status(204, None)


# --- users ----------------------------------------------------------------------------------------------------


class UserOut(Schema):
    id: int
    username: str
    email: str
    first_name: str
    last_name: str
    role: str | None
    is_active: bool
    queues: list[QueueRef]


class UserIn(Schema):
    username: Text
    password: Text
    email: Text = ""
    first_name: Text = ""
    last_name: Text = ""
    role: Text = "agent"
    queues: list[Text] = []  # slugs
    is_active: bool = True


class UserPatch(Schema):
    email: Text | None = None
    first_name: Text | None = None
    last_name: Text | None = None
    password: Text | None = None
    role: Text | None = None
    queues: list[Text] | None = None
    is_active: bool | None = None


def _user_out(user: Any) -> UserOut:
    profile = getattr(user, "agent_profile", None)
    queues = [m.queue for m in user.queue_memberships.all()]
    return UserOut(
        id=user.pk,
        username=user.get_username(),
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        role=profile.role if profile else None,
        is_active=user.is_active,
        queues=[QueueRef(id=q.pk, slug=q.slug, name=q.name) for q in sorted(queues, key=lambda q: q.name)],
    )


def _staff(request: HttpRequest) -> Any:
    return list_staff(get_acting_tenant(request.user).pk)


def _queue_ids(tenant_id: int, slugs: list[str] | None) -> tuple[int, ...] | None:
    """The ids for these slugs; an unknown slug becomes -1, which the validation reports as no such queue."""
    if slugs is None:
        return None
    known = dict(Queue.objects.filter(tenant_id=tenant_id, slug__in=slugs).values_list("slug", "pk"))
    return tuple(known.get(slug, -1) for slug in slugs)


@router.get("/users", response=list[UserOut])
def list_users(request: HttpRequest) -> list[UserOut]:
    require_reader(request)
    return [_user_out(user) for user in _staff(request)]


@router.get("/users/{user_id}", response=UserOut)
def get_user(request: HttpRequest, user_id: int) -> UserOut:
    require_reader(request)
    return _user_out(get_object_or_404(_staff(request), pk=user_id))


@router.post("/users", response={201: UserOut})
def create_user(request: HttpRequest, payload: UserIn) -> Status[UserOut] | HttpResponse:
    require_admin(request)
    tenant = get_acting_tenant(request.user)
    change = StaffChange(
        role=payload.role,
        queue_ids=_queue_ids(tenant.pk, payload.queues),
        is_active=payload.is_active,
        email=payload.email,
        first_name=payload.first_name,
        last_name=payload.last_name,
        password=payload.password,
    )
    if not payload.password:
        return invalid_response(ValidationError({"password": ["a password is required"]}))
    try:
        user = create_staff_user(tenant, payload.username, change)
    except ValidationError as e:
        return invalid_response(e)
    return Status(201, _user_out(_staff(request).get(pk=user.pk)))


@router.patch("/users/{user_id}", response=UserOut)
def update_user(request: HttpRequest, user_id: int, payload: UserPatch) -> UserOut | HttpResponse:
    require_admin(request)
    tenant = get_acting_tenant(request.user)
    user = get_object_or_404(_staff(request), pk=user_id)
    fields = payload.model_dump(exclude_unset=True)
    change = StaffChange(
        role=fields.get("role"),
        queue_ids=_queue_ids(tenant.pk, fields.get("queues")),
        is_active=fields.get("is_active"),
        email=fields.get("email"),
        first_name=fields.get("first_name"),
        last_name=fields.get("last_name"),
        password=fields.get("password"),
    )
    try:
        change_staff_user(request.user, user, tenant, change)
    except ValidationError as e:
        return invalid_response(e)
    return _user_out(_staff(request).get(pk=user.pk))
