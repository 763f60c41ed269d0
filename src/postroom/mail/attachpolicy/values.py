"""The attachment policy's values: type families, limits, and the verdict on each part with its evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from postroom.mail.values import MIB


class Family(StrEnum):
    """What a part is, judged from its bytes (the name and declared type are only evidence)."""

    EXECUTABLE = "executable"  # PE, ELF, Mach-O, MSI, Windows scripts, shortcuts, disk images, installable packages
    MACRO_DOCUMENT = "macro_document"  # OLE with VBA storage, OOXML with vbaProject.bin, ODF with Basic scripts
    ARCHIVE = "archive"
    DOCUMENT = "document"
    IMAGE = "image"
    MEDIA = "media"
    TEXT = "text"
    OTHER = "other"


FAMILIES: Final = tuple(family.value for family in Family)


class Outcome(StrEnum):
    """Ordered by severity: a part's outcome is the worst of its reasons."""

    OK = "ok"
    FLAGGED = "flagged"
    BLOCKED = "blocked"


SEVERITY: Final = {Outcome.OK: 0, Outcome.FLAGGED: 1, Outcome.BLOCKED: 2}


class ReasonCode(StrEnum):
    """Machine-readable reasons (docs/architecture/attachment-policy.md has the table)."""

    TOO_LARGE = "too_large"  # over the policy's max_bytes
    TOO_MANY = "too_many"  # beyond the policy's max_count
    BLOCKED_FAMILY = "blocked_family"  # the part's family is on the blocked list
    RISKY_FAMILY = "risky_family"  # executable or macro document that the policy does not block
    TYPE_MISMATCH = "type_mismatch"  # the bytes are of another family than the name or declared type say
    ARCHIVE_BOMB = "archive_bomb"  # compression ratio, total uncompressed size or overlapping entries
    BLOCKED_INSIDE = "blocked_inside"  # an archive member of a blocked family
    RISKY_INSIDE = "risky_inside"  # an archive member that is executable or a macro document, not blocked
    ENCRYPTED = "encrypted"  # encrypted entries or document: their content cannot be inspected
    TOO_DEEP = "too_deep"  # archives nested deeper than max_depth: the inner ones were not opened
    TOO_MANY_ENTRIES = "too_many_entries"  # only the first max_entries members were inspected
    NOT_INSPECTED = "not_inspected"  # an archive format or a member that could not be read within the limits
    UNREADABLE = "unreadable"  # a container that claims a format but does not parse


# Size reasons lead to the quarantine cause `oversized`, every other blocking reason to `blocked_type`.
SIZE_REASONS: Final = frozenset({ReasonCode.TOO_LARGE, ReasonCode.TOO_MANY})


@dataclass(frozen=True, slots=True)
class Reason:
    code: ReasonCode
    outcome: Outcome
    detail: str  # one plain line for agents and the trace: "PE executable named as a PDF"


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """Bounds of archive inspection: what is read from central directories and what is decompressed.

    Nothing is extracted to disk. Declared sizes come from the archive's directory and are checked before anything
    is decompressed; decompression is streamed in chunks and stops at `read_budget_bytes` for the whole part (all
    nesting levels together), so a lying directory costs at most that much memory and CPU.
    Ratio 100:1 is Apache POI's ZipSecureFile default (MIN_INFLATE_RATIO 0.01); office XML and text stay well under
    it, deflate's own maximum is about 1032:1. Below `ratio_floor_bytes` a high ratio is harmless.
    """

    max_ratio: int = 100
    ratio_floor_bytes: int = 1 * MIB
    max_total_bytes: int = 1024 * MIB  # declared uncompressed size of all members, all levels
    max_entries: int = 10_000
    max_depth: int = 3  # an archive in an archive in an archive is opened; one more level is not
    nested_max_bytes: int = 16 * MIB  # a member archive or document is read into memory up to this size
    read_budget_bytes: int = 64 * MIB  # bytes decompressed for one top-level part, all levels together


@dataclass(frozen=True, slots=True)
class AttachmentPolicy:
    """The limits and lists one message is checked against (installation defaults, a mailbox may override)."""

    max_bytes: int = 25 * MIB  # one part; Gmail and Outlook.com refuse larger attachments
    max_count: int = 100  # parts per message; the parser stops at 500 MIME parts altogether
    blocked: frozenset[Family] = frozenset({Family.EXECUTABLE, Family.MACRO_DOCUMENT})
    action: str = "strip"  # "strip": remove blocked parts and note it; "quarantine": hold the message
    archive: ArchiveLimits = field(default_factory=ArchiveLimits)


STRIP: Final = "strip"
QUARANTINE: Final = "quarantine"
ACTIONS: Final = (STRIP, QUARANTINE)


@dataclass(frozen=True, slots=True)
class TypeEvidence:
    """What the bytes show, and what the name and declared type claim."""

    family: Family
    sniffed: str  # a MIME type or a short description from the magic bytes: "application/x-msdownload"
    declared: str  # the Content-Type as declared
    extension: str  # the file name's last extension, lower case, without the dot ("" when none)
    detail: str = ""  # how the family was found: "PE header", "VBA storage", "script extension .js"


@dataclass(frozen=True, slots=True)
class AttachmentVerdict:
    """The policy's verdict on one part, with its reasons and evidence."""

    index: int  # position in ParsedMessage.attachments
    filename: str
    size: int
    evidence: TypeEvidence
    reasons: tuple[Reason, ...]
    members: int = 0  # archive members looked at, all levels

    @property
    def outcome(self) -> Outcome:
        worst = Outcome.OK
        for reason in self.reasons:
            if SEVERITY[reason.outcome] > SEVERITY[worst]:
                worst = reason.outcome
        return worst

    @property
    def is_size_only(self) -> bool:
        """Blocked only for its size or the message's attachment count (quarantine cause `oversized`)."""
        blocking = [reason for reason in self.reasons if reason.outcome is Outcome.BLOCKED]
        return bool(blocking) and all(reason.code in SIZE_REASONS for reason in blocking)

    def describe(self) -> str:
        """`invoice.pdf: blocked (blocked_family: PE executable; type_mismatch: ...)`, for the trace."""
        if not self.reasons:
            return f"{self.filename}: ok ({self.evidence.family})"
        details = "; ".join(f"{reason.code}: {reason.detail}" for reason in self.reasons)
        return f"{self.filename}: {self.outcome} ({details})"


@dataclass(frozen=True, slots=True)
class PolicyReport:
    """Every part's verdict, in message order."""

    verdicts: tuple[AttachmentVerdict, ...]

    def with_outcome(self, outcome: Outcome) -> tuple[AttachmentVerdict, ...]:
        return tuple(verdict for verdict in self.verdicts if verdict.outcome is outcome)

    @property
    def blocked(self) -> tuple[AttachmentVerdict, ...]:
        return self.with_outcome(Outcome.BLOCKED)

    @property
    def flagged(self) -> tuple[AttachmentVerdict, ...]:
        return self.with_outcome(Outcome.FLAGGED)
