"""The screen stage's sender authentication: a mailbox's mode, the check, and what the mode does with a spoof.

| mode (`Mailbox.settings["sender_auth"]`) | a possible spoof is |
|---|---|
| `off` | not looked for: no DNS lookup at all |
| `tag` (default, also mail with no mailbox) | processed; the message carries `possible_spoof` and the evidence |
| `quarantine` | quarantined as `auth_failed`; an admin's release lets it through, still tagged |
| `reject` | SMTP mailboxes: refused in the SMTP session (550 5.7.26) and kept in quarantine (smtp_refusal.py); |
| | mail that reaches the pipeline anyway (fetched, imported, or a DNS hiccup at SMTP time) is quarantined |

A temporary DNS error anywhere in the checks only tags: the verdict may change on retry, and mail must not be
held because a resolver was slow (RFC 7489 §6.6.2 leaves temperror handling to the receiver). The checks
themselves are postroom.mail.auth (docs/architecture/sender-authentication.md).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from django.utils import timezone

from postroom.inbound.auth_dns import get_resolver
from postroom.inbound.context import InboundContext
from postroom.mail.auth import (
    ArcResult,
    DkimResult,
    DmarcResult,
    SenderAuthentication,
    SpfResult,
    evaluate_sender,
)
from postroom.mailboxes.connector_settings import DEFAULT_SENDER_AUTH, SENDER_AUTH_MODES
from postroom.mailboxes.models import Mailbox

OFF: Final = "off"
TAG: Final = "tag"
QUARANTINE: Final = "quarantine"
REJECT: Final = "reject"
SMTP_SOURCE: Final = "smtp"
MAX_EVIDENCE_LINES: Final = 20  # judge_spoof lists at most 10 DKIM signatures plus a few lines; a bound anyway


@dataclass(frozen=True, slots=True)
class AuthOutcome:
    """The check's result and what the mode makes of it."""

    mode: str
    result: SenderAuthentication | None  # None: mode off
    hold: bool  # quarantine (or reject) this message for auth_failed, unless a release waived it
    temporary: bool  # a DNS lookup failed temporarily: tag only

    def trace_data(self) -> dict[str, str | int | None]:
        data: dict[str, str | int | None] = {"sender_auth": self.mode}
        if self.result is None:
            return data
        auth = self.result
        data["possible_spoof"] = "yes" if auth.possible_spoof else "no"
        data["dmarc"] = str(auth.dmarc.result)
        data["spf"] = str(auth.spf.result) if auth.spf else None
        data["dkim"] = ",".join(str(s.result) for s in auth.dkim) or None
        data["arc"] = str(auth.arc.result)
        data["dns"] = "temporary error" if self.temporary else None
        data["evidence"] = "\n".join(evidence_lines(auth)) or None
        return data


def read_mode(mailbox: Mailbox | None) -> str:
    """The mailbox's sender_auth mode; mail with no mailbox (the SMTP listener, a file import) gets the default."""
    settings = mailbox.settings if mailbox is not None and isinstance(mailbox.settings, Mapping) else {}
    mode = settings.get("sender_auth") or DEFAULT_SENDER_AUTH
    return mode if mode in SENDER_AUTH_MODES else DEFAULT_SENDER_AUTH


def evidence_lines(auth: SenderAuthentication) -> list[str]:
    """What the agent reads: the deciding line first, then every check, then what could not be checked."""
    return [*auth.evidence, *(f"not checked: {line}" for line in auth.unchecked)][:MAX_EVIDENCE_LINES]


def had_temporary_error(auth: SenderAuthentication) -> bool:
    return (
        auth.dmarc.result is DmarcResult.TEMPERROR
        or (auth.spf is not None and auth.spf.result is SpfResult.TEMPERROR)
        or any(sig.result is DkimResult.TEMPERROR for sig in auth.dkim)
        or (auth.arc.result is ArcResult.FAIL and auth.arc.temporary)
    )


def spf_client_ip(ctx: InboundContext) -> str | None:
    """The SMTP client to check SPF for: only mail our listener received, and not from a loopback peer (a local
    MTA handing over by LMTP or SMTP; its own Authentication-Results are what counts then)."""
    row = ctx.inbound
    if row.source_kind != SMTP_SOURCE or not row.client_ip:
        return None
    try:
        return None if ipaddress.ip_address(row.client_ip).is_loopback else str(row.client_ip)
    except ValueError:
        return None


def check_sender(ctx: InboundContext) -> AuthOutcome:
    """Run sender authentication per the mailbox's mode; sets ctx.sender_auth unless the mode is off."""
    mode = read_mode(ctx.mailbox)
    if mode == OFF:
        return AuthOutcome(mode=mode, result=None, hold=False, temporary=False)
    row = ctx.inbound
    auth = evaluate_sender(
        ctx.raw,
        client_ip=spf_client_ip(ctx),
        helo=(row.helo or None) if row.source_kind == SMTP_SOURCE else None,  # RFC 7208 §2.3: SPF of <> checks HELO
        mail_from=row.envelope_from if row.source_kind == SMTP_SOURCE else None,
        resolver=get_resolver(ctx.options.dns_timeout_seconds),
        trusted_authserv_ids=ctx.options.trusted_authserv_ids,
        now=timezone.now(),
    )
    ctx.sender_auth = auth
    temporary = had_temporary_error(auth)
    hold = auth.possible_spoof and not temporary and mode in (QUARANTINE, REJECT)
    return AuthOutcome(mode=mode, result=auth, hold=hold, temporary=temporary)
