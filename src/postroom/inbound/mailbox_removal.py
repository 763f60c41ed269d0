"""Deleting a mailbox: refused while the inbound log holds mail it received (deactivate it instead), so no ledger
row loses its source. The mailbox's own routes go with it."""

from __future__ import annotations

from django.db import transaction

from postroom.inbound.models import InboundMessage
from postroom.mailboxes.models import Mailbox


class MailboxInUseError(Exception):
    """The mailbox cannot be deleted; the message says why and what to do instead."""


def delete_mailbox(mailbox: Mailbox) -> None:
    with transaction.atomic():
        locked = Mailbox.objects.select_for_update().get(pk=mailbox.pk)
        if InboundMessage.objects.filter(tenant_id=locked.tenant_id, mailbox_id=locked.pk).exists():
            raise MailboxInUseError(
                "the inbound log holds mail this mailbox received: deactivate the mailbox instead of deleting it"
            )
        locked.delete()
