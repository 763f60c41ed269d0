"""Console users of every role for permission tests: one per role, queue managers and agents in the given queues."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from django.contrib.auth import get_user_model

from postroom.accounts.models import Role
from postroom.accounts.services import add_to_queue, assign_role
from postroom.tenants.models import Tenant
from postroom.tickets.models import Queue

ROLES: Final = tuple(Role)


def make_staff(role: Role, tenant: Tenant, queues: Iterable[Queue] = (), *, username: str = "") -> Any:
    """A user with `role` in `tenant`, member of `queues` (memberships only matter to queue managers and agents)."""
    user = get_user_model().objects.create_user(
        username or role.value, email=f"{role.value}@example.com", password=None
    )
    assign_role(user, role, tenant)
    for queue in queues:
        add_to_queue(user, queue)
    return user
