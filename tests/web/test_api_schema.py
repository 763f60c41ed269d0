"""Schemathesis against the API's own OpenAPI schema: generated requests never get a 5xx, and every documented
response matches its schema. Bounded (a few dozen examples per operation) so it stays a test, not a soak."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from ingesting import ingest_raw
from mailfactory import build_mail
from postroom.accounts.models import Role, TokenScope
from postroom.accounts.tokens import create_token
from postroom.inbound.routes import add_route
from postroom.tenants.services import get_default_tenant
from postroom.wsgi import application
from staff import make_staff

MAX_EXAMPLES: Final = 25
CHECKS: Final = [not_a_server_error, response_schema_conformance, content_type_conformance]

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)


@pytest.fixture
def keep_test_connection() -> Iterator[None]:
    """Requests through the WSGI app would close the test's database connection when they finish (Django's
    request signals); the test client avoids that the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def admin_token(db: None, keep_test_connection: None) -> str:
    """GIVEN an admin with a write token, and a ticket so that list endpoints return real items."""
    add_route("support@example.com", "Support")
    ingest_raw(build_mail(subject="Printer on fire", to="support@example.com"))
    admin = make_staff(Role.ADMIN, get_default_tenant())
    return create_token(admin, "schemathesis", scope=TokenScope.WRITE).token


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_schema(case: schemathesis.Case, admin_token: str) -> None:
    """
    GIVEN the API's published OpenAPI schema and an admin's token
    WHEN schemathesis sends generated requests (valid and invalid) to every operation
    THEN none is answered with a 5xx, and documented responses match their schema and content type
    """
    case.call_and_validate(headers={"Authorization": f"Bearer {admin_token}"}, checks=CHECKS)
