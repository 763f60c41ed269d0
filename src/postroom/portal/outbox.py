"""Sign-in mail through an outbox: the web request queues a row, a worker makes the link and sends it.

The web request only writes a `SignInRequest` (for any well-formed address, known or not) and enqueues its id on
commit; looking the address up, making the token and talking to SMTP happen in the worker. So the request takes
the same time and does the same writes whether or not we know the address (no enumeration by timing), and no
token is stored anywhere but as its hash: the worker makes it, stores the hash, builds the mail and hands it to
SMTP in one go. A deferred send is retried with a new token (the earlier link expires unused) until the request
is older than a link's lifetime, after which nobody is waiting for it.

Postroom's ticket outbox (`postroom.outbound`) is not used: each of its rows belongs to a ticket message that
agents see on the timeline, and its raw bytes stay in the blob store; a sign-in link must be neither.

The mail is automatic: `Auto-Submitted: auto-generated` (RFC 3834 section 5: it answers no message, so not
`auto-replied`), `X-Auto-Response-Suppress: All` (Exchange's switch for out-of-office replies) and our loop header
(docs/architecture/automatic-mail.md).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Final

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from postroom.core.dispatch import enqueue_on_commit, send_task
from postroom.mail.automation import AUTO_GENERATED
from postroom.mail.compose import OutgoingMail, build_message
from postroom.mail.transport.smtp import SendResult, SendStatus, next_retry_delay
from postroom.mail.values import Address
from postroom.outbound.relay import RelayNotConfiguredError, find_relay_settings, get_pool
from postroom.outbound.services import find_from_address, get_loop_id
from postroom.portal.conf import get_portal_settings
from postroom.portal.links import issue_link, purge_old_links
from postroom.portal.models import SignInRequest, SignInRequestStatus
from postroom.tickets.models import Contact, Participant, Ticket

log = logging.getLogger(__name__)

SEND_TASK: Final = "postroom.portal.send_sign_in_link"
LEASE_SECONDS: Final = 300  # as the ticket outbox: longer than the SMTP timeouts of one attempt
SWEEP_BATCH: Final = 20  # due requests a worker sends after its own (retries whose hand-off nobody else makes)
KEEP_EXPIRED_LINKS: Final = dt.timedelta(days=1)  # spent and expired link rows are deleted after this
# Someone is waiting on the sign-in page: retry soon and often (the ticket outbox starts at 60 s, caps at an hour).
RETRY_BASE_SECONDS: Final = 15.0
RETRY_CAP_SECONDS: Final = 120.0

SIGN_IN_SUBJECT: Final = "Your sign-in link"
SIGN_IN_BODY: Final = (
    "Hello,\n\n"
    "someone, hopefully you, asked to see your requests to {team} on the web.\n"
    "Open this link within {minutes} minutes to sign in:\n\n"
    "{link}\n\n"
    "The link works once. If you did not ask for it, ignore this message: nobody can sign in without it.\n\n"
    "This is an automatic message."
)


def queue_sign_in_request(email_key: str, link_origin: str, now: dt.datetime) -> SignInRequest:
    """The outbox row for one request (caller's transaction); the worker is told once it commits."""
    row = SignInRequest.objects.create(
        email_key=email_key[:320], link_origin=link_origin[:500], requested_at=now, next_attempt_at=now
    )
    enqueue_on_commit(SEND_TASK, request_id=row.pk)
    return row


def find_portal_contacts(email_key: str) -> list[Contact]:
    """Contacts with this address that have at least one ticket to show (requester or participant), any tenant."""
    requester = Ticket.objects.filter(requester_id=OuterRef("pk"))
    participant = Participant.objects.filter(contact_id=OuterRef("pk"))
    return list(
        Contact.objects.filter(email_key=email_key).filter(Q(Exists(requester)) | Q(Exists(participant))).order_by("id")
    )


def find_sender(contact: Contact) -> Address:
    """From the queue of the contact's most recent ticket: the address they wrote to and hear from."""
    on_it = Participant.objects.filter(ticket_id=OuterRef("pk"), contact_id=contact.pk)
    ticket = (
        Ticket.objects.filter(tenant_id=contact.tenant_id)
        .filter(Q(requester_id=contact.pk) | Exists(on_it))
        .select_related("queue", "tenant")
        .order_by("-last_message_at", "-id")
        .first()
    )
    if ticket is None:
        raise LookupError(f"contact {contact.pk} has no ticket")
    return find_from_address(ticket)


def build_link(link_origin: str, token: str) -> str:
    return link_origin.rstrip("/") + reverse("portal:link", kwargs={"token": token})


def build_sign_in_mail(*, sender: Address, to: Address, link: str, minutes: int, now: dt.datetime) -> bytes:
    """The sign-in mail's bytes: plain text only (a link in HTML mail invites look-alike phishing)."""
    domain = sender.address.rpartition("@")[2] or "postroom.invalid"
    mail = OutgoingMail(
        from_=sender,
        to=(to,),
        subject=SIGN_IN_SUBJECT,
        text=SIGN_IN_BODY.format(team=sender.name or sender.address, minutes=minutes, link=link),
        message_id=f"signin.{secrets.token_hex(12)}@{domain}",
        date=now,
        automatic=True,
        auto_submitted=AUTO_GENERATED,
        loop_id=get_loop_id(),
    )
    return build_message(mail)


def _claim(request_id: int, now: dt.datetime) -> SignInRequest | None:
    with transaction.atomic():
        row = (
            SignInRequest.objects.select_for_update(skip_locked=True)
            .filter(pk=request_id, next_attempt_at__lte=now)
            .first()
        )
        if row is None:
            return None
        row.status = SignInRequestStatus.SENDING
        row.attempts += 1
        row.next_attempt_at = now + dt.timedelta(seconds=LEASE_SECONDS)
        row.save(update_fields=["status", "attempts", "next_attempt_at"])
        return row


def _send_to(contact: Contact, row: SignInRequest, now: dt.datetime) -> SendResult:
    """Make a link for `contact` (committed first, so it works the moment the mail arrives) and send it."""
    conf = get_portal_settings()
    sender = find_sender(contact)
    token = issue_link(contact, now, conf.link_lifetime)
    raw = build_sign_in_mail(
        sender=sender,
        to=Address(name=contact.name, address=contact.email),
        link=build_link(row.link_origin, token),
        minutes=int(conf.link_lifetime.total_seconds() // 60),
        now=now,
    )
    try:
        smtp = find_relay_settings(contact.tenant, sender.address)
    except RelayNotConfiguredError as e:
        return SendResult(SendStatus.DEFERRED, None, str(e), {})
    return get_pool(smtp).send(sender.address, [contact.email], raw)


def process_sign_in_request(request_id: int, now: dt.datetime | None = None) -> str | None:
    """Send the links of one request if it is due; its outcome (None when another worker has it or not due).

    "sent", "nobody" (no contact with a ticket has the address), "expired" (older than a link's lifetime) and
    "failed" (the server refused for good) end the request and delete its row; "deferred" keeps it for a retry."""
    moment = now or timezone.now()
    row = _claim(request_id, moment)
    if row is None:
        return None
    if row.requested_at + get_portal_settings().link_lifetime <= moment:
        row.delete()
        log.info("sign-in request %s expired before it could be sent", request_id)
        return "expired"
    contacts = [c for c in find_portal_contacts(row.email_key) if c.pk not in row.done_contact_ids]
    if not contacts and not row.done_contact_ids:
        row.delete()
        return "nobody"
    outcome = "sent"
    for contact in contacts:
        try:
            result = _send_to(contact, row, moment)
        except Exception as e:  # our bug, not the server's answer: retry, and keep the error in the log
            log.exception("sign-in request %s: sending to contact %s failed", request_id, contact.pk)
            result = SendResult(SendStatus.DEFERRED, None, f"internal error: {type(e).__name__}", {})
        if result.status == SendStatus.DEFERRED:
            row.status = SignInRequestStatus.DEFERRED
            row.last_reply = result.reply[:2000]
            row.next_attempt_at = moment + dt.timedelta(seconds=_retry_delay(row.attempts))
            row.save(update_fields=["status", "last_reply", "next_attempt_at", "done_contact_ids"])
            log.info("sign-in request %s deferred: %s", request_id, result.reply)
            return "deferred"
        if result.status == SendStatus.FAILED or contact.email in result.refused:
            outcome = "failed"
            log.info("sign-in request %s: the server refused the mail: %s", request_id, result.reply)
        row.done_contact_ids = [*row.done_contact_ids, contact.pk]
    row.delete()
    return outcome


def _retry_delay(attempts: int) -> float:
    return next_retry_delay(attempts, base_seconds=RETRY_BASE_SECONDS, cap_seconds=RETRY_CAP_SECONDS)


def find_due_sign_in_requests(limit: int, now: dt.datetime | None = None) -> list[int]:
    moment = now or timezone.now()
    due = SignInRequest.objects.filter(next_attempt_at__lte=moment).order_by("next_attempt_at", "id")
    return list(due.values_list("pk", flat=True)[:limit])


def send_due_sign_in_requests(limit: int = 100, now: dt.datetime | None = None) -> int:
    """The sweeper's part: send what is due (retries, lost hand-offs, lapsed leases) and purge old link rows."""
    moment = now or timezone.now()
    done = sum(process_sign_in_request(pk, moment) is not None for pk in find_due_sign_in_requests(limit, moment))
    purge_old_links(moment - KEEP_EXPIRED_LINKS)
    return done


def requeue_due_sign_in_requests(limit: int = 500) -> int:
    """Distributed mode's scheduler: hand due requests to the workers (a claim makes repeats harmless)."""
    due = find_due_sign_in_requests(limit)
    for request_id in due:
        send_task(SEND_TASK, request_id=request_id)
    return len(due)
