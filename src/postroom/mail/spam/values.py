"""What a spam scanner says about a message, the mailbox's thresholds, and the verdict they give together."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

MAX_RULES: Final = 10  # rule names kept for the trace: the deciding ones are few, a long list is noise
DEFAULT_SCAN_MAX_BYTES: Final = 500 * 1024  # spamc's default size limit (spamc(1) -s): larger mail is cut to this


class ScanOutcome(enum.StrEnum):
    SCANNED = "scanned"
    UNSCANNED = "unscanned"  # the scanner was down, slow or refused: the message goes on, tagged in the trace


class SpamAction(enum.StrEnum):
    """What the thresholds make of a score, mildest first."""

    PASS = "pass"  # noqa: S105 (a verdict name, not a password)
    TAG = "tag"
    QUARANTINE = "quarantine"
    DROP = "drop"


class ScannerError(Exception):
    """The scanner could not score the message (connection refused, timeout, protocol error); one line, no secret."""


@dataclass(frozen=True, slots=True)
class SpamScan:
    """One scanner's answer (or why there is none).

    `score` is on the scanner's own scale (SpamAssassin and rspamd both put spam around 5 and above);
    `required` is the scanner's own spam threshold and `scanner_flag` its own yes/no, recorded, not used to decide:
    the mailbox's thresholds decide. `action` is rspamd's recommended action ("" elsewhere).
    """

    scanner: str
    outcome: ScanOutcome
    score: float | None = None
    required: float | None = None
    scanner_flag: bool | None = None
    rules: tuple[str, ...] = ()
    action: str = ""
    error: str = ""  # why it is unscanned
    scanned_bytes: int = 0
    truncated: bool = False  # only the first scanned_bytes of a larger message were scanned


@dataclass(frozen=True, slots=True)
class SpamThresholds:
    """A mailbox's scores: at or above `tag` noted, `quarantine` held, `drop` held and purged at once (None: never)."""

    tag: float = 5.0
    quarantine: float = 8.0
    drop: float | None = None


def build_unscanned(scanner: str, error: str) -> SpamScan:
    return SpamScan(scanner=scanner, outcome=ScanOutcome.UNSCANNED, error=error)


def judge_score(score: float | None, thresholds: SpamThresholds) -> SpamAction:
    """The harshest action whose threshold the score reaches; no score (unscanned) passes."""
    if score is None:
        return SpamAction.PASS
    if thresholds.drop is not None and score >= thresholds.drop:
        return SpamAction.DROP
    if score >= thresholds.quarantine:
        return SpamAction.QUARANTINE
    if score >= thresholds.tag:
        return SpamAction.TAG
    return SpamAction.PASS


def cut_for_scan(raw: bytes, max_bytes: int) -> tuple[bytes, bool]:
    """At most `max_bytes` of the message, cut after the last complete line: (bytes to scan, whether it was cut).

    Scanners read headers and the start of the body; spamc skips larger mail entirely by default, which lets the
    biggest spam through unscored. Cutting keeps the header block and enough body to score (docs/architecture/spam.md).
    """
    if len(raw) <= max_bytes:
        return raw, False
    head = raw[:max_bytes]
    end = head.rfind(b"\n")
    return (head[: end + 1] if end > 0 else head), True


@dataclass(frozen=True, slots=True)
class ScannerSettings:
    """The installation's scanners (POSTROOM_SPAMD_URL, POSTROOM_RSPAMD_URL, POSTROOM_SPAM_*; docs/configuration.md).

    `scanner` is what a mailbox without its own `spam.scanner` setting (and mail with no mailbox) uses.
    """

    scanner: str = "off"
    spamd_url: str = ""
    rspamd_url: str = ""
    timeout_seconds: float = 10.0
    scan_max_bytes: int = DEFAULT_SCAN_MAX_BYTES
