"""The admin API: queues and members, routes, mailboxes (write-only secrets, test connection, health), contacts
(search, cursor pages, scoped tickets), organisations, users and roles. Every refusal is a problem document."""

from __future__ import annotations

import dataclasses
import json
import socket
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from ingesting import ingest_raw
from mailfactory import build_mail
from postroom.accounts.models import Role
from postroom.accounts.tokens import create_token
from postroom.inbound.models import Route
from postroom.inbound.routes import add_route
from postroom.inbound.services import process_inbound, receive_message
from postroom.mailboxes.models import ConnectorKind, Mailbox
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import Contact, Queue, Ticket
from postroom.tickets.services import ensure_default_queue
from staff import make_staff

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def call(client: Client, method: str, url: str, body: object = None) -> Any:
    data = json.dumps(body) if body is not None else ""
    return client.generic(method, f"/api/v1{url}", data, content_type="application/json")


@pytest.fixture
def queues() -> dict[str, Queue]:
    add_route("support@example.com", "Support")
    add_route("sales@example.com", "Sales")
    return {queue.slug: queue for queue in Queue.objects.all()}


@pytest.fixture
def admin(queues: dict[str, Queue]) -> Client:
    return client_for(make_staff(Role.ADMIN, get_default_tenant()))


def as_role(role: Role, *queue_list: Queue, username: str = "") -> Client:
    return client_for(make_staff(role, get_default_tenant(), queue_list, username=username))


# --- queues ---------------------------------------------------------------------------------------------------


def test_admin_creates_a_queue_with_policies_and_bad_patterns_are_explained(admin: Client) -> None:
    """
    GIVEN an admin
    WHEN a queue is created with a closed-reply policy, then one with a pattern that has no capture group
    THEN the first is 201 with its settings and a slug made from the name; the second a 422 problem naming the field
    """
    created = call(
        admin,
        "POST",
        "/queues",
        {"name": "Billing Team", "settings": {"closed_reply_policy": "new_after_days", "reopen_within_days": 7}},
    )
    assert created.status_code == 201
    body = created.json()
    assert (body["slug"], body["settings"]["closed_reply_policy"], body["settings"]["reopen_within_days"]) == (
        "billing-team",
        "new_after_days",
        7,
    )

    refused = call(admin, "POST", "/queues", {"name": "Vendors", "settings": {"foreign_reference_patterns": ["\\d+"]}})
    assert refused.status_code == 422 and refused["Content-Type"] == PROBLEM
    assert "exactly one capture group" in refused.json()["errors"]["foreign_reference_patterns"][0]
    duplicate = call(admin, "POST", "/queues", {"name": "Billing", "slug": "billing-team"})
    assert duplicate.status_code == 422 and "slug" in duplicate.json()["errors"]


def test_the_default_mark_moves_and_queues_in_use_are_not_deleted(admin: Client, queues: dict[str, Queue]) -> None:
    """
    GIVEN Support with a ticket and routes, Sales with a route, and the Inbox default queue
    WHEN Sales becomes the default, then Support, Sales and an empty queue are deleted
    THEN the mark moved; Support (tickets) and Sales (default) answer 409 problems; the empty one goes, routes too
    """
    ingest_raw(build_mail(to="support@example.com"))
    inbox = ensure_default_queue(get_default_tenant())
    assert call(admin, "PATCH", f"/queues/{queues['sales'].pk}", {"is_default": True}).json()["is_default"] is True
    assert Queue.objects.get(pk=inbox.pk).is_default is False

    in_use = call(admin, "DELETE", f"/queues/{queues['support'].pk}")
    assert in_use.status_code == 409 and in_use["Content-Type"] == PROBLEM
    assert "tickets are in this queue" in in_use.json()["detail"]
    default = call(admin, "DELETE", f"/queues/{queues['sales'].pk}")
    assert default.status_code == 409 and "default queue" in default.json()["detail"]
    lone_default = call(admin, "PATCH", f"/queues/{queues['sales'].pk}", {"is_default": False})
    assert lone_default.status_code == 422

    empty = call(admin, "POST", "/queues", {"name": "Empty"}).json()
    add_route("empty@example.com", "Empty")
    assert call(admin, "DELETE", f"/queues/{empty['id']}").status_code == 204
    assert not Route.objects.filter(address="empty@example.com").exists()


def test_agents_see_their_queues_names_only_and_auditors_everything_read_only(queues: dict[str, Queue]) -> None:
    """
    GIVEN an agent of Support and an auditor
    WHEN both list the queues and try a change
    THEN the agent gets Support by name without settings, the auditor every queue with settings; both 403 problems
    """
    agent = as_role(Role.AGENT, queues["support"])
    auditor = as_role(Role.AUDITOR)

    listed = call(agent, "GET", "/queues").json()
    assert [(q["slug"], q["settings"]) for q in listed] == [("support", None)]
    audited = call(auditor, "GET", "/queues").json()
    assert {q["slug"] for q in audited} >= {"support", "sales"} and all(q["settings"] for q in audited)
    for client in (agent, auditor):
        refused = call(client, "PATCH", f"/queues/{queues['support'].pk}", {"name": "Mine"})
        assert refused.status_code == 403 and refused["Content-Type"] == PROBLEM


def test_queue_managers_manage_the_members_of_their_own_queue(queues: dict[str, Queue]) -> None:
    """
    GIVEN a queue manager of Support, an agent of no queue and an admin
    WHEN the manager adds the agent to Support, tries Sales, tries to add the admin, then removes the agent
    THEN the agent is a member (and sees Support's tickets), Sales is 404, the admin is refused 422, removal is 204
    """
    manager = as_role(Role.QUEUE_MANAGER, queues["support"])
    newcomer = make_staff(Role.AGENT, get_default_tenant(), username="newcomer")
    boss = make_staff(Role.ADMIN, get_default_tenant(), username="boss")
    support, sales = queues["support"].pk, queues["sales"].pk

    added = call(manager, "PUT", f"/queues/{support}/members/{newcomer.pk}")
    assert added.status_code == 200 and added.json()["role"] == "agent"
    assert call(manager, "PUT", f"/queues/{support}/members/{newcomer.pk}").status_code == 200  # idempotent
    members = {m["username"] for m in call(manager, "GET", f"/queues/{support}/members").json()}
    assert members == {"queue_manager", "newcomer"}
    assert call(client_for(newcomer), "GET", "/queues").json()[0]["slug"] == "support"

    assert call(manager, "PUT", f"/queues/{sales}/members/{newcomer.pk}").status_code == 404
    refused = call(manager, "PUT", f"/queues/{support}/members/{boss.pk}")
    assert refused.status_code == 422 and "queue managers and agents" in refused.json()["detail"]
    assert call(manager, "DELETE", f"/queues/{support}/members/{newcomer.pk}").status_code == 204
    assert call(client_for(newcomer), "GET", "/queues").json() == []
    assert call(manager, "POST", "/queues", {"name": "Mine"}).status_code == 403


# --- routes ---------------------------------------------------------------------------------------------------


def test_a_new_route_sends_the_next_mail_to_its_queue(admin: Client, queues: dict[str, Queue]) -> None:
    """
    GIVEN an admin
    WHEN billing@ is routed to Sales, then a bad address and a duplicate are tried
    THEN mail to billing@ lands in Sales; the others are 422 problems saying why
    """
    created = call(admin, "POST", "/routes", {"address": " Billing@Example.COM ", "queue": "sales"})
    assert created.status_code == 201
    assert (created.json()["address"], created.json()["queue"]["slug"]) == ("billing@example.com", "sales")

    row = ingest_raw(build_mail(to="billing@example.com"))
    assert row.message is not None and row.message.ticket.queue.slug == "sales"

    bad = call(admin, "POST", "/routes", {"address": "not an address", "queue": "sales"})
    assert bad.status_code == 422 and "address" in bad.json()["errors"]
    again = call(admin, "POST", "/routes", {"address": "billing@example.com", "queue": "support"})
    assert again.status_code == 422 and "already routed" in again.json()["errors"]["address"][0]
    unknown = call(admin, "POST", "/routes", {"address": "x@example.com", "queue": "nope"})
    assert unknown.status_code == 422 and "queue_id" in unknown.json()["errors"]


# --- mailboxes ------------------------------------------------------------------------------------------------

IMAP_SETTINGS = {"host": "imap.example.com", "username": "support@example.com", "folders": ["INBOX"]}


def test_mailbox_secrets_are_write_only_and_encrypted(admin: Client) -> None:
    """
    GIVEN an admin creating an IMAP mailbox with a password
    WHEN it is read back, changed without mentioning the password, then the password is removed
    THEN no response and no database column holds the password; it shows "set", stays set, then "not set"
    """
    password = "Sup3r-Secret-Imap"
    created = call(
        admin,
        "POST",
        "/mailboxes",
        {"name": "Support", "kind": "imap", "default_queue": "support", "settings": IMAP_SETTINGS,
         "secrets": {"imap_password": password}},
    )  # fmt: skip
    assert created.status_code == 201
    mailbox_id = created.json()["id"]
    assert created.json()["secrets"] == {"imap_password": "set"}
    read = call(admin, "GET", f"/mailboxes/{mailbox_id}")
    assert password not in read.content.decode() and password not in created.content.decode()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT secrets FROM {Mailbox._meta.db_table} WHERE id = %s", [mailbox_id])  # noqa: S608
        stored = cursor.fetchone()[0]
    assert stored.startswith("v1:") and password not in stored

    kept = call(admin, "PATCH", f"/mailboxes/{mailbox_id}", {"address": "support@example.com"})
    assert kept.json()["secrets"] == {"imap_password": "set"}
    assert Mailbox.objects.get(pk=mailbox_id).secrets == {"imap_password": password}
    outbound = {"outbound": {"host": "smtp.example.com", "username": "support@example.com"}}
    changed = call(
        admin,
        "PATCH",
        f"/mailboxes/{mailbox_id}",
        {"settings": {**IMAP_SETTINGS, **outbound}, "secrets": {"imap_password": None}},
    )
    assert changed.json()["secrets"] == {"imap_password": "not set", "smtp_password": "not set"}


def test_mailbox_settings_are_validated_per_connector(admin: Client) -> None:
    """
    GIVEN an admin
    WHEN an IMAP mailbox without host, a plaintext remote POP3 server and an unknown secret are submitted
    THEN each is a 422 problem whose `errors` names the setting
    """
    missing = call(admin, "POST", "/mailboxes", {"name": "A", "kind": "imap", "default_queue": "support"})
    assert missing.status_code == 422 and {"settings.host", "settings.username"} <= set(missing.json()["errors"])
    plain = {"host": "pop.example.com", "username": "u", "tls": "none"}
    plaintext = call(admin, "POST", "/mailboxes", {"name": "B", "kind": "pop3", "default_queue": "support",
                                                   "settings": plain})  # fmt: skip
    assert plaintext.status_code == 422 and "loopback" in plaintext.json()["errors"]["settings.tls"][0]
    odd = call(admin, "POST", "/mailboxes", {"name": "C", "kind": "smtp", "default_queue": "support",
                                             "secrets": {"pasword": "x"}})  # fmt: skip
    assert odd.status_code == 422 and "secrets.pasword" in odd.json()["errors"]
    assert not Mailbox.objects.exists()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_test_connection_and_health(admin: Client, queues: dict[str, Queue], settings: Any) -> None:
    """
    GIVEN an IMAP mailbox whose server refuses connections, which already received one message
    WHEN the admin runs its connection test, then asks for its health and tries to delete it
    THEN the test answers 200 with ok false and "connection refused", health shows the last message and the failed
         test (state failing), and the delete is a 409 problem (deactivate instead)
    """
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, allow_private_hosts=True)
    mailbox = Mailbox.objects.create(
        tenant=get_default_tenant(), name="Support", kind=ConnectorKind.IMAP, default_queue=queues["support"],
        settings={"host": "127.0.0.1", "port": _closed_port(), "username": "u"},
    )  # fmt: skip
    received = receive_message(build_mail(), source_kind="imap", mailbox=mailbox, enqueue=False)
    process_inbound(received.inbound_id)

    tested = call(admin, "POST", f"/mailboxes/{mailbox.pk}/test")
    assert tested.status_code == 200
    report = tested.json()
    assert report["ok"] is False and report["reports"][0]["failure"] == "connection_refused"
    assert any(line.startswith("inbound IMAP 127.0.0.1 port") for line in report["lines"])

    health = call(admin, "GET", f"/mailboxes/{mailbox.pk}/health").json()
    assert health["state"] == "failing" and health["received_recently"] == 1
    assert health["last_tracking_id"] == received.tracking_id
    components = {c["name"]: c for c in health["components"]}
    assert components["connection test"]["state"] == "failing"
    assert "connection refused" in components["connection test"]["detail"]
    assert call(admin, "GET", f"/mailboxes/{mailbox.pk}").json()["last_test"]["ok"] is False

    refused = call(admin, "DELETE", f"/mailboxes/{mailbox.pk}")
    assert refused.status_code == 409 and "deactivate" in refused.json()["detail"]


# --- contacts and organisations -------------------------------------------------------------------------------


def test_contacts_are_searched_and_paged_by_cursor(admin: Client) -> None:
    """
    GIVEN seven contacts, five of them at acme.example
    WHEN the admin searches "acme" two at a time, following next_cursor
    THEN the pages hold each acme contact once, in address order, and the last page has no cursor; a forged
         cursor is a 422 problem
    """
    tenant = get_default_tenant()
    for name in ("e", "a", "d", "b", "c"):
        Contact.objects.create(tenant=tenant, email=f"{name}@acme.example", email_key=f"{name}@acme.example")
    for email in ("z@other.example", "y@other.example"):
        Contact.objects.create(
            tenant=tenant, email=email, email_key=email, name="Acme person" if email[0] == "z" else ""
        )

    seen: list[str] = []
    cursor = ""
    for _ in range(5):
        page = call(admin, "GET", f"/contacts?q=ACME&limit=2&cursor={cursor}").json()
        seen += [item["email"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"{n}@acme.example" for n in "abcde"] + ["z@other.example"]

    forged = call(admin, "GET", "/contacts?cursor=bm90LWEtY3Vyc29y")
    assert forged.status_code == 422 and forged["Content-Type"] == PROBLEM


def test_agents_see_contacts_and_tickets_of_their_queues_only(queues: dict[str, Queue]) -> None:
    """
    GIVEN Jane with a ticket in Support and one in Sales, and Sam who wrote only to Sales
    WHEN an agent of Support reads contacts and Jane's tickets
    THEN Jane is listed with her Support ticket only; Sam is not listed and his page is 404; the admin sees both
    """
    ingest_raw(build_mail(to="support@example.com", subject="Printer"))
    ingest_raw(build_mail(to="sales@example.com", subject="Quote"))
    ingest_raw(build_mail(sender="Sam <sam@example.net>", to="sales@example.com", subject="Price"))
    jane = Contact.objects.get(email_key="jane.doe@example.org")
    sam = Contact.objects.get(email_key="sam@example.net")
    agent = as_role(Role.AGENT, queues["support"])

    assert [c["email"] for c in call(agent, "GET", "/contacts").json()["items"]] == ["jane.doe@example.org"]
    tickets = call(agent, "GET", f"/contacts/{jane.pk}/tickets").json()["items"]
    assert [t["subject"] for t in tickets] == ["Printer"]
    assert call(agent, "GET", f"/contacts/{sam.pk}").status_code == 404
    admin = as_role(Role.ADMIN, username="boss")
    assert {t["subject"] for t in call(admin, "GET", f"/contacts/{jane.pk}/tickets").json()["items"]} == {
        "Printer",
        "Quote",
    }
    assert call(agent, "PATCH", f"/contacts/{jane.pk}", {"name": "J"}).status_code == 403


def test_organisations_own_their_domains_and_contacts_join_them(admin: Client) -> None:
    """
    GIVEN an admin
    WHEN Acme is created with @ACME.example, a second organisation claims the same domain, Jane joins Acme,
         and Acme is deleted
    THEN the domain is stored lower case, the claim is a 422 problem, Jane shows Acme, then no organisation
    """
    jane = Contact.objects.create(tenant=get_default_tenant(), email="jane@acme.example", email_key="jane@acme.example")
    acme = call(admin, "POST", "/organizations", {"name": "Acme", "domains": ["@ACME.example"]})
    assert acme.status_code == 201 and acme.json()["domains"] == ["acme.example"]
    clash = call(admin, "POST", "/organizations", {"name": "Acme Two", "domains": ["acme.example"]})
    assert clash.status_code == 422 and "already belong to Acme" in clash.json()["errors"]["domains"][0]

    joined = call(admin, "PATCH", f"/contacts/{jane.pk}", {"name": "Jane", "organization_id": acme.json()["id"]})
    assert joined.json()["organization"]["name"] == "Acme" and joined.json()["name"] == "Jane"
    assert call(admin, "PATCH", f"/contacts/{jane.pk}", {"organization_id": 999999}).status_code == 422
    assert call(admin, "DELETE", f"/organizations/{acme.json()['id']}").status_code == 204
    assert call(admin, "GET", f"/contacts/{jane.pk}").json()["organization"] is None


# --- users and roles ------------------------------------------------------------------------------------------


def test_admin_creates_a_user_who_works_in_their_queues_until_deactivated(
    admin: Client, queues: dict[str, Queue]
) -> None:
    """
    GIVEN an admin and a ticket in Support
    WHEN a new agent of Support is created, signs in with a token, and is then deactivated
    THEN the agent sees the Support ticket; after deactivation the token answers 401
    """
    ingest_raw(build_mail(to="support@example.com"))
    created = call(
        admin,
        "POST",
        "/users",
        {"username": "robin", "password": "correct horse battery", "role": "agent", "queues": ["support"]},
    )
    assert created.status_code == 201
    body = created.json()
    assert (body["role"], [q["slug"] for q in body["queues"]], body["is_active"]) == ("agent", ["support"], True)
    weak = call(admin, "POST", "/users", {"username": "weak", "password": "password"})
    assert weak.status_code == 422 and "password" in weak.json()["errors"]

    from django.contrib.auth import get_user_model

    robin = get_user_model().objects.get(username="robin")
    token = create_token(robin, "laptop").token
    reference = Ticket.objects.get().reference
    seen = Client().get(f"/api/v1/tickets/{reference}/messages", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert seen.status_code == 200

    assert call(admin, "PATCH", f"/users/{robin.pk}", {"is_active": False}).json()["is_active"] is False
    gone = Client().get(f"/api/v1/tickets/{reference}/messages", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert gone.status_code == 401 and gone["Content-Type"] == PROBLEM


def test_admins_cannot_lock_themselves_or_the_tenant_out(queues: dict[str, Queue]) -> None:
    """
    GIVEN the tenant's only admin, and a superuser without a role
    WHEN the admin tries to become an agent or to deactivate themselves, and the superuser demotes them
    THEN all three are 422 problems naming the field; once a second admin exists the demotion works
    """
    from django.contrib.auth import get_user_model

    user = make_staff(Role.ADMIN, get_default_tenant(), username="solo")
    client = client_for(user)
    root = client_for(get_user_model().objects.create_superuser("root", password=None))

    demote = call(client, "PATCH", f"/users/{user.pk}", {"role": "agent"})
    assert demote.status_code == 422 and "your own role" in demote.json()["errors"]["role"][0]
    leave = call(client, "PATCH", f"/users/{user.pk}", {"is_active": False})
    assert leave.status_code == 422 and "is_active" in leave.json()["errors"]
    last = call(root, "PATCH", f"/users/{user.pk}", {"role": "auditor"})
    assert last.status_code == 422 and "last active admin" in last.json()["errors"]["role"][0]

    make_staff(Role.ADMIN, get_default_tenant(), username="other")
    assert call(root, "PATCH", f"/users/{user.pk}", {"role": "auditor"}).json()["role"] == "auditor"
