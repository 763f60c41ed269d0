"""Spam scoring: clients for spamd and rspamd, a trusted upstream filter's header fields, and the thresholds.

Pure (no Django): the screen stage's spam check (postroom.inbound.screens.spam) picks a scanner per mailbox and
turns a `SpamScan` into a verdict with `judge_score`. See docs/architecture/spam.md.
"""

from postroom.mail.spam.headers import read_upstream_verdict
from postroom.mail.spam.rspamd import Envelope, RspamdAddress, parse_rspamd_url, scan_with_rspamd
from postroom.mail.spam.spamd import SpamdAddress, parse_spamd_url, scan_with_spamd
from postroom.mail.spam.values import (
    DEFAULT_SCAN_MAX_BYTES,
    ScannerError,
    ScannerSettings,
    ScanOutcome,
    SpamAction,
    SpamScan,
    SpamThresholds,
    build_unscanned,
    cut_for_scan,
    judge_score,
)

__all__ = [
    "DEFAULT_SCAN_MAX_BYTES",
    "Envelope",
    "RspamdAddress",
    "ScanOutcome",
    "ScannerError",
    "ScannerSettings",
    "SpamAction",
    "SpamScan",
    "SpamThresholds",
    "SpamdAddress",
    "build_unscanned",
    "cut_for_scan",
    "judge_score",
    "parse_rspamd_url",
    "parse_spamd_url",
    "read_upstream_verdict",
    "scan_with_rspamd",
    "scan_with_spamd",
]
