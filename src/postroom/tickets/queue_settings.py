"""Writes on queues from the admin API and pages: one validation for every channel, deletes refused while in use.

A tenant has exactly one default queue (where mail lands when nothing else routes it): making a queue the default
takes the mark from the other, and the default itself can neither lose the mark nor be deleted. A queue that
tickets or mailboxes use cannot be deleted (their history would lose its queue); its routes go with it.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from postroom.mail.ticketref import compile_foreign_pattern
from postroom.mailboxes.models import Mailbox
from postroom.tickets.models import Queue, Ticket

MAX_REOPEN_DAYS = 3650  # ten years: longer is a typo, not a policy


class QueueInUseError(Exception):
    """The queue cannot be deleted; the message says what still uses it."""


def validate_queue(queue: Queue) -> dict[str, list[str]]:
    """Every problem with the queue as it would be saved: field -> messages (empty when it may be saved)."""
    errors: dict[str, list[str]] = {}
    if not queue.slug:
        queue.slug = slugify(queue.name)[:50]
    try:
        queue.full_clean(exclude=["tenant"], validate_constraints=False)
    except ValidationError as e:
        errors.update(e.message_dict)
    if queue.slug and Queue.objects.filter(tenant_id=queue.tenant_id, slug=queue.slug).exclude(pk=queue.pk).exists():
        errors.setdefault("slug", []).append(f"another queue is called {queue.slug!r}")
    if queue.reopen_within_days is not None and queue.reopen_within_days > MAX_REOPEN_DAYS:
        errors.setdefault("reopen_within_days", []).append(f"must be at most {MAX_REOPEN_DAYS} days")
    patterns = queue.foreign_reference_patterns
    if not isinstance(patterns, list) or not all(isinstance(pattern, str) for pattern in patterns):
        errors.setdefault("foreign_reference_patterns", []).append("must be a list of regular expressions")
    else:
        for pattern in patterns:
            try:
                compile_foreign_pattern(pattern)
            except ValueError as e:
                errors.setdefault("foreign_reference_patterns", []).append(str(e))
    if queue.pk and not queue.is_default and Queue.objects.filter(pk=queue.pk, is_default=True).exists():
        errors.setdefault("is_default", []).append(
            "mail that nothing routes lands in the default queue: make another queue the default instead"
        )
    return errors


def save_queue(queue: Queue) -> Queue:
    """Validate and save; raise ValidationError (field -> messages) without saving when anything is wrong."""
    errors = validate_queue(queue)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        if queue.is_default:
            Queue.objects.filter(tenant_id=queue.tenant_id, is_default=True).exclude(pk=queue.pk).update(
                is_default=False
            )
        queue.save()
    return queue


def delete_queue(queue: Queue) -> None:
    """Delete the queue and its routes; QueueInUseError while tickets or mailboxes use it, or it is the default."""
    with transaction.atomic():
        locked = Queue.objects.select_for_update().get(pk=queue.pk)
        if locked.is_default:
            raise QueueInUseError("this is the default queue: make another queue the default first")
        if Ticket.objects.filter(tenant_id=locked.tenant_id, queue_id=locked.pk).exists():
            raise QueueInUseError("tickets are in this queue: move them to another queue first")
        mailboxes = list(Mailbox.objects.filter(default_queue_id=queue.pk).values_list("name", flat=True)[:5])
        if mailboxes:
            raise QueueInUseError(f"mailboxes send unrouted mail here ({', '.join(mailboxes)}): change them first")
        locked.delete()
