"""The attachment policy over every attachment in the shared corpus: ordinary documents are never blocked.

Prints the counts per outcome and family and the time the policy took (no timing assertion)."""

from __future__ import annotations

import collections
import sys
import time
from pathlib import Path
from typing import Final

import pytest

from postroom.mail.attachpolicy import AttachmentPolicy, Family, Outcome, detect_attachment_verdicts
from postroom.mail.parse import parse_message
from postroom.mail.values import ParsedAttachment

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "corpus_runners"))  # the corpus runners' helpers
from corpus_paths import RAW_SUFFIXES_SKIPPED, find_corpus_dir, get_corpus_dir
from tnef_wrap import build_winmail_message

pytestmark = pytest.mark.corpus

SKIPPED_NAMES: Final = frozenset({"SOURCE.md", "README.md", "LICENSE", "COPYING"})


def _corpus_messages(base: Path) -> list[tuple[str, tuple[ParsedAttachment, ...]]]:
    """(path, attachments) of every corpus mail that has any."""
    found: list[tuple[str, tuple[ParsedAttachment, ...]]] = []
    for path in sorted(base.rglob("*")):
        if not path.is_file() or path.name in SKIPPED_NAMES:
            continue
        if path.suffix.lower() == ".tnef":
            raw = build_winmail_message(path.read_bytes())
        elif path.suffix.lower() in RAW_SUFFIXES_SKIPPED:
            continue
        else:
            raw = path.read_bytes()
        attachments = parse_message(raw).attachments
        if attachments:
            found.append((str(path.relative_to(base)), attachments))
    return found


def test_no_ordinary_corpus_attachment_is_blocked() -> None:
    """
    GIVEN every attachment of every mail in the shared corpus (TNEF streams wrapped as Outlook sends them)
    WHEN the default policy judges each message's parts
    THEN no document, image, text or archive is blocked (the one blocked part is a DOS AUTOEXEC.BAT, a script);
         counts and time are printed
    """
    get_corpus_dir()
    messages = _corpus_messages(find_corpus_dir())
    policy = AttachmentPolicy()
    verdicts = []
    started = time.perf_counter()
    for path, attachments in messages:
        verdicts.extend((path, verdict) for verdict in detect_attachment_verdicts(attachments, policy).verdicts)
    elapsed = time.perf_counter() - started
    outcomes = collections.Counter(verdict.outcome.value for _, verdict in verdicts)
    families = collections.Counter(verdict.evidence.family.value for _, verdict in verdicts)
    total_bytes = sum(verdict.size for _, verdict in verdicts)
    print(
        f"\nattachment policy over {len(verdicts)} attachments of {len(messages)} corpus mails "
        f"({total_bytes / 1e6:.1f} MB): {dict(outcomes)}; families {dict(families)}; {elapsed * 1000:.0f} ms "
        f"({elapsed * 1e6 / max(len(verdicts), 1):.0f} us per part)"
    )
    for path, verdict in verdicts:
        if verdict.outcome is not Outcome.OK:
            print(f"  {path}: {verdict.describe()}")
    blocked = [verdict for _, verdict in verdicts if verdict.outcome is Outcome.BLOCKED]
    assert len(verdicts) > 50
    # The only ones blocked are what the policy means to block: scripts by their names (tnef's AUTOEXEC.BAT).
    assert all(verdict.evidence.family is Family.EXECUTABLE for verdict in blocked)
    assert all(verdict.evidence.extension in {"bat", "cmd", "exe", "com"} for verdict in blocked)
    assert len(blocked) <= 1
