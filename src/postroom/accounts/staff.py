"""Console users from the admin API and pages: create them, set their role, queues and password, deactivate them.

One validation for every channel (ValidationError field -> messages). Guards against locking a tenant out: an admin
cannot change their own role or deactivate themselves, and the last active admin of a tenant stays one.
A deactivated user's sessions and API tokens stop working at once (Django refuses inactive users; tokens check it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from postroom.accounts.models import AgentProfile, QueueMembership, Role
from postroom.accounts.permissions import MEMBER_ROLES, forget_access
from postroom.accounts.services import add_to_queue, assign_role
from postroom.tenants.models import Tenant
from postroom.tickets.models import Queue

Errors = dict[str, list[str]]


@dataclass(frozen=True, slots=True)
class StaffChange:
    """What to change on a user; None leaves a field as it is. `queue_ids` replaces the memberships."""

    role: str | None = None
    queue_ids: tuple[int, ...] | None = None
    is_active: bool | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    password: str | None = None


def list_staff(tenant_id: int | None) -> Any:
    """Users with a role in the tenant (every user for None), with their profile and memberships preloaded."""
    users = get_user_model().objects.select_related("agent_profile").prefetch_related("queue_memberships__queue")
    if tenant_id is not None:
        users = users.filter(agent_profile__tenant_id=tenant_id)
    return users.order_by("username")


def find_role(user: Any) -> str | None:
    profile = AgentProfile.objects.filter(user_id=user.pk).only("role").first()
    return profile.role if profile else None


def create_staff_user(tenant: Tenant, username: str, change: StaffChange) -> Any:
    """A new user with a role in `tenant` (default agent) and queues; ValidationError when anything is wrong."""
    users = get_user_model()
    errors: Errors = {}
    username = username.strip()
    candidate = users(username=username, email=(change.email or "").strip())
    try:
        candidate.full_clean(exclude=["password", "last_login", "date_joined"])
    except ValidationError as e:
        errors.update(e.message_dict)
    _check_fields(tenant, change, errors, user=candidate)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        user = users.objects.create_user(
            username,
            email=candidate.email,
            password=change.password or None,
            first_name=(change.first_name or "").strip(),
            last_name=(change.last_name or "").strip(),
        )
        if change.is_active is False:
            user.is_active = False
            user.save(update_fields=["is_active"])
        assign_role(user, Role(change.role or Role.AGENT), tenant)
        _set_queues(user, tenant, change.queue_ids or ())
    return user


def change_staff_user(actor: Any, user: Any, tenant: Tenant, change: StaffChange) -> Any:
    """Apply `change` to `user` (of `tenant`) on behalf of `actor`; ValidationError when anything is wrong."""
    errors: Errors = {}
    _check_fields(tenant, change, errors, user=user)
    if actor.pk == user.pk:
        if change.role is not None and change.role != find_role(user):
            errors.setdefault("role", []).append("you cannot change your own role (ask another admin)")
        if change.is_active is False:
            errors.setdefault("is_active", []).append("you cannot deactivate yourself")
    losing_admin = find_role(user) == Role.ADMIN and (
        (change.role is not None and change.role != Role.ADMIN) or change.is_active is False
    )
    if losing_admin and not _other_active_admins(tenant, user).exists():
        errors.setdefault("role", []).append("the tenant's last active admin stays an admin")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        fields = []
        for name in ("email", "first_name", "last_name", "is_active"):
            value = getattr(change, name)
            if value is not None:
                setattr(user, name, value.strip() if isinstance(value, str) else value)
                fields.append(name)
        if change.password:
            user.set_password(change.password)
            fields.append("password")
        if fields:
            user.save(update_fields=fields)
        if change.role is not None:
            assign_role(user, Role(change.role), tenant)
        if change.queue_ids is not None:
            _set_queues(user, tenant, change.queue_ids)
    forget_access(user)
    return user


def add_member(queue: Queue, user: Any) -> None:
    """Put a queue manager or agent of the queue's tenant into the queue; ValidationError for anyone else."""
    profile = AgentProfile.objects.filter(user_id=user.pk, tenant_id=queue.tenant_id).first()
    if profile is None or profile.role not in MEMBER_ROLES or not user.is_active:
        raise ValidationError({"user_id": ["only active queue managers and agents of this tenant can be members"]})
    add_to_queue(user, queue)


def _check_fields(tenant: Tenant, change: StaffChange, errors: Errors, *, user: Any) -> None:
    if change.role is not None and change.role not in Role.values:
        errors.setdefault("role", []).append(f"must be one of {', '.join(Role.values)}")
    if change.email:
        try:
            validate_email(change.email.strip())
        except ValidationError as e:
            errors.setdefault("email", []).extend(e.messages)
    if change.password:
        try:
            validate_password(change.password, user)
        except ValidationError as e:
            errors.setdefault("password", []).extend(e.messages)
    if change.queue_ids:
        known = set(Queue.objects.filter(tenant=tenant, pk__in=change.queue_ids).values_list("pk", flat=True))
        missing = sorted(set(change.queue_ids) - known)
        if missing:
            errors.setdefault("queue_ids", []).append(f"no such queue: {', '.join(map(str, missing))}")


def _set_queues(user: Any, tenant: Tenant, queue_ids: Iterable[int]) -> None:
    """Make the user's memberships in `tenant` exactly `queue_ids` (they only count for managers and agents)."""
    wanted = set(queue_ids)
    QueueMembership.objects.filter(user_id=user.pk, tenant=tenant).exclude(queue_id__in=wanted).delete()
    for queue in Queue.objects.filter(tenant=tenant, pk__in=wanted):
        add_to_queue(user, queue)
    forget_access(user)


def _other_active_admins(tenant: Tenant, user: Any) -> Any:
    return AgentProfile.objects.filter(tenant=tenant, role=Role.ADMIN, user__is_active=True).exclude(user_id=user.pk)
