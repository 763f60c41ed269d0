"""Puts a copy of a sent message into its mailbox's IMAP "Sent" folder, when the mailbox asks for one.

A mailbox opts in with `settings["sent_copy"]` = {host, port, tls ("implicit" | "starttls" | "none"), username,
folder (default "Sent", in the server's own hierarchy: "INBOX.Sent", "Gesendete Elemente", ...), ca_file} and
the password in `secrets["imap_password"]`. The mailbox is the tenant's active one whose address is the
delivery's envelope sender, as for the outbound relay (postroom.outbound.relay).

Best effort and after the fact: the reply was already accepted by the SMTP server, so a failed copy never
changes the delivery's status; the outcome is one line for the communication log. A delivery sent again after a
lost lease is copied again (IMAP has no idempotent APPEND). Providers that file submitted mail themselves
(Gmail, Microsoft 365 over SMTP) need no copy and would show two.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Final

from django.utils import timezone

from postroom.core.blobs import BlobNotFoundError, get_blob_store
from postroom.mail.transport.imap_append import (
    DEFAULT_IMAP_PORT,
    IMAP_TLS_MODES,
    ImapSettings,
    ImapTls,
    append_to_folder,
)
from postroom.mailboxes.models import Mailbox
from postroom.outbound.models import Delivery

log = logging.getLogger(__name__)

DEFAULT_SENT_FOLDER: Final = "Sent"
_TLS_MODES: Final[dict[str, ImapTls]] = {mode: mode for mode in IMAP_TLS_MODES}


class SentCopyConfigError(ValueError):
    """The mailbox's `sent_copy` settings are incomplete or can never work."""


def copy_to_sent(delivery: Delivery) -> str | None:
    """Append the delivery's stored bytes to its mailbox's Sent folder; the outcome, or None when not configured.

    Call it after the SMTP server accepted the message. Never raises for configuration, storage, server or
    network problems: those come back as "Sent copy failed: <reason>".
    """
    mailbox = find_sent_copy_mailbox(delivery)
    if mailbox is None:
        return None
    try:
        settings, folder = parse_sent_copy_settings(mailbox.settings["sent_copy"], mailbox.secrets)
    except SentCopyConfigError as e:
        log.warning("Sent copy for delivery %s skipped: mailbox %s is misconfigured: %s", delivery.pk, mailbox.pk, e)
        return f"Sent copy failed: mailbox {mailbox.name}: {e}"
    try:
        raw = get_blob_store().get(delivery.raw_sha256)
    except BlobNotFoundError:
        log.warning("Sent copy for delivery %s skipped: its stored bytes are missing", delivery.pk)
        return "Sent copy failed: the message's stored bytes are missing"
    result = append_to_folder(settings, folder, raw, when=delivery.sent_at or timezone.now())
    if not result.ok:
        log.warning("Sent copy for delivery %s failed: %s", delivery.pk, result.detail)
        return f"Sent copy failed: {result.detail}"
    log.info("Sent copy for delivery %s stored in mailbox %s", delivery.pk, mailbox.pk)
    return f"copied to {folder}"


def find_sent_copy_mailbox(delivery: Delivery) -> Mailbox | None:
    """The tenant's active mailbox for the envelope sender, if it has `sent_copy` settings."""
    if not delivery.envelope_from:
        return None
    mailbox = (
        Mailbox.objects.filter(tenant_id=delivery.tenant_id, address__iexact=delivery.envelope_from, is_active=True)
        .order_by("id")
        .first()
    )
    if mailbox is None or not isinstance(mailbox.settings, dict) or not mailbox.settings.get("sent_copy"):
        return None
    return mailbox


def parse_sent_copy_settings(raw: object, secrets: object) -> tuple[ImapSettings, str]:
    """`settings["sent_copy"]` and the mailbox's secrets into IMAP settings and the folder name."""
    if not isinstance(raw, Mapping):
        raise SentCopyConfigError("sent_copy must be an object with host, port, tls, username and folder")
    tls = _TLS_MODES.get(str(raw.get("tls") or "starttls"))
    if tls is None:
        raise SentCopyConfigError(f"sent_copy tls must be implicit, starttls or none, not {raw.get('tls')!r}")
    host = str(raw.get("host") or "")
    username = str(raw.get("username") or "")
    if not host or not username:
        raise SentCopyConfigError("sent_copy needs a host and a username")
    try:
        port = int(raw.get("port") or DEFAULT_IMAP_PORT[tls])
    except (TypeError, ValueError):
        raise SentCopyConfigError(f"sent_copy port {raw.get('port')!r} is not a number") from None
    password = secrets.get("imap_password", "") if isinstance(secrets, Mapping) else ""
    ca_file = raw.get("ca_file")
    folder = str(raw.get("folder") or DEFAULT_SENT_FOLDER)
    try:
        settings = ImapSettings(
            host=host,
            port=port,
            tls=tls,
            username=username,
            password=str(password),
            ca_file=str(ca_file) if ca_file else None,
        )
    except ValueError as e:
        raise SentCopyConfigError(str(e)) from e
    return settings, folder
