"""Writes on mailboxes from the admin API and pages: one validation for every channel, secrets write-only.

Secrets are never read back to a client: a change sets a secret (a non-empty string) or removes it (None or ""),
and a secret not mentioned keeps its value. Changing the settings or a secret forgets the last connection test,
which described the old configuration.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import transaction

from postroom.mailboxes.connector_settings import SECRET_NAMES, SettingsInvalidError, parse_mailbox_settings
from postroom.mailboxes.models import Mailbox

SecretChanges = Mapping[str, str | None]


def validate_mailbox(mailbox: Mailbox, secret_changes: SecretChanges | None = None) -> dict[str, list[str]]:
    """Every problem with the mailbox as it would be saved: field -> messages (empty when it may be saved)."""
    errors: dict[str, list[str]] = {}
    try:
        mailbox.full_clean(exclude=["secrets", "settings", "last_test_report", "tenant", "default_queue"])
    except ValidationError as e:
        errors.update(e.message_dict)
    try:
        parse_mailbox_settings(mailbox.kind, mailbox.settings)
    except SettingsInvalidError as e:
        for key, messages in e.errors.items():
            errors.setdefault(key, []).extend(messages)
    queue = mailbox.default_queue if mailbox.default_queue_id is not None else None
    if queue is None or queue.tenant_id != mailbox.tenant_id:
        errors.setdefault("default_queue", []).append("choose a queue of this tenant")
    if (
        mailbox.name
        and Mailbox.objects.filter(tenant_id=mailbox.tenant_id, name=mailbox.name).exclude(pk=mailbox.pk).exists()
    ):
        errors.setdefault("name", []).append("another mailbox has this name")
    for name in secret_changes or {}:
        if name not in SECRET_NAMES:
            errors.setdefault(f"secrets.{name}", []).append(f"unknown secret (known: {', '.join(SECRET_NAMES)})")
    return errors


def apply_secret_changes(mailbox: Mailbox, changes: SecretChanges) -> bool:
    """Set or remove secrets on the (unsaved) mailbox; True when anything changed."""
    secrets = dict(mailbox.secrets) if isinstance(mailbox.secrets, Mapping) else {}
    before = dict(secrets)
    for name, value in changes.items():
        if value:
            secrets[name] = value
        else:
            secrets.pop(name, None)
    mailbox.secrets = secrets
    return secrets != before


def save_mailbox(mailbox: Mailbox, secret_changes: SecretChanges | None = None) -> Mailbox:
    """Validate and save; raise ValidationError (field -> messages) without saving when anything is wrong."""
    changes = dict(secret_changes or {})
    errors = validate_mailbox(mailbox, changes)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        stored = Mailbox.objects.select_for_update().filter(pk=mailbox.pk).first() if mailbox.pk else None
        if stored is not None:
            mailbox.secrets = stored.secrets  # secrets are write-only: start from what is stored, not what was read
        secrets_changed = apply_secret_changes(mailbox, changes)
        if stored is None or secrets_changed or stored.settings != mailbox.settings or stored.kind != mailbox.kind:
            mailbox.last_test_at, mailbox.last_test_ok, mailbox.last_test_report = None, None, {}
        mailbox.save()
    return mailbox
