"""Classify automatic mail and hold loops, senders over their rate window and (per mailbox) auto replies.

The classifier is pure (postroom.mail.automation); this screen gives it what marks our own mail (the installation's
loop header value, our addresses, a Message-ID signed with the tenant's threading key, an answer to an automatic
reply of ours) and counts the sender's mail in the ledger, so the count holds across workers and restarts.

Holds, in this order: `loop` (our own mail came back), `rate_limited` (the circuit breaker: more messages from one
sender within the window than the limit, POSTROOM_SENDER_RATE_LIMIT or the mailbox's `automation.sender_rate_limit`),
`auto_reply` (only when the mailbox's `automation.hold_auto_replies` is true). Other automatic mail goes on: it is
appended quietly or opens a ticket, and never gets an automatic answer (the admit stage). Every hold is counted in
`postroom_screened_total{cause=...}`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Final

from django.db import connection

from postroom.core.metrics import increment
from postroom.inbound.context import InboundContext
from postroom.inbound.models import InboundMessage, QuarantineCause
from postroom.inbound.queries import get_own_addresses, is_agent_address
from postroom.inbound.screening import DataValue, Finding
from postroom.inbound.waivers import find_waiver
from postroom.mail.automation import (
    AUTO_GENERATED,
    AutomationKind,
    AutomationVerdict,
    OwnMail,
    RateDecision,
    RateWindow,
    detect_automation,
    detect_rate_breach,
    parse_rate_window,
)
from postroom.mail.tokens import TokenVerdict, find_tokens, verify_token
from postroom.mail.values import ParsedMessage
from postroom.tenants.keys import get_key_ring
from postroom.tickets.models import Direction, Message

NAME: Final = "automation"
METRIC: Final = "postroom_screened_total"
SETTINGS_KEY: Final = "automation"  # Mailbox.settings["automation"]: {"hold_auto_replies", "sender_rate_limit"}
AUTO_REPLY_KINDS: Final = frozenset({AutomationKind.AUTO_REPLY, AutomationKind.OUT_OF_OFFICE})


def _signed_by_us(ctx: InboundContext) -> Callable[[str], bool]:
    """A Message-ID that carries a threading token signed with this tenant's key was made by us."""

    def check(message_id: str) -> bool:
        candidates = find_tokens(message_ids=[message_id])
        if not candidates:
            return False
        ring = get_key_ring(ctx.tenant)
        return any(verify_token(text, ring.keys).verdict == TokenVerdict.VALID for text in candidates)

    return check


def _build_own_mail(ctx: InboundContext) -> OwnMail:
    options = ctx.options
    return OwnMail(
        loop_ids=frozenset({options.installation_id.lower()} if options.installation_id else ()),
        addresses=get_own_addresses(ctx.tenant).addresses,
        message_id_domains=frozenset(options.own_message_id_domains),
        is_own_message_id=_signed_by_us(ctx),
    )


def _answered_id(parsed: ParsedMessage) -> str:
    """The message this one answers: In-Reply-To, else the last of References (RFC 5322 section 3.6.4)."""
    if parsed.in_reply_to:
        return parsed.in_reply_to[0]
    return parsed.references[-1] if parsed.references else ""


def find_answered_auto_reply(ctx: InboundContext, parsed: ParsedMessage) -> str:
    """The Message-ID of an automatic reply of ours (auto-replied, not auto-generated) that this message answers."""
    answered = _answered_id(parsed)
    if not answered or not find_tokens(message_ids=[answered]):  # every Message-ID we make carries a token
        return ""
    rows = Message.objects.filter(
        tenant_id=ctx.tenant.pk, direction=Direction.OUTBOUND, is_automatic=True, message_id=answered
    ).values_list("headers", flat=True)
    for headers in rows:
        marks = {str(value).lower() for name, value in headers or () if str(name).lower() == "auto-submitted"}
        if AUTO_GENERATED not in marks:
            return answered
    return ""


def classify(ctx: InboundContext) -> AutomationVerdict:
    """The classifier's verdict with everything the installation knows about its own mail (kept on the context)."""
    parsed = ctx.require_parsed()
    verdict = detect_automation(
        parsed, own=_build_own_mail(ctx), answers_automatic=find_answered_auto_reply(ctx, parsed)
    )
    ctx.automation = verdict
    return verdict


def _mailbox_options(ctx: InboundContext) -> dict[str, object]:
    settings = ctx.mailbox.settings if ctx.mailbox is not None else None
    section = settings.get(SETTINGS_KEY) if isinstance(settings, dict) else None
    return section if isinstance(section, dict) else {}


def _rate_window(ctx: InboundContext) -> RateWindow | None:
    raw = _mailbox_options(ctx).get("sender_rate_limit")
    if isinstance(raw, str):
        try:
            return parse_rate_window(raw)
        except ValueError:
            pass  # refused when saved (postroom.mailboxes.connector_settings); an old row keeps the default
    return ctx.options.sender_rate_limit


def count_recent_from_sender(ctx: InboundContext, sender: str, window: RateWindow) -> int:
    """Messages from `sender` in this tenant's ledger within the window before this one (at most limit + 1 read).

    Counted from the ledger, so every worker sees the same number; a message still waiting for its worker has no
    sender yet and is not counted, so the breaker opens at most one message per concurrent worker late. One plain
    SQL statement on the (tenant, lower(sender), received_at) index: it runs for every message."""
    end = ctx.inbound.received_at
    start = end - dt.timedelta(minutes=window.minutes)
    table = InboundMessage._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE tenant_id = %s AND LOWER(sender) = %s"  # noqa: S608
            " AND received_at > %s AND received_at <= %s AND id <> %s LIMIT %s) AS recent",
            [ctx.tenant.pk, sender.lower(), start, end, ctx.inbound.pk, window.limit + 1],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def _rate_decision(ctx: InboundContext) -> RateDecision | None:
    sender = ctx.requester.address if ctx.requester is not None else ""
    window = _rate_window(ctx)
    if not sender or window is None or ctx.allow_listed or is_agent_address(sender):
        return None  # allow-listed senders and agents (who forward mail in) have no rate window
    return detect_rate_breach(count_recent_from_sender(ctx, sender, window), window)


def _choose_hold(ctx: InboundContext, verdict: AutomationVerdict, rate: RateDecision | None) -> str:
    holds: list[str] = []
    if verdict.is_loop:
        holds.append(QuarantineCause.LOOP)
    if rate is not None and rate.over:
        holds.append(QuarantineCause.RATE_LIMITED)
    if verdict.kind in AUTO_REPLY_KINDS and _mailbox_options(ctx).get("hold_auto_replies") is True:
        holds.append(QuarantineCause.AUTO_REPLY)
    # An admin who released the message for one of these causes looked at it: the screen stage lets it through.
    waived = [cause for cause in holds if find_waiver(ctx, cause) is not None]
    return (waived or holds or [""])[0]


def check(ctx: InboundContext) -> Finding | None:
    verdict = classify(ctx)
    rate = _rate_decision(ctx)
    hold = _choose_hold(ctx, verdict, rate)
    if not hold and not verdict.reasons:
        return None  # a person's mail within the window: nothing to note
    reasons = [f"{verdict.kind}: {verdict.reason}" if verdict.reasons else "not automatic mail"]
    if rate is not None and (rate.over or hold):
        reasons.append(rate.reason)
    data: dict[str, DataValue] = {"automation": str(verdict.kind)}
    if verdict.signals:
        data["automation_signals"] = ",".join(verdict.signals)
    if rate is not None and rate.window is not None:
        data["sender_count"] = rate.count
        data["rate_window"] = str(rate.window)
    if hold:
        if find_waiver(ctx, hold) is None:
            increment(METRIC, {"cause": hold})
        return Finding(reason=f"held as {hold}: " + "; ".join(reasons), data=data, hold=hold)
    return Finding(reason="; ".join(reasons), data=data)
