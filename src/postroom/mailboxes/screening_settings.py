"""The screening parts of a mailbox's settings: `spam`, `automation` and `attachments` (each optional; an absent key
takes the installation's default). docs/architecture/spam.md, automatic-mail.md and attachment-policy.md."""

from __future__ import annotations

from typing import Final

from postroom.mail.attachpolicy.values import ACTIONS, FAMILIES, STRIP
from postroom.mail.automation import parse_rate_window
from postroom.mailboxes.settings_section import SettingsSection

# spam: the screen stage's spam check (docs/architecture/spam.md); an absent key takes the installation's default
SPAM_SCANNERS: Final = ("off", "spamd", "rspamd", "headers")
SPAM_THRESHOLDS: Final = ("tag", "quarantine", "drop")
SPAM_KEYS: Final = frozenset({"scanner", *SPAM_THRESHOLDS})
MAX_SPAM_SCORE: Final = 100000.0  # GTUBE scores 1000 in SpamAssassin; anything beyond this is a typo
AUTOMATION_KEYS: Final = frozenset({"hold_auto_replies", "sender_rate_limit"})
# attachments: the mailbox's attachment policy over the installation's (docs/architecture/attachment-policy.md)
ATTACHMENT_KEYS: Final = frozenset({"max_bytes", "max_count", "blocked", "action"})
MAX_ATTACHMENT_BYTES: Final = 1 << 40  # a sanity bound; the message size limit is lower anyway
MAX_ATTACHMENT_COUNT: Final = 500  # the parser's own part limit (postroom.mail.values.Limits.max_parts)


def check_attachments(section: SettingsSection) -> None:
    section.number("max_bytes", 1, MAX_ATTACHMENT_BYTES)
    section.number("max_count", 1, MAX_ATTACHMENT_COUNT)
    section.choice("action", ACTIONS, STRIP)
    blocked = section.values.get("blocked")
    if blocked is not None and (
        not isinstance(blocked, list) or not all(isinstance(item, str) and item in FAMILIES for item in blocked)
    ):
        section.fail("blocked", f"must be a list of type families ({', '.join(FAMILIES)})")


def check_automation(section: SettingsSection) -> None:
    """`{"hold_auto_replies": true, "sender_rate_limit": "20/120m"}`: both optional; `off` lifts the rate window."""
    section.flag("hold_auto_replies")
    raw = section.values.get("sender_rate_limit")
    if raw is None:
        return
    if not isinstance(raw, str):
        section.fail("sender_rate_limit", "must be text such as 20/120m")
        return
    try:
        parse_rate_window(raw)
    except ValueError as e:
        section.fail("sender_rate_limit", f"{e} (or off)")


def check_spam(section: SettingsSection) -> None:
    """`{"scanner": "spamd", "tag": 5.0, "quarantine": 8.0, "drop": null}`: each key optional; the thresholds are
    scores on the scanner's scale, tag <= quarantine <= drop, and drop null (or absent) never drops."""
    scanner = section.values.get("scanner")
    if scanner is not None and scanner not in SPAM_SCANNERS:
        section.fail("scanner", f"must be one of {', '.join(SPAM_SCANNERS)}")
    scores: list[float] = []
    for key in SPAM_THRESHOLDS:
        value = section.values.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            section.fail(key, "must be a number (a spam score)")
        elif not -MAX_SPAM_SCORE <= value <= MAX_SPAM_SCORE:
            section.fail(key, f"must be between {-MAX_SPAM_SCORE:g} and {MAX_SPAM_SCORE:g}")
        else:
            scores.append(float(value))
            if scores != sorted(scores):
                section.fail(key, "must not be lower than the thresholds before it (tag, quarantine, drop)")
