"""Mailbox secrets are encrypted at rest: the database holds only ciphertext."""

from __future__ import annotations

import pytest
from django.db import connection

from postroom.mailboxes.models import ConnectorKind, Mailbox
from postroom.tenants.services import get_default_tenant
from postroom.tickets.services import ensure_default_queue

pytestmark = pytest.mark.django_db


def test_mailbox_secret_is_ciphertext_in_the_database() -> None:
    """GIVEN a mailbox with a password WHEN saved THEN the stored column has no plaintext and reads back intact."""
    tenant = get_default_tenant()
    mailbox = Mailbox.objects.create(
        tenant=tenant,
        name="Support IMAP",
        kind=ConnectorKind.IMAP,
        settings={"host": "imap.example.com"},
        secrets={"password": "correct horse battery staple"},
        default_queue=ensure_default_queue(tenant),
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM mailboxes_mailbox WHERE id = %s", [mailbox.pk])
        stored = cursor.fetchone()[0]
    assert "correct horse" not in stored
    assert stored.startswith("v1:")
    assert Mailbox.objects.get(pk=mailbox.pk).secrets == {"password": "correct horse battery staple"}
