"""Helpers for the connector tests: IMAP mailboxes pointing at the test Dovecot, messages, waiting on conditions."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from postroom.mailboxes.models import ConnectorKind, Mailbox
from postroom.tenants.services import get_default_tenant
from postroom.tickets.services import ensure_default_queue

T = TypeVar("T")


def make_mailbox(name: str, *, password: str = "", **settings: Any) -> Mailbox:
    """An active IMAP mailbox in the default tenant's default queue."""
    tenant = get_default_tenant()
    return Mailbox.objects.create(
        tenant=tenant,
        name=name,
        address=settings.get("username", ""),
        kind=ConnectorKind.IMAP,
        settings=settings,
        secrets={"imap_password": password} if password else {},
        default_queue=ensure_default_queue(tenant),
    )


def imap_mailbox(server: Any, user: str, **extra: Any) -> Mailbox:
    """A mailbox reading `user`'s mail on the test Dovecot over implicit TLS, trusting its CA."""
    settings = {
        "host": "127.0.0.1",
        "port": server.imaps_port,
        "tls": "implicit",
        "username": user,
        "ca_file": str(server.ca_file),
        **extra,
    }
    return make_mailbox(user, password=server.users[user], **settings)


def build_raw(subject: str, sender: str = "customer@example.org", to: str = "support@example.test") -> bytes:
    return (
        f"From: Customer <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '-')}@example.org>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Body of {subject}.\r\n"
    ).encode()


def wait_for(probe: Callable[[], T], *, timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll `probe` until it returns something truthy (returned) or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last value {value!r})")
        time.sleep(interval)
