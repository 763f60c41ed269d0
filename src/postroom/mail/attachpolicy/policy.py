"""The verdict on every attachment of a message: ok, flagged or blocked, each with its reasons and evidence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from postroom.mail.attachpolicy.archives import inspect_part
from postroom.mail.attachpolicy.sniffing import SNIFF_BYTES, build_type_evidence, find_claimed_family, is_mismatch
from postroom.mail.attachpolicy.values import (
    AttachmentPolicy,
    AttachmentVerdict,
    Family,
    Outcome,
    PolicyReport,
    Reason,
    ReasonCode,
)
from postroom.mail.values import ParsedAttachment

MAX_DETAILS_PER_CODE: Final = 3  # more of the same reason are summed up: the trace stays short for a 5,000-file zip
RISKY: Final = frozenset({Family.EXECUTABLE, Family.MACRO_DOCUMENT})


def detect_attachment_verdicts(attachments: Sequence[ParsedAttachment], policy: AttachmentPolicy) -> PolicyReport:
    """Judge every part of a message (inline ones too) against the policy."""
    return PolicyReport(
        tuple(
            detect_part_verdict(part.payload, part.filename, part.content_type, policy, index=index)
            for index, part in enumerate(attachments)
        )
    )


def detect_part_verdict(
    payload: bytes, filename: str, declared: str, policy: AttachmentPolicy, *, index: int = 0
) -> AttachmentVerdict:
    """One part's verdict. Parts over the size or count limits are not opened: their type is sniffed only."""
    reasons: list[Reason] = []
    if index >= policy.max_count:
        reasons.append(Reason(ReasonCode.TOO_MANY, Outcome.BLOCKED, f"more than {policy.max_count} attachments"))
    if len(payload) > policy.max_bytes:
        reasons.append(
            Reason(ReasonCode.TOO_LARGE, Outcome.BLOCKED, f"{_size(len(payload))}, over {_size(policy.max_bytes)}")
        )
    if reasons:
        evidence = build_type_evidence(payload[: SNIFF_BYTES * 5], filename, declared)
        return AttachmentVerdict(index, filename, len(payload), evidence, tuple(reasons))
    inspection = inspect_part(payload, filename, declared, policy)
    evidence = inspection.evidence
    family = evidence.family
    if family in policy.blocked:
        reasons.append(Reason(ReasonCode.BLOCKED_FAMILY, Outcome.BLOCKED, f"{family}: {evidence.detail}"))
    elif family in RISKY:
        reasons.append(Reason(ReasonCode.RISKY_FAMILY, Outcome.FLAGGED, f"{family}: {evidence.detail}"))
    claimed = find_claimed_family(evidence)
    if claimed is not None and is_mismatch(claimed, family):
        named = f"named .{evidence.extension}" if evidence.extension else f"declared {evidence.declared}"
        reasons.append(Reason(ReasonCode.TYPE_MISMATCH, Outcome.FLAGGED, f"{family} ({evidence.detail}), but {named}"))
    reasons.extend(_compact(inspection.reasons))
    return AttachmentVerdict(index, filename, len(payload), evidence, tuple(reasons), inspection.members)


def _compact(reasons: Sequence[Reason]) -> list[Reason]:
    """At most MAX_DETAILS_PER_CODE reasons of each code and outcome; the rest counted in the last one."""
    kept: list[Reason] = []
    extra: dict[tuple[ReasonCode, Outcome], int] = {}
    for reason in reasons:
        key = (reason.code, reason.outcome)
        if sum(1 for seen in kept if (seen.code, seen.outcome) == key) < MAX_DETAILS_PER_CODE:
            kept.append(reason)
        else:
            extra[key] = extra.get(key, 0) + 1
    for (code, outcome), count in extra.items():
        kept.append(Reason(code, outcome, f"and {count} more"))
    return kept


def _size(size: int) -> str:
    for unit, factor in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} bytes"


def build_removal_note(verdict: AttachmentVerdict) -> str:
    """The line that replaces a stripped part in the ticket: which file, and why."""
    why = "; ".join(reason.detail for reason in verdict.reasons if reason.outcome is Outcome.BLOCKED)
    return (
        f'[Attachment "{verdict.filename}" ({_size(verdict.size)}) was removed by the attachment policy: {why}. '
        "The original message is kept unchanged in the inbound ledger.]"
    )
