"""The console's admin pages: who sees them, queue policies, members, routes, mailboxes (write-only passwords, Test
connection with its report, health) and users; refusals shown beside the field, names escaped."""

from __future__ import annotations

import dataclasses
import re
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth import get_user_model
from django.test import Client

from postroom.accounts.models import Role
from postroom.inbound.models import Route
from postroom.inbound.routes import add_route
from postroom.mailboxes.models import ConnectorKind, Mailbox
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import Queue
from staff import make_staff
from testpki import issue_server_cert, make_ca, write_pem

pytestmark = pytest.mark.django_db


def client_for(role: Role, *queues: Queue, username: str = "") -> tuple[Client, Any]:
    user = make_staff(role, get_default_tenant(), queues, username=username)
    client = Client()
    client.force_login(user)
    return client, user


@pytest.fixture
def queues() -> dict[str, Queue]:
    add_route("support@example.com", "Support")
    add_route("sales@example.com", "Sales")
    return {queue.slug: queue for queue in Queue.objects.all()}


@pytest.fixture
def admin(queues: dict[str, Queue]) -> Client:
    return client_for(Role.ADMIN)[0]


def field_errors(html: str, name: str) -> str:
    """The text of the field group holding input `name` (its errors are inside it)."""
    match = re.search(rf'<div class="admin-field[^"]*">(?:(?!<div class="admin-field).)*name="{name}"', html, re.S)
    return match.group(0) if match else ""


def test_the_admin_link_and_pages_follow_the_roles(queues: dict[str, Queue]) -> None:
    """
    GIVEN an admin, an auditor, a queue manager and an agent of Support
    WHEN each opens the ticket list and the admin queue list
    THEN the first three see the Admin link and the queues (the manager only Support, with no settings columns);
         the agent sees no link and gets 403
    """
    for role in (Role.ADMIN, Role.AUDITOR, Role.QUEUE_MANAGER):
        client, _ = client_for(role, queues["support"])
        assert 'href="/admin/">Admin</a>' in client.get("/").content.decode()
        page = client.get("/admin/queues/").content.decode()
        assert f"/admin/queues/{queues['support'].pk}/members/" in page
        shows_sales = f"/admin/queues/{queues['sales'].pk}/members/" in page
        assert shows_sales is (role != Role.QUEUE_MANAGER)
        assert ("Replies from" in page) is (role != Role.QUEUE_MANAGER)
    agent, _ = client_for(Role.AGENT, queues["support"])
    assert 'href="/admin/"' not in agent.get("/").content.decode()
    assert agent.get("/admin/queues/").status_code == 403


def test_queue_policies_are_edited_and_refusals_shown_beside_the_field(admin: Client, queues: dict[str, Queue]) -> None:
    """
    GIVEN the Support queue's page
    WHEN the admin sets "new ticket after 30 days" and a From address, then submits a pattern with two groups
    THEN the first is saved (slug kept); the second re-shows the form with 422 and the reason under the field
    """
    url = f"/admin/queues/{queues['support'].pk}/"
    form = {
        "name": "Support <Team>",
        "from_address": "help@example.com",
        "unknown_sender_policy": "quarantine",
        "closed_reply_policy": "new_after_days",
        "reopen_within_days": "30",
        "foreign_reference_patterns": "\\[Ticket#(\\d+)\\]",
    }
    assert admin.post(url, form).status_code == 302
    queue = Queue.objects.get(pk=queues["support"].pk)
    assert (queue.slug, queue.closed_reply_policy, queue.reopen_within_days) == ("support", "new_after_days", 30)
    assert queue.foreign_reference_patterns == ["\\[Ticket#(\\d+)\\]"]
    page = admin.get("/admin/queues/").content.decode()
    assert "Support &lt;Team&gt;" in page and "Support <Team>" not in page

    refused = admin.post(url, {**form, "foreign_reference_patterns": "(a)(b)"})
    assert refused.status_code == 422
    assert "exactly one capture group" in field_errors(refused.content.decode(), "foreign_reference_patterns")


def test_a_queue_with_tickets_is_not_deleted(admin: Client, queues: dict[str, Queue], ingest: Any) -> None:
    """GIVEN Support with a ticket WHEN the admin deletes it THEN 409 and the page says why; Support stays."""
    from mailfactory import build_mail

    ingest(build_mail(to="support@example.com"))
    refused = admin.post(f"/admin/queues/{queues['support'].pk}/delete/")
    assert refused.status_code == 409 and "tickets are in this queue" in refused.content.decode()
    assert Queue.objects.filter(pk=queues["support"].pk).exists()


def test_a_queue_manager_adds_and_removes_members_of_their_queue(queues: dict[str, Queue]) -> None:
    """
    GIVEN a queue manager of Support and an agent of no queue
    WHEN the manager opens Support's members, adds the agent, then removes them; and opens Support's settings
    THEN the agent is offered, becomes a member, is removed again; the settings page is 403
    """
    manager, _ = client_for(Role.QUEUE_MANAGER, queues["support"], username="manager")
    newcomer = make_staff(Role.AGENT, get_default_tenant(), username="newcomer")
    url = f"/admin/queues/{queues['support'].pk}/members/"

    page = manager.get(url).content.decode()
    assert '<option value="newcomer">newcomer</option>' in page
    assert manager.post(url, {"user": "newcomer"}).status_code == 302
    page = manager.get(url).content.decode()
    assert f'name="remove" value="{newcomer.pk}"' in page and '<option value="newcomer">' not in page
    assert manager.post(url, {"remove": str(newcomer.pk)}).status_code == 302
    assert newcomer.queue_memberships.count() == 0
    assert manager.get(f"/admin/queues/{queues['support'].pk}/").status_code == 403


def test_routes_are_created_and_listed(admin: Client, queues: dict[str, Queue]) -> None:
    """GIVEN the routes page WHEN billing@ is routed to Sales and a bad address tried THEN listed; error shown."""
    assert admin.post("/admin/routes/new/", {"address": "Billing@Example.com", "queue": "sales"}).status_code == 302
    assert Route.objects.get(address="billing@example.com").queue.slug == "sales"
    assert "billing@example.com" in admin.get("/admin/routes/").content.decode()
    refused = admin.post("/admin/routes/new/", {"address": "nobody", "queue": "sales"})
    assert refused.status_code == 422 and "a whole domain" in field_errors(refused.content.decode(), "address")


def test_mailbox_passwords_are_write_only(admin: Client, queues: dict[str, Queue]) -> None:
    """
    GIVEN the new-mailbox form
    WHEN an IMAP mailbox is saved with a password, then saved with the password field empty, then with "remove"
    THEN the page never contains the password and shows it set, still set, then not set; a host with a scheme
         is refused beside the server field
    """
    password = "Pa55-in-the-form"
    form = {
        "name": "Support",
        "kind": "imap",
        "default_queue": "support",
        "is_active": "on",
        "in_host": "imap.example.com",
        "in_tls": "implicit",
        "in_username": "support@example.com",
        "in_folders": "INBOX, Support",
        "in_password": password,
    }
    created = admin.post("/admin/mailboxes/new/", form)
    assert created.status_code == 302
    mailbox = Mailbox.objects.get()
    assert mailbox.settings["folders"] == ["INBOX", "Support"] and mailbox.secrets == {"imap_password": password}
    page = admin.get(created["Location"]).content.decode()
    assert password not in page and "<code>imap_password</code>: <strong>set</strong>" in page

    assert admin.post(created["Location"], {**form, "in_password": ""}).status_code == 302
    assert Mailbox.objects.get().secrets == {"imap_password": password}
    assert admin.post(created["Location"], {**form, "in_password": "", "in_password_remove": "on"}).status_code == 302
    assert "<strong>not set</strong>" in admin.get(created["Location"]).content.decode()

    refused = admin.post(created["Location"], {**form, "in_host": "imaps://imap.example.com"})
    assert refused.status_code == 422 and "no scheme" in field_errors(refused.content.decode(), "in_host")


def _tls_smtp_context(tmp_path: Any) -> tuple[ssl.SSLContext, str]:
    ca_key, ca_cert = make_ca("Console Test CA")
    cert, key = issue_server_cert(ca_key, ca_cert, ["localhost", "127.0.0.1"], tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context, str(write_pem(tmp_path / "ca.pem", ca_cert))


class _Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd hook)
        return "250 OK"


@pytest.fixture
def smtps(tmp_path: Any) -> Iterator[tuple[int, str]]:
    """An SMTP server with implicit TLS on loopback, certificate from a private CA: (port, CA file)."""
    context, ca_file = _tls_smtp_context(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(_Sink(), hostname="127.0.0.1", port=port, ssl_context=context, server_hostname="mx.test")
    controller.start()
    yield port, ca_file
    controller.stop()


def test_test_connection_shows_the_report_and_health(
    admin: Client, queues: dict[str, Queue], smtps: tuple[int, str], settings: Any
) -> None:
    """
    GIVEN a mailbox whose outbound SMTP server speaks TLS with a private CA's certificate (the CA file set)
    WHEN the admin presses "Test connection"
    THEN the mailbox page shows the passed test: TLS version, the certificate and issuer, the capabilities;
         and the health says the test passed
    """
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, allow_private_hosts=True)
    port, ca_file = smtps
    mailbox = Mailbox.objects.create(
        tenant=get_default_tenant(), name="Push", kind=ConnectorKind.SMTP, default_queue=queues["support"],
        settings={"outbound": {"host": "127.0.0.1", "port": port, "tls": "implicit", "ca_file": ca_file}},
    )  # fmt: skip

    tested = admin.post(f"/admin/mailboxes/{mailbox.pk}/test/")
    assert tested.status_code == 302
    page = admin.get(tested["Location"]).content.decode()
    assert "Every server passed" in page
    assert "Outbound: SMTP 127.0.0.1 port" in page and "CN=localhost, issued by CN=Console Test CA" in page
    assert re.search(r"TLSv1\.[23], cipher", page) and "ready to send (no authentication)" in page
    assert "every server passed" in page  # the health component
    assert "SMTP/LMTP listener" in page  # nothing inbound to test for this kind, said so


def test_saving_the_form_keeps_settings_it_has_no_field_for(admin: Client, queues: dict[str, Queue]) -> None:
    """
    GIVEN an IMAP mailbox whose sender-authentication mode and poll interval were set through the API
    WHEN an admin saves it from the console form with a new host
    THEN the host changes and those settings are kept rather than reset to their defaults
    """
    mailbox = Mailbox.objects.create(
        tenant=get_default_tenant(),
        name="Support",
        kind=ConnectorKind.IMAP,
        default_queue=queues["support"],
        settings={"host": "old.example.com", "sender_auth": "quarantine", "poll_seconds": 30},
    )
    form = {"name": "Support", "kind": "imap", "default_queue": "support", "is_active": "on"}
    saved = admin.post(
        f"/admin/mailboxes/{mailbox.pk}/",
        {**form, "in_host": "imap.example.com", "in_tls": "implicit", "in_username": "support@example.com"},
    )
    assert saved.status_code == 302, saved.content.decode()[-3000:]
    settings = Mailbox.objects.get(pk=mailbox.pk).settings
    kept = (settings["host"], settings["sender_auth"], settings["poll_seconds"])
    assert kept == ("imap.example.com", "quarantine", 30)


def test_auditors_read_mailboxes_but_cannot_change_or_test_them(queues: dict[str, Queue]) -> None:
    """GIVEN an auditor WHEN a mailbox page is opened and posted THEN fields are disabled, no buttons, POST 403."""
    mailbox = Mailbox.objects.create(
        tenant=get_default_tenant(), name="Push", kind=ConnectorKind.SMTP, default_queue=queues["support"]
    )
    auditor, _ = client_for(Role.AUDITOR)
    page = auditor.get(f"/admin/mailboxes/{mailbox.pk}/").content.decode()
    assert "Read only" in page and 'name="name"' in page and "disabled" in page
    assert "Test connection</button>" not in page and ">Save<" not in page
    assert auditor.post(f"/admin/mailboxes/{mailbox.pk}/test/").status_code == 403
    assert auditor.post(f"/admin/mailboxes/{mailbox.pk}/", {"name": "X"}).status_code == 403


def test_users_are_created_with_a_role_and_queues_and_deactivated(queues: dict[str, Queue]) -> None:
    """
    GIVEN an admin
    WHEN a queue manager of Sales is created, then deactivated, and the admin tries to deactivate themselves
    THEN the user has the role and the queue, then cannot sign in; the self-deactivation is refused on the page
    """
    admin, me = client_for(Role.ADMIN, username="boss")
    form = {"username": "kim", "password": "a long pass phrase 42", "role": "queue_manager", "queues": ["sales"],
            "is_active": "on", "first_name": "Kim"}  # fmt: skip
    created = admin.post("/admin/users/new/", form)
    assert created.status_code == 302
    kim = get_user_model().objects.get(username="kim")
    assert kim.agent_profile.role == "queue_manager"
    assert [m.queue.slug for m in kim.queue_memberships.all()] == ["sales"]
    assert Client().login(username="kim", password="a long pass phrase 42")

    changed = admin.post(created["Location"], {**form, "password": "", "is_active": ""})
    assert changed.status_code == 302
    assert not Client().login(username="kim", password="a long pass phrase 42")
    listed = admin.get("/admin/users/").content.decode()
    assert "no (cannot sign in)" in listed

    refused = admin.post(f"/admin/users/{me.pk}/", {"role": "admin", "first_name": "", "is_active": ""})
    assert refused.status_code == 422 and "cannot deactivate yourself" in refused.content.decode()
