"""Writes on accounts: give a user a role, put them in a queue or take them out."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser

from postroom.accounts.models import AgentProfile, QueueMembership, Role
from postroom.accounts.permissions import forget_access
from postroom.tenants.models import Tenant
from postroom.tickets.models import Queue


def assign_role(user: AbstractBaseUser, role: Role, tenant: Tenant) -> AgentProfile:
    profile, _ = AgentProfile.objects.update_or_create(user_id=user.pk, defaults={"role": role, "tenant": tenant})
    forget_access(user)
    return profile


def add_to_queue(user: AbstractBaseUser, queue: Queue) -> QueueMembership:
    """Membership counts for queue managers and agents of the queue's tenant (see `permissions.build_access`)."""
    membership, _ = QueueMembership.objects.get_or_create(
        user_id=user.pk, queue=queue, defaults={"tenant_id": queue.tenant_id}
    )
    forget_access(user)
    return membership


def remove_from_queue(user: AbstractBaseUser, queue: Queue) -> None:
    QueueMembership.objects.filter(user_id=user.pk, queue=queue).delete()
    forget_access(user)
