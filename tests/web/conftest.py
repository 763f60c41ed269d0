from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from postroom.accounts.models import Role
from postroom.accounts.services import add_to_queue, assign_role
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import Queue
from postroom.tickets.services import ensure_default_queue


@pytest.fixture
def agent_client(db: None) -> Client:
    """A signed-in agent's browser session: member of the default queue (Inbox) and Support, not of other queues."""
    tenant = get_default_tenant()
    support, _ = Queue.objects.get_or_create(tenant=tenant, slug="support", defaults={"name": "Support"})
    user = get_user_model().objects.create_user("agent", email="agent@example.com", password="correct horse battery")
    assign_role(user, Role.AGENT, tenant)
    add_to_queue(user, ensure_default_queue(tenant))
    add_to_queue(user, support)
    client = Client()
    client.force_login(user)
    return client
