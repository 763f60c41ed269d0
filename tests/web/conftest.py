from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client


@pytest.fixture
def agent_client(db: None) -> Client:
    """A signed-in agent's browser session."""
    user = get_user_model().objects.create_user("agent", email="agent@example.com", password="correct horse battery")
    client = Client()
    client.force_login(user)
    return client
