"""The spam screen: score the message with the mailbox's scanner and hold it at the mailbox's thresholds.

| score (scanner's scale) | what happens |
|---|---|
| below `tag` | a note in the trace |
| `tag` or more | goes on flagged as probable spam (`Message.probable_spam` and its score, shown to agents) |
| `quarantine` or more | held as `spam` |
| `drop` or more (when set) | held as `spam` and purged at once (raw bytes removed; the ledger row keeps the cause) |

A scanner that is down, slow or refuses the message never loses it: the outcome is "unscanned", noted in the trace
and counted (`postroom_spam_scans_total{verdict="unscanned"}`), and the message goes on. Allow-listed senders
(the sender_lists screen) are not scored. Scanner choice, thresholds and header trust: docs/architecture/spam.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Final

from postroom.core.metrics import increment
from postroom.inbound.context import InboundContext
from postroom.inbound.models import QuarantineCause
from postroom.inbound.screening import DataValue, Finding
from postroom.mail.spam import (
    Envelope,
    ScannerError,
    ScannerSettings,
    ScanOutcome,
    SpamAction,
    SpamScan,
    SpamThresholds,
    build_unscanned,
    cut_for_scan,
    judge_score,
    parse_rspamd_url,
    parse_spamd_url,
    read_upstream_verdict,
    scan_with_rspamd,
    scan_with_spamd,
)
from postroom.mailboxes.models import Mailbox
from postroom.mailboxes.screening_settings import SPAM_SCANNERS

NAME: Final = "spam"
OFF: Final = "off"
SPAMD: Final = "spamd"
RSPAMD: Final = "rspamd"
HEADERS: Final = "headers"
METRIC: Final = "postroom_spam_scans_total"
TRACE_RULES: Final = 5  # rule names in the trace reason; the data keeps up to MAX_RULES

log = logging.getLogger(__name__)


def read_mailbox_spam(mailbox: Mailbox | None, installation: ScannerSettings) -> tuple[str, SpamThresholds]:
    """The scanner and thresholds for mail of this mailbox: its `spam` setting, else the installation's scanner
    and the default thresholds. Settings are validated when saved; anything unreadable here takes the default."""
    raw = mailbox.settings.get("spam") if mailbox is not None and isinstance(mailbox.settings, Mapping) else None
    spam: Mapping[str, object] = raw if isinstance(raw, Mapping) else {}
    scanner = spam.get("scanner")
    chosen = scanner if isinstance(scanner, str) and scanner in SPAM_SCANNERS else installation.scanner
    defaults = SpamThresholds()
    tag, quarantine = _score(spam.get("tag")), _score(spam.get("quarantine"))
    return chosen, SpamThresholds(
        tag=defaults.tag if tag is None else tag,
        quarantine=defaults.quarantine if quarantine is None else quarantine,
        drop=_score(spam.get("drop")),
    )


def _score(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def scan_message(ctx: InboundContext, scanner: str) -> SpamScan:
    """Ask the scanner; ScannerError and a scanner that is not configured both end as "unscanned"."""
    conf = ctx.options.spam
    if scanner == HEADERS:
        return read_upstream_verdict(ctx.require_parsed().headers)
    message, truncated = cut_for_scan(ctx.raw, conf.scan_max_bytes)
    try:
        if scanner == SPAMD:
            if not conf.spamd_url:
                return build_unscanned(SPAMD, "no spamd configured (POSTROOM_SPAMD_URL)")
            scan = scan_with_spamd(message, parse_spamd_url(conf.spamd_url), timeout=conf.timeout_seconds)
        else:
            if not conf.rspamd_url:
                return build_unscanned(RSPAMD, "no rspamd configured (POSTROOM_RSPAMD_URL)")
            row = ctx.inbound
            envelope = Envelope(
                mail_from=row.envelope_from,
                recipients=tuple(str(address) for address in row.envelope_to or ()),
                client_ip=str(row.client_ip or ""),
            )
            scan = scan_with_rspamd(
                message, parse_rspamd_url(conf.rspamd_url), timeout=conf.timeout_seconds, envelope=envelope
            )
    except (ScannerError, ValueError) as e:
        log.warning("spam scan with %s failed, message goes on unscanned: %s", scanner, e)
        return build_unscanned(scanner, str(e)[:300])
    return SpamScan(
        scanner=scan.scanner,
        outcome=scan.outcome,
        score=scan.score,
        required=scan.required,
        scanner_flag=scan.scanner_flag,
        rules=scan.rules,
        action=scan.action,
        scanned_bytes=len(message),
        truncated=truncated,
    )


def decide(scan: SpamScan, thresholds: SpamThresholds) -> SpamAction:
    """The thresholds on the score; a trusted upstream flag without a score ("X-Spam-Flag: YES") quarantines."""
    if scan.score is None and scan.scanner_flag:
        return SpamAction.QUARANTINE
    return judge_score(scan.score, thresholds)


def build_data(scan: SpamScan, action: SpamAction | None, thresholds: SpamThresholds) -> dict[str, DataValue]:
    data: dict[str, DataValue] = {
        "spam_scanner": scan.scanner,
        "spam_outcome": str(scan.outcome),
        "spam_verdict": str(action) if action is not None else "unscanned",
        "spam_score": f"{scan.score:g}" if scan.score is not None else None,
        "spam_thresholds": f"tag {thresholds.tag:g}, quarantine {thresholds.quarantine:g}, drop "
        + (f"{thresholds.drop:g}" if thresholds.drop is not None else "never"),
        "spam_rules": ",".join(scan.rules) or None,
        "spam_scanner_required": f"{scan.required:g}" if scan.required is not None else None,
        "spam_action": scan.action or None,
        "spam_error": scan.error or None,
        "spam_scanned_bytes": scan.scanned_bytes or None,
        "spam_truncated": "yes" if scan.truncated else None,
    }
    return data


def check(ctx: InboundContext) -> Finding | None:
    scanner, thresholds = read_mailbox_spam(ctx.mailbox, ctx.options.spam)
    if scanner == OFF:
        return None
    if ctx.allow_listed:
        return Finding(
            reason="spam score skipped: the sender is allow-listed", data={"spam_scanner": scanner, "spam": "skipped"}
        )
    scan = scan_message(ctx, scanner)
    if scan.outcome is ScanOutcome.UNSCANNED:
        increment(METRIC, {"scanner": scanner, "verdict": "unscanned"})
        return Finding(
            reason=f"unscanned for spam, so it goes on: {scan.error}", data=build_data(scan, None, thresholds)
        )
    action = decide(scan, thresholds)
    increment(METRIC, {"scanner": scanner, "verdict": str(action)})
    ctx.spam_score = scan.score
    ctx.probable_spam = action is not SpamAction.PASS  # tagged, or held and then released by an admin
    data = build_data(scan, action, thresholds)
    score = f"{scan.score:g}" if scan.score is not None else "flagged without a score"
    rules = f" ({', '.join(scan.rules[:TRACE_RULES])})" if scan.rules else ""
    cut = f"; only the first {scan.scanned_bytes} bytes were scanned" if scan.truncated else ""
    held = action in (SpamAction.QUARANTINE, SpamAction.DROP)
    reason = {
        SpamAction.PASS: f"spam score {score} by {scan.scanner}, under the tag threshold{cut}",
        SpamAction.TAG: f"probable spam: score {score} by {scan.scanner}{rules}, tagged only{cut}",
        SpamAction.QUARANTINE: f"spam: score {score} by {scan.scanner}{rules}{cut}",
        SpamAction.DROP: f"spam: score {score} by {scan.scanner}{rules} reaches the drop threshold, so it is purged"
        + cut,
    }[action]
    return Finding(
        reason=reason,
        data=data,
        hold=QuarantineCause.SPAM if held else "",
        drop=action is SpamAction.DROP,
    )
