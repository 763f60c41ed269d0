"""Personal access tokens: shown once, stored hashed, scoped, revocable, acting with their user's role."""

from __future__ import annotations

import pytest
from django.test import Client

from ingesting import ingest_raw
from mailfactory import build_mail
from postroom.accounts.models import ApiToken, Role
from postroom.accounts.tokens import create_token, revoke_token
from postroom.cli import main
from postroom.inbound.routes import add_route
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import Queue
from staff import make_staff

pytestmark = pytest.mark.django_db


def _setup() -> tuple[str, str, object]:
    add_route("support@example.com", "Support")
    add_route("sales@example.com", "Sales")
    own = ingest_raw(build_mail(to="support@example.com")).message.ticket  # type: ignore[union-attr]
    other = ingest_raw(build_mail(to="sales@example.com", subject="other")).message.ticket  # type: ignore[union-attr]
    agent = make_staff(Role.AGENT, get_default_tenant(), [Queue.objects.get(slug="support")])
    return own.reference, other.reference, agent


def _get(token: str, url: str) -> object:
    return Client().get(url, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_a_token_reads_what_its_user_may_and_nothing_else() -> None:
    """
    GIVEN an agent of Support with a read token
    WHEN the token lists messages of a Support ticket and of a Sales ticket, and tries to reply
    THEN 200 for Support, 404 for Sales (as in the console), 403 problem for the write; only a hash is stored
    """
    own, other, agent = _setup()
    issued = create_token(agent, "reporting")  # type: ignore[arg-type]

    assert _get(issued.token, f"/api/v1/tickets/{own}/messages").status_code == 200  # type: ignore[attr-defined]
    assert _get(issued.token, f"/api/v1/tickets/{other}/messages").status_code == 404  # type: ignore[attr-defined]
    write = Client().post(
        f"/api/v1/tickets/{own}/notes", {"text": "x"}, "application/json", HTTP_AUTHORIZATION=f"Bearer {issued.token}"
    )
    assert write.status_code == 403 and write["Content-Type"] == "application/problem+json"
    assert "only read" in write.json()["detail"]
    row = ApiToken.objects.get()
    assert issued.token not in (row.token_hash, row.prefix) and len(row.token_hash) == 64
    assert row.last_used_at is not None


def test_a_write_token_acts_and_a_revoked_or_forged_one_is_refused() -> None:
    """
    GIVEN a write token
    WHEN it adds a note, then a forged variant and (after revocation) the token itself are used
    THEN 201, then 401 problem responses
    """
    own, _other, agent = _setup()
    issued = create_token(agent, "bot", "write")  # type: ignore[arg-type]
    note = Client().post(
        f"/api/v1/tickets/{own}/notes", {"text": "x"}, "application/json", HTTP_AUTHORIZATION=f"Bearer {issued.token}"
    )
    assert note.status_code == 201

    forged = issued.token[:-1] + ("A" if issued.token[-1] != "A" else "B")
    assert _get(forged, f"/api/v1/tickets/{own}/messages").status_code == 401  # type: ignore[attr-defined]
    assert revoke_token(issued.row.pk)
    assert _get(issued.token, f"/api/v1/tickets/{own}/messages").status_code == 401  # type: ignore[attr-defined]


def test_tokens_cli(capsys: pytest.CaptureFixture[str]) -> None:
    """GIVEN a user WHEN a token is created, listed and revoked by CLI THEN printed once, listed masked, revoked."""
    _own, _other, agent = _setup()
    assert main(["tokens", "create", agent.get_username(), "ci", "--scope", "write"]) == 0  # type: ignore[attr-defined]
    token = capsys.readouterr().out.split()[0]
    assert token.startswith("pr_")
    assert main(["tokens", "list"]) == 0
    listed = capsys.readouterr().out
    assert "ci\twrite\tactive" in listed and token not in listed
    assert main(["tokens", "revoke", str(ApiToken.objects.get().pk)]) == 0
    assert main(["tokens", "revoke", "999"]) == 1
    assert main(["tokens", "create", "nobody", "x"]) == 1
