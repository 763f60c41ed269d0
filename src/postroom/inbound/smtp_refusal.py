"""Refusing forged mail during the SMTP session: sender_auth mode `reject` of an SMTP mailbox.

An SMTP mailbox (kind `smtp`) receives the listener's mail for its address. When a message for it fails sender
authentication (a possible spoof, postroom.mail.auth) and the mailbox's mode is `reject`, the listener answers
`550 5.7.26` (RFC 7372: multiple authentication checks failed) instead of 250, so the sending server bounces it
to its sender, the way receivers enforce a DMARC `p=reject`.

Nothing is lost on our side either: the raw message is written to the ledger like any other, quarantined as
`auth_failed` with the refusal in its trace, so an admin can still read it and release it (a false positive
then becomes a ticket). A temporary DNS failure never refuses (RFC 7489 §6.6.2): the message is accepted and the
pipeline tags it. Mail without an SMTP mailbox, or whose mailbox is not in `reject` mode, is judged by the
pipeline as before, after the 250.
"""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Iterable
from typing import Final

from django.conf import settings
from django.utils import timezone

from postroom.core.localcache import TtlCache
from postroom.inbound.auth_dns import get_resolver
from postroom.inbound.models import InboundMessage, InboundStatus, QuarantineCause
from postroom.inbound.sender_auth import REJECT, evidence_lines, had_temporary_error, read_mode
from postroom.inbound.services import ReceiveResult, find_cached_tenant, receive_message
from postroom.mail.auth import SenderAuthentication, evaluate_sender
from postroom.mail.transport.delivery import Envelope
from postroom.mailboxes.models import ConnectorKind, Mailbox

REFUSAL_CODE: Final = "550 5.7.26"  # RFC 7372 section 3.3: multiple authentication checks failed
REFUSAL_TEXT: Final = "Message refused: the sender's domain did not authenticate it (SPF, DKIM, DMARC)"
_smtp_mailboxes: TtlCache[int, dict[str, Mailbox]] = TtlCache()


def _load_smtp_mailboxes(tenant_id: int) -> dict[str, Mailbox]:
    rows = Mailbox.objects.filter(tenant_id=tenant_id, kind=ConnectorKind.SMTP, is_active=True).exclude(address="")
    return {mailbox.address.strip().lower(): mailbox for mailbox in rows.select_related("tenant")}


def find_smtp_mailbox(rcpt_tos: Iterable[str]) -> Mailbox | None:
    """The active SMTP mailbox whose address is one of the recipients (a plus-tag ignored), if any."""
    tenant = find_cached_tenant()
    mailboxes = _smtp_mailboxes.get_or_load(tenant.pk, lambda: _load_smtp_mailboxes(tenant.pk))
    for rcpt in rcpt_tos:
        local, _, domain = rcpt.strip().lower().rpartition("@")
        for key in (f"{local}@{domain}", f"{local.split('+', 1)[0]}@{domain}"):
            if key in mailboxes:
                return mailboxes[key]
    return None


def judge_before_accepting(envelope: Envelope, mailbox: Mailbox, client_ip: str | None) -> SenderAuthentication | None:
    """The failed authentication to refuse the message for, or None to accept it (and judge it later)."""
    if read_mode(mailbox) != REJECT:
        return None
    conf = settings.POSTROOM
    auth = evaluate_sender(
        envelope.raw,
        client_ip=client_ip,
        helo=envelope.helo or None,
        mail_from=envelope.mail_from,
        resolver=get_resolver(float(conf.dns_timeout_seconds)),
        trusted_authserv_ids=conf.trusted_authserv_ids,
        now=timezone.now(),
    )
    if not auth.possible_spoof or had_temporary_error(auth):
        return None
    return auth


def record_refusal(
    envelope: Envelope, mailbox: Mailbox, client_ip: str | None, auth: SenderAuthentication
) -> ReceiveResult:
    """Keep the refused message in the ledger, quarantined as auth_failed with the refusal and its evidence."""
    result = receive_message(
        envelope.raw,
        source_kind="smtp",
        mailbox=mailbox,
        envelope_from=envelope.mail_from,
        envelope_to=envelope.rcpt_tos,
        client_ip=client_ip,
        helo=envelope.helo,
        enqueue=False,
    )
    if not result.created:
        return result
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(envelope.raw)
    evidence = "\n".join(evidence_lines(auth))
    first = auth.evidence[0] if auth.evidence else "possible spoof"
    trace = [
        {
            "stage": "smtp",
            "verdict": "rejected",
            "reason": f"refused during the SMTP session with {REFUSAL_CODE}: {first}; mailbox {mailbox.name} "
            "rejects possible spoofs, and the message is kept here for review",
            "data": {"dmarc": str(auth.dmarc.result), "helo": envelope.helo or None, "evidence": evidence or None},
        }
    ]
    InboundMessage.objects.filter(pk=result.inbound_id).update(
        status=InboundStatus.QUARANTINED,
        cause=QuarantineCause.AUTH_FAILED,
        processed_at=timezone.now(),
        trace=trace,
        sender=str(headers.get("From", "") or envelope.mail_from)[:320],
        subject=str(headers.get("Subject", ""))[:998],
    )
    return result
