"""NUL characters in request input are refused with a 400 before any view (or database) sees them."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("method", "url", "body", "content_type"),
    [
        ("GET", "/api/v1/quarantine?sender=a%00b", None, None),
        ("GET", "/api/v1/tickets?q=%00", None, None),
        ("POST", "/api/v1/tickets/PR-000001/notes", '{"text": "a\\u0000b"}', "application/json"),
        ("POST", "/login/", "username=a%00&password=b", "application/x-www-form-urlencoded"),
    ],
    ids=["api-query", "api-search", "api-json-body", "console-form"],
)
def test_nul_anywhere_in_input_is_a_400(method: str, url: str, body: str | None, content_type: str | None) -> None:
    """
    GIVEN any page or endpoint
    WHEN the query string or a JSON or form body carries U+0000
    THEN the answer is 400 (a problem document under /api/) instead of a database error
    """
    client = Client()
    if method == "GET":
        response = client.get(url)
    else:
        response = client.generic(method, url, body or "", content_type=content_type or "")
    assert response.status_code == 400
    if url.startswith("/api/"):
        assert response["Content-Type"] == "application/problem+json"
        assert "NUL" in response.json()["detail"]


def test_input_without_nul_goes_through() -> None:
    """GIVEN a normal request WHEN it has no NUL THEN the guard lets it through to the view."""
    assert Client().get("/login/?next=/").status_code == 200
