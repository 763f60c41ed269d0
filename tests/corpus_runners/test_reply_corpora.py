"""Reply splitting against three trimmers' expectations: discourse, talon (mailgun), email-reply-parser (GitHub).

Each corpus names a different "visible reply", mapped onto our parts as follows:
- discourse `trimmed/` and email-reply-parser's `reply`: the new text plus the sign-off part of the signature.
  Both drop "-- " blocks and device lines ("Sent from my iPhone") but keep "Best regards,\\nJef"; we file the
  sign-off under `signature`, so it is added back up to the first delimiter or device line.
- talon `extract_from_plain` / `extract_from_html`: new text plus the whole signature (talon's quotation
  extraction never removes signatures; its signature extractors are compared as (new_text, signature)).
Comparison: whitespace runs collapsed (talon's HTML cases: all whitespace removed, as upstream does).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Final

import pytest
from corpus_paths import get_corpus_dir
from reply_skips import SKIPS

from postroom.mail.quotes import ReplyParts, split_reply, split_reply_html
from postroom.mail.quotes.markup import html_to_marked_text, strip_marks
from postroom.mail.quotes.signature import is_delimiter_line, is_device_line

pytestmark = pytest.mark.corpus

TARGET: Final = 0.90

Case = tuple[str, Callable[[], tuple[str, str]]]  # (case id, () -> (ours, expected))


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _no_whitespace(text: str) -> str:
    return "".join(text.split())


def visible_with_sign_off(parts: ReplyParts) -> str:
    """New text plus the signature up to its first delimiter or device line (discourse / GitHub semantics)."""
    kept: list[str] = []
    for line in parts.signature.split("\n"):
        if is_delimiter_line(line) or is_device_line(line):
            break
        kept.append(line)
    return parts.new_text + "\n" + "\n".join(kept)


def visible_with_signature(parts: ReplyParts) -> str:
    """New text plus the whole signature (talon semantics: quotations go, signatures stay)."""
    return parts.new_text + "\n" + parts.signature


def _run(corpus: str, cases: Iterator[Case]) -> None:
    matched = compared = skipped = 0
    failures: list[str] = []
    for case_id, compare in cases:
        if (corpus, case_id) in SKIPS:
            skipped += 1
            continue
        ours, expected = compare()
        compared += 1
        if ours == expected:
            matched += 1
        else:
            failures.append(f"--- {case_id}\n  ours:     {ours[:300]!r}\n  expected: {expected[:300]!r}")
    rate = matched / compared if compared else 0.0
    print(f"\n{corpus}: {matched}/{compared} {rate:.1%} (skipped {skipped})")
    for failure in failures:
        print(failure)
    assert compared > 0
    assert rate >= TARGET, f"{corpus}: {matched}/{compared}"


def _discourse_cases(root: Path) -> Iterator[Case]:
    for email in sorted((root / "emails").glob("*.txt")):
        trimmed = root / "trimmed" / email.name

        def compare(email: Path = email, trimmed: Path = trimmed) -> tuple[str, str]:
            parts = split_reply(email.read_bytes().decode("utf-8"))
            return _collapse(visible_with_sign_off(parts)), _collapse(trimmed.read_bytes().decode("utf-8"))

        yield email.stem, compare


def test_discourse_trimmed_text() -> None:
    """
    GIVEN discourse's 64 bodies with the trimmed text its trimmer keeps
    WHEN each body is split
    THEN at least 90% give that text (new text plus sign-off), whitespace runs collapsed
    """
    _run("discourse-email-reply-trimmer", _discourse_cases(get_corpus_dir("discourse-email-reply-trimmer")))


def _first_plain_part(path: Path) -> str:
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    for part in message.walk():
        if part.get_content_type() == "text/plain" and isinstance(part, EmailMessage):
            content = part.get_content()
            return content if isinstance(content, str) else ""
    return ""


def _html_text(html: str) -> str:
    """Talon's expected HTML as text, through the same conversion our HTML path uses."""
    return strip_marks(html_to_marked_text(html))


def _pair(parts: ReplyParts) -> str:
    return _collapse(parts.new_text) + " || " + _collapse(parts.signature)


def _talon_inline(expected: dict[str, list[dict[str, object]]]) -> Iterator[Case]:
    seen: dict[str, int] = {}
    for group, cases in expected.items():
        for case in cases:
            name = f"{group}/{case['test']}"
            seen[name] = seen.get(name, 0) + 1
            case_id = f"{name}#{seen[name]}"
            args = case["args"]
            assert isinstance(args, list)
            text = str(args[0])
            want = case["expected"]

            def compare(group: str = group, text: str = text, want: object = want) -> tuple[str, str]:
                if group == "extract_from_plain":
                    return _collapse(visible_with_signature(split_reply(text))), _collapse(str(want))
                if group == "extract_from_html":
                    ours = visible_with_signature(split_reply_html(text))
                    return _no_whitespace(ours), _no_whitespace(_html_text(str(want)))
                assert isinstance(want, list)
                expected_pair = _collapse(str(want[0])) + " || " + _collapse(str(want[1] or ""))
                return _pair(split_reply(text)), expected_pair

            yield case_id, compare


def _talon_fixtures(root: Path, fixtures: list[dict[str, str]]) -> Iterator[Case]:
    for fixture in fixtures:
        path = root / fixture["file"]

        def compare(path: Path = path, fixture: dict[str, str] = fixture) -> tuple[str, str]:
            if "expected_signature_file" in fixture:
                body = path.read_text(encoding="utf-8")
                signature = (root / fixture["expected_signature_file"]).read_text(encoding="utf-8").strip()
                text = body.strip()[: len(body.strip()) - len(signature)] if signature else body
                return _pair(split_reply(body)), _collapse(text) + " || " + _collapse(signature)
            if path.suffix == ".html":
                ours = visible_with_signature(split_reply_html(path.read_text(encoding="utf-8")))
                return _no_whitespace(ours), _no_whitespace(fixture["expected"])
            reply_text = path.with_name(path.stem + "_reply_text")
            want = reply_text.read_text(encoding="utf-8") if reply_text.is_file() else fixture["expected"]
            return _collapse(visible_with_signature(split_reply(_first_plain_part(path)))), _collapse(want)

        yield fixture["file"], compare


def test_talon_quotations_and_signatures() -> None:
    """
    GIVEN talon's inline cases (plain, HTML, signature) and its fixture replies
    WHEN each is split
    THEN at least 90% match: visible text = new text + signature; signature cases = (new text, signature)
    """
    root = get_corpus_dir("talon")
    expected = json.loads((root / "expected.json").read_text(encoding="utf-8"))

    def cases() -> Iterator[Case]:
        yield from _talon_inline(expected["inline_cases"])
        yield from _talon_fixtures(root, expected["fixture_cases"])

    _run("talon", cases())


def _reply_parser_cases(root: Path) -> Iterator[Case]:
    expected = json.loads((root / "expected.json").read_text(encoding="utf-8"))["cases"]
    for name, case in sorted(expected.items()):
        keys = {"reply_equals", "reply_contains", "reply_not_contains", "max_seconds"}
        if not keys & case.keys():
            continue  # only the fragment model of the library itself: not comparable

        def compare(name: str = name, case: dict[str, object] = case) -> tuple[str, str]:
            reply = _collapse(visible_with_sign_off(split_reply((root / "emails" / name).read_text(encoding="utf-8"))))
            problems: list[str] = []
            if "reply_equals" in case and reply != _collapse(str(case["reply_equals"])):
                problems.append(f"reply != {case['reply_equals']!r}")
            for needle in case.get("reply_contains", []):  # type: ignore[attr-defined]
                if _collapse(needle) not in reply:
                    problems.append(f"missing {needle!r}")
            for needle in case.get("reply_not_contains", []):  # type: ignore[attr-defined]
                if _collapse(needle) in reply:
                    problems.append(f"contains {needle!r}")
            return ("; ".join(problems) or "ok") + " | " + reply[:200], "ok | " + reply[:200]

        yield name, compare


def test_email_reply_parser_replies() -> None:
    """
    GIVEN GitHub's email-reply-parser bodies with reply expectations (equals / contains / not contains / time)
    WHEN each body is split
    THEN at least 90% meet all their reply expectations (new text plus sign-off); the 1 s case returns
    """
    _run("email-reply-parser", _reply_parser_cases(get_corpus_dir("email-reply-parser")))


def test_skip_list_names_existing_cases() -> None:
    """
    GIVEN the reply skip list
    WHEN its entries are checked
    THEN each names a known corpus and gives a reason
    """
    corpora = {"discourse-email-reply-trimmer", "talon", "email-reply-parser"}
    for (corpus, case), reason in SKIPS.items():
        assert corpus in corpora
        assert case
        assert len(reason) > 20
