"""The attachment policy: sniff each part's real type, look inside archives and documents, and judge it.

Pure (no Django): `detect_attachment_verdicts(attachments, policy)` returns a verdict per part (ok, flagged or
blocked, with reasons and evidence); the screen stage maps them to strip or quarantine
(docs/architecture/attachment-policy.md).
"""

from postroom.mail.attachpolicy.policy import build_removal_note, detect_attachment_verdicts, detect_part_verdict
from postroom.mail.attachpolicy.values import (
    ACTIONS,
    FAMILIES,
    QUARANTINE,
    STRIP,
    ArchiveLimits,
    AttachmentPolicy,
    AttachmentVerdict,
    Family,
    Outcome,
    PolicyReport,
    Reason,
    ReasonCode,
)

__all__ = [
    "ACTIONS",
    "FAMILIES",
    "QUARANTINE",
    "STRIP",
    "ArchiveLimits",
    "AttachmentPolicy",
    "AttachmentVerdict",
    "Family",
    "Outcome",
    "PolicyReport",
    "Reason",
    "ReasonCode",
    "build_removal_note",
    "detect_attachment_verdicts",
    "detect_part_verdict",
]
