"""Judge every attachment by its real type and contents; strip blocked parts or hold the message, per policy.

The policy is the installation's (POSTROOM_ATTACHMENT_*) with the mailbox's `attachments` setting over it
(docs/architecture/attachment-policy.md). Action `strip`: the blocked parts are left out of the ticket, each replaced
by a note (ctx.stripped_attachments, read by the persist stage); the raw message in the ledger keeps them.
Action `quarantine`: the message is held as `blocked_type`, or `oversized` when only size or count limits were
broken; an admin's release waives that cause and the message goes on with every part.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from django.conf import settings

from postroom.inbound.context import InboundContext
from postroom.inbound.models import QuarantineCause
from postroom.inbound.screening import DataValue, Finding
from postroom.mail.attachpolicy import (
    ACTIONS,
    FAMILIES,
    QUARANTINE,
    AttachmentPolicy,
    Family,
    PolicyReport,
    build_removal_note,
    detect_attachment_verdicts,
)

NAME: Final = "attachment_policy"
MAX_TRACE_CHARS: Final = 1500  # the verdicts in the trace: enough for a dozen parts, never a wall of text


def check(ctx: InboundContext) -> Finding | None:
    attachments = ctx.require_parsed().attachments
    if not attachments:
        return None
    policy = build_mailbox_policy(installation_policy(), ctx.mailbox.settings if ctx.mailbox else None)
    report = detect_attachment_verdicts(attachments, policy)
    data = _trace_data(report)
    blocked, flagged = report.blocked, report.flagged
    if not blocked:
        if not flagged:
            return None
        names = ", ".join(verdict.filename for verdict in flagged)
        return Finding(reason=f"attachments flagged for a closer look: {names}", data=data)
    names = ", ".join(verdict.filename for verdict in blocked)
    if policy.action == QUARANTINE:
        size_only = all(verdict.is_size_only for verdict in blocked)
        cause = QuarantineCause.OVERSIZED if size_only else QuarantineCause.BLOCKED_TYPE
        return Finding(reason=f"attachment policy blocks {names}", data=data, hold=cause)
    ctx.stripped_attachments = {verdict.index: build_removal_note(verdict) for verdict in blocked}
    return Finding(reason=f"attachment policy stripped {names} (a note replaces each)", data=data)


def installation_policy() -> AttachmentPolicy:
    """The POSTROOM_ATTACHMENT_* defaults (postroom.conf.env)."""
    conf = settings.POSTROOM
    return AttachmentPolicy(
        max_bytes=conf.attachment_max_bytes,
        max_count=conf.attachment_max_count,
        blocked=frozenset(Family(name) for name in conf.attachment_blocked),
        action=conf.attachment_action,
    )


def build_mailbox_policy(base: AttachmentPolicy, mailbox_settings: object) -> AttachmentPolicy:
    """The mailbox's `attachments` over the installation's policy; values that do not validate are ignored (the
    settings were checked when saved: postroom.mailboxes.connector_settings)."""
    raw = mailbox_settings.get("attachments") if isinstance(mailbox_settings, Mapping) else None
    if not isinstance(raw, Mapping):
        return base
    max_bytes, max_count = raw.get("max_bytes"), raw.get("max_count")
    blocked, action = raw.get("blocked"), raw.get("action")
    return AttachmentPolicy(
        max_bytes=_count_or(max_bytes, base.max_bytes),
        max_count=_count_or(max_count, base.max_count),
        blocked=(
            frozenset(Family(name) for name in blocked)
            if isinstance(blocked, list) and all(name in FAMILIES for name in blocked)
            else base.blocked
        ),
        action=action if action in ACTIONS else base.action,
        archive=base.archive,
    )


def _count_or(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


def _trace_data(report: PolicyReport) -> dict[str, DataValue]:
    """Counts, and one compact line per part that is not ok (evidence and reasons)."""
    lines = [verdict.describe() for verdict in report.verdicts if verdict.reasons]
    text = " | ".join(lines)
    if len(text) > MAX_TRACE_CHARS:
        text = text[: MAX_TRACE_CHARS - 1] + "…"
    return {
        "attachments": len(report.verdicts),
        "attachments_blocked": len(report.blocked),
        "attachments_flagged": len(report.flagged),
        "attachment_verdicts": text or None,
    }
