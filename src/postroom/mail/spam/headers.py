"""The verdict a trusted upstream filter wrote into the header: SpamAssassin's X-Spam-*, rspamd's X-Spamd-Result.

Anyone can write these fields, so they count only when the mailbox (or the installation) says an upstream filter
that scored the mail is trusted (docs/architecture/spam.md). A filter adds its fields on top of the header block,
so the first occurrence of each field is the trusted filter's own; copies further down came with the message.

Formats read (SpamAssassin's Mail::SpamAssassin::Conf `add_header` templates, rspamd's milter_headers module):
`X-Spam-Status: Yes, score=12.3 required=5.0 tests=RULE_A,RULE_B autolearn=no version=4.0.1`,
`X-Spam-Score: 12.3`, `X-Spam-Flag: YES`, `X-Spam-Level: ************`,
`X-Spamd-Result: default: True [15.00 / 15.00]; GTUBE(0.00)[]; ...`, `X-Rspamd-Score: 15.00`, `X-Spam: Yes`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from postroom.mail.spam.values import MAX_RULES, ScanOutcome, SpamScan, build_unscanned

SCANNER: Final = "headers"
_NUMBER: Final = r"-?\d+(?:\.\d+)?"
_STATUS: Final = re.compile(rf"^\s*(yes|no)\b.*?\bscore=({_NUMBER})(?:.*?\brequired=({_NUMBER}))?", re.I | re.S)
_TESTS: Final = re.compile(r"\btests=(.*?)(?:\s+\w+=|$)", re.I | re.S)
_SPAMD_RESULT: Final = re.compile(rf"^\s*[\w-]+:\s*(true|false)\s*\[\s*({_NUMBER})\s*/\s*({_NUMBER})\s*\]", re.I)
_SYMBOL: Final = re.compile(rf"([A-Z0-9_]+)\(({_NUMBER})\)")
_LEADING_NUMBER: Final = re.compile(rf"^\s*({_NUMBER})")
FIELDS: Final = (
    "x-spam-status",
    "x-spamd-result",
    "x-rspamd-score",
    "x-spam-score",
    "x-spam-flag",
    "x-spam",
    "x-spam-level",
)


def _first_fields(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    first: dict[str, str] = {}
    for name, value in headers:
        key = name.strip().lower()
        if key in FIELDS and key not in first:
            first[key] = " ".join(value.split())  # unfolded, whitespace collapsed
    return first


def _from_spamassassin(status: str) -> SpamScan | None:
    matched = _STATUS.match(status)
    if matched is None:
        return None
    tests = _TESTS.search(status)
    rules = tuple(name.strip() for name in tests.group(1).split(",") if name.strip()) if tests else ()
    return SpamScan(
        scanner=SCANNER,
        outcome=ScanOutcome.SCANNED,
        score=float(matched.group(2)),
        required=float(matched.group(3)) if matched.group(3) else None,
        scanner_flag=matched.group(1).lower() == "yes",
        rules=tuple(rule for rule in rules if rule.lower() != "none")[:MAX_RULES],
    )


def _from_rspamd(result: str) -> SpamScan | None:
    matched = _SPAMD_RESULT.match(result)
    if matched is None:
        return None
    symbols = sorted((-abs(float(weight)), name) for name, weight in _SYMBOL.findall(result[matched.end() :]))
    return SpamScan(
        scanner=SCANNER,
        outcome=ScanOutcome.SCANNED,
        score=float(matched.group(2)),
        required=float(matched.group(3)),
        scanner_flag=matched.group(1).lower() == "true",
        rules=tuple(name for _weight, name in symbols)[:MAX_RULES],
    )


def _leading_number(value: str | None) -> float | None:
    matched = _LEADING_NUMBER.match(value or "")
    return float(matched.group(1)) if matched else None


def _flag(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.strip().lower().startswith(("yes", "true"))


def read_upstream_verdict(headers: Iterable[tuple[str, str]]) -> SpamScan:
    """The upstream filter's verdict from the first X-Spam-* / X-Rspamd-* fields; unscanned when there is none.

    The richest field wins: X-Spam-Status, then X-Spamd-Result, then a bare score (X-Rspamd-Score, X-Spam-Score,
    the number of stars in X-Spam-Level), then a bare flag (X-Spam-Flag, X-Spam), which has no score.
    """
    fields = _first_fields(headers)
    for parsed in (
        _from_spamassassin(fields["x-spam-status"]) if "x-spam-status" in fields else None,
        _from_rspamd(fields["x-spamd-result"]) if "x-spamd-result" in fields else None,
    ):
        if parsed is not None:
            return parsed
    flag = _flag(fields.get("x-spam-flag"))
    if flag is None:
        flag = _flag(fields.get("x-spam"))
    score = _leading_number(fields.get("x-rspamd-score"))
    if score is None:
        score = _leading_number(fields.get("x-spam-score"))
    level = fields.get("x-spam-level")
    if score is None and level is not None and level.strip() and set(level.strip()) == {"*"}:
        score = float(len(level.strip()))
    if score is None and flag is None:
        return build_unscanned(SCANNER, "no X-Spam-Status, X-Spamd-Result or other spam field from the upstream filter")
    return SpamScan(scanner=SCANNER, outcome=ScanOutcome.SCANNED, score=score, scanner_flag=flag)
