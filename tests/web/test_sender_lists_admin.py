"""Managing the allow and block lists: API, console page, `postroom senders`, and the quarantine's "allow the
sender" action (service, API, console, `postroom quarantine allow`)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from ingesting import ingest_raw
from mailfactory import build_mail
from postroom.accounts.models import Role
from postroom.cli import main
from postroom.inbound import quarantine
from postroom.inbound.models import InboundMessage, InboundStatus, ListKind, SenderListEntry
from postroom.inbound.routes import add_route
from postroom.mailboxes.models import ConnectorKind, Mailbox
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import Queue
from staff import make_staff

pytestmark = pytest.mark.django_db

FLAGGED = {"X-Spam-Status": "Yes, score=12.5 required=5.0 tests=BAYES_99"}


def signed_in(role: Role) -> Client:
    client = Client()
    client.force_login(make_staff(role, get_default_tenant()))
    return client


def trusting_mailbox() -> Mailbox:
    """A mailbox that trusts its upstream filter's X-Spam-* fields: flagged mail is held as spam."""
    add_route("support@example.com", "Support")
    return Mailbox.objects.create(
        tenant=get_default_tenant(), name="Support", kind=ConnectorKind.SMTP,
        default_queue=Queue.objects.get(slug="support"), settings={"spam": {"scanner": "headers"}},
    )  # fmt: skip


def held_spam(mailbox: Mailbox, subject: str = "Offer") -> InboundMessage:
    row = ingest_raw(build_mail(subject=subject, extra_headers=FLAGGED), mailbox=mailbox)
    assert (row.status, row.cause) == (InboundStatus.QUARANTINED, "spam")
    return row


# --- API ----------------------------------------------------------------------------------------------------------


def test_api_adds_lists_and_removes_entries() -> None:
    """
    GIVEN an admin
    WHEN she adds a block entry (mixed case) and an allow entry with skip_auth, lists, filters, and removes one
    THEN the entries come back lower case with who added them; the filter narrows; the removed one is gone
    """
    admin = signed_in(Role.ADMIN)
    made = admin.post(
        "/api/v1/sender-lists", {"pattern": " Promo@Spam.Example ", "kind": "block"}, content_type="application/json"
    )
    assert made.status_code == 201 and made.json()["pattern"] == "promo@spam.example"
    assert made.json()["created_by"] == "admin"
    allowed = admin.post(
        "/api/v1/sender-lists", {"pattern": "@.partner.example", "kind": "allow", "skip_auth": True},
        content_type="application/json",
    )  # fmt: skip
    assert allowed.status_code == 201

    assert [entry["pattern"] for entry in admin.get("/api/v1/sender-lists").json()] == [
        "@.partner.example",
        "promo@spam.example",
    ]
    assert [entry["kind"] for entry in admin.get("/api/v1/sender-lists?kind=block").json()] == ["block"]
    assert admin.delete(f"/api/v1/sender-lists/{made.json()['id']}").status_code == 204
    assert not SenderListEntry.objects.filter(pattern="promo@spam.example").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"pattern": "not an address", "kind": "block"}, "pattern"),
        ({"pattern": "@localhost", "kind": "block"}, "pattern"),
        ({"pattern": "a@b.example", "kind": "block", "skip_auth": True}, "skip_auth"),
        ({"pattern": "a@b.example", "kind": "allow", "mailbox_id": 999}, "mailbox_id"),
    ],
)
def test_api_refuses_bad_entries_with_field_errors(body: dict[str, Any], field: str) -> None:
    response = signed_in(Role.ADMIN).post("/api/v1/sender-lists", body, content_type="application/json")
    assert response.status_code == 422 and field in response.json()["errors"]


def test_api_refuses_a_duplicate_in_the_same_scope() -> None:
    admin = signed_in(Role.ADMIN)
    body = {"pattern": "x@spam.example", "kind": "block"}
    assert admin.post("/api/v1/sender-lists", body, content_type="application/json").status_code == 201
    again = admin.post("/api/v1/sender-lists", {**body, "kind": "allow"}, content_type="application/json")
    assert again.status_code == 422 and "already listed for every mailbox" in again.json()["detail"]


# --- console ------------------------------------------------------------------------------------------------------


def test_console_page_adds_and_removes_and_auditors_only_look() -> None:
    """
    GIVEN an admin and an auditor
    WHEN the admin adds @spam.example to the block list on the page, and the auditor opens the page
    THEN the entry is listed; the auditor sees it without the form or remove buttons; the admin removes it
    """
    admin = signed_in(Role.ADMIN)
    added = admin.post("/admin/senders/", {"pattern": "@spam.example", "kind": "block", "note": "offers"})
    assert added.status_code == 302
    entry = SenderListEntry.objects.get(pattern="@spam.example")
    assert entry.created_by is not None and entry.created_by.get_username() == "admin"

    page = signed_in(Role.AUDITOR).get("/admin/senders/").content.decode()
    assert "@spam.example" in page and "Add a sender" not in page and "/delete/" not in page
    assert 'href="/admin/senders/"' in admin.get("/admin/routes/").content.decode()  # the admin nav links it

    assert admin.post(f"/admin/senders/{entry.pk}/delete/").status_code == 302
    assert not SenderListEntry.objects.exists()


def test_console_shows_errors_beside_the_field() -> None:
    response = signed_in(Role.ADMIN).post("/admin/senders/", {"pattern": "nobody", "kind": "block"})
    assert response.status_code == 422 and "must be an address" in response.content.decode()


# --- command line -------------------------------------------------------------------------------------------------


def test_cli_senders_allow_block_list_remove(capsys: pytest.CaptureFixture[str]) -> None:
    """GIVEN an operator WHEN she allows with --skip-auth, blocks for one mailbox, lists and removes THEN each
    prints one line per entry; a bad pattern is one line on stderr with exit 1."""
    mailbox = trusting_mailbox()
    assert main(["senders", "allow", "ceo@bank.example", "--skip-auth", "--note", "our bank"]) == 0
    assert main(["senders", "block", "@spam.example", "--mailbox", str(mailbox.pk)]) == 0
    capsys.readouterr()

    assert main(["senders", "list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[1:5] for line in lines] == [
        ["allow", "ceo@bank.example", "every mailbox", "skip-auth"],
        ["block", "@spam.example", "Support", "-"],
    ]
    blocked = SenderListEntry.objects.get(kind=ListKind.BLOCK)
    assert main(["senders", "remove", str(blocked.pk)]) == 0 and not SenderListEntry.objects.filter(pk=blocked.pk)

    capsys.readouterr()
    assert main(["senders", "block", "not-a-pattern"]) == 1
    assert "must be an address" in capsys.readouterr().err
    assert main(["senders", "block", "a@b.example", "--skip-auth"]) == 2


# --- quarantine: allow the sender ---------------------------------------------------------------------------------


def test_allow_sender_lists_the_address_releases_and_later_mail_is_not_scored(agent: Any) -> None:
    """
    GIVEN spam held from jane.doe@example.org (her mailbox trusts its upstream filter)
    WHEN an admin allows the sender from the quarantine
    THEN an allow entry for her address exists (with a note naming the message), the message became a ticket, and
         her next flagged mail passes without a spam score
    """
    mailbox = trusting_mailbox()
    row = held_spam(mailbox)
    admin = quarantine.Actor.of(agent)

    allowed = quarantine.allow_sender(row.pk, admin)

    assert (allowed.entry.pattern, allowed.entry.kind, allowed.entry.mailbox_id) == (
        "jane.doe@example.org",
        "allow",
        None,
    )
    assert row.tracking_id in allowed.entry.note and allowed.entry.created_by == agent
    assert allowed.row.status == InboundStatus.PROCESSED and allowed.row.message is not None
    later = ingest_raw(build_mail(subject="Another offer", extra_headers=FLAGGED), mailbox=mailbox)
    assert later.status == InboundStatus.PROCESSED


def test_allow_sender_turns_a_block_into_an_allow_and_can_be_for_the_mailbox_only(agent: Any) -> None:
    mailbox = trusting_mailbox()
    SenderListEntry.objects.create(
        tenant=get_default_tenant(), pattern="jane.doe@example.org", kind=ListKind.BLOCK, mailbox=mailbox
    )
    row = ingest_raw(build_mail(), mailbox=mailbox)
    assert row.cause == "blocklisted"

    allowed = quarantine.allow_sender(row.pk, quarantine.Actor.of(agent), mailbox_only=True, skip_auth=True)

    assert SenderListEntry.objects.count() == 1
    assert (allowed.entry.kind, allowed.entry.mailbox_id, allowed.entry.skip_auth) == ("allow", mailbox.pk, True)
    assert allowed.row.status == InboundStatus.PROCESSED


def test_allow_sender_refuses_mail_no_longer_quarantined(agent: Any) -> None:
    row = held_spam(trusting_mailbox())
    quarantine.delete_message(row.pk, quarantine.Actor.of(agent))
    with pytest.raises(quarantine.QuarantineConflictError, match="deleted, not quarantined"):
        quarantine.allow_sender(row.pk, quarantine.Actor.of(agent))
    assert not SenderListEntry.objects.exists()


def test_allow_sender_through_api_console_and_cli(capsys: pytest.CaptureFixture[str]) -> None:
    """GIVEN three held spam messages WHEN an admin allows the sender through the API (mailbox only), the console
    and the command line THEN each answers with the message released; a second try answers 409."""
    mailbox = trusting_mailbox()
    first, second, third = (held_spam(mailbox, f"Offer {n}") for n in range(3))
    admin = signed_in(Role.ADMIN)

    answer = admin.post(
        f"/api/v1/quarantine/{first.tracking_id}/allow-sender", {"mailbox_only": True}, content_type="application/json"
    )
    assert answer.status_code == 200 and answer.json()["pattern"] == "jane.doe@example.org"
    assert answer.json()["message"]["status"] == "processed"
    assert SenderListEntry.objects.get().mailbox_id == mailbox.pk
    again = admin.post(f"/api/v1/quarantine/{first.tracking_id}/allow-sender", {}, content_type="application/json")
    assert again.status_code == 409

    detail = admin.get(f"/quarantine/{second.tracking_id}/").content.decode()
    assert "Allow the sender" in detail and "jane.doe@example.org" in detail
    assert admin.post(f"/quarantine/{second.tracking_id}/allow-sender/").status_code == 302
    assert InboundMessage.objects.get(pk=second.pk).status == InboundStatus.PROCESSED
    assert SenderListEntry.objects.filter(mailbox=None).exists()

    assert main(["quarantine", "allow", third.tracking_id]) == 0
    out = capsys.readouterr().out
    assert "allowed: jane.doe@example.org" in out and "processed" in out
