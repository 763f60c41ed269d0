"""Writes on the allow and block lists (SenderListEntry) from the API, the console, the command line and the
quarantine's "allow the sender" action. One validation for every channel: ValidationError maps each field to
what is wrong.

A pattern is an address (`alice@example.com`), a domain (`@example.com`: that domain only) or a domain with its
subdomains (`@.example.com`); kept lower case. An entry applies to one mailbox or, without one, to every mailbox
of the tenant. How the screen uses them: postroom.inbound.screens.sender_lists and docs/architecture/spam.md.
"""

from __future__ import annotations

import re
from typing import Final

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from postroom.inbound.models import ListKind, SenderListEntry
from postroom.mailboxes.models import Mailbox

_DOMAIN: Final = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}"
SENDER_PATTERN: Final = re.compile(rf"[^@\s\"<>(),;:\\\[\]]{{1,64}}@{_DOMAIN}|@\.?{_DOMAIN}")
PATTERN_HELP: Final = (
    "must be an address (alice@example.com), a domain (@example.com) or a domain with its subdomains (@.example.com)"
)


def normalise_pattern(pattern: str) -> str:
    return pattern.strip().lower()


def validate_entry(entry: SenderListEntry) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    entry.pattern = normalise_pattern(entry.pattern)
    if len(entry.pattern) > 320 or not SENDER_PATTERN.fullmatch(entry.pattern):
        errors["pattern"] = [PATTERN_HELP]
    if entry.kind not in ListKind.values:
        errors["kind"] = [f"must be one of {', '.join(ListKind.values)}"]
    if entry.skip_auth and entry.kind != ListKind.ALLOW:
        errors["skip_auth"] = ["only an allow entry can skip sender authentication"]
    if len(entry.note) > 500:
        errors["note"] = ["must be at most 500 characters"]
    if (
        entry.mailbox_id is not None
        and not Mailbox.objects.filter(pk=entry.mailbox_id, tenant_id=entry.tenant_id).exists()
    ):
        errors["mailbox_id"] = ["no such mailbox"]
    if "pattern" not in errors and find_entry(entry.tenant_id, entry.pattern, entry.mailbox_id, excluding=entry.pk):
        scope = "for this mailbox" if entry.mailbox_id else "for every mailbox"
        errors["pattern"] = [f"{entry.pattern} is already listed {scope}: remove that entry first"]
    return errors


def find_entry(
    tenant_id: int, pattern: str, mailbox_id: int | None, *, excluding: int | None = None
) -> SenderListEntry | None:
    entries = SenderListEntry.objects.filter(tenant_id=tenant_id, pattern=normalise_pattern(pattern))
    entries = entries.filter(mailbox__isnull=True) if mailbox_id is None else entries.filter(mailbox_id=mailbox_id)
    if excluding is not None:
        entries = entries.exclude(pk=excluding)
    return entries.first()


def save_entry(entry: SenderListEntry) -> SenderListEntry:
    errors = validate_entry(entry)
    if errors:
        raise ValidationError(errors)
    entry.save()
    return entry


def allow_address(
    tenant_id: int,
    address: str,
    *,
    mailbox_id: int | None = None,
    skip_auth: bool = False,
    note: str = "",
    user: User | None = None,
) -> SenderListEntry:
    """Allow-list one address (the quarantine's "allow the sender"): a new entry, or the existing entry for the
    same address and scope turned into an allow entry (a block entry for it is the admin's earlier verdict,
    which this one replaces)."""
    with transaction.atomic():
        existing = find_entry(tenant_id, address, mailbox_id)
        entry = existing or SenderListEntry(tenant_id=tenant_id, pattern=address, mailbox_id=mailbox_id)
        entry.kind = ListKind.ALLOW
        entry.skip_auth = skip_auth or (existing is not None and existing.kind == ListKind.ALLOW and existing.skip_auth)
        if existing is None or not entry.note:
            entry.note = note[:500]
        if existing is None:
            entry.created_by = user
        return save_entry(entry)
