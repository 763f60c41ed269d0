"""quotequail's expectations for reply/forward unwrapping and quote splitting, text and HTML.

HTML values are compared by their visible text (whitespace collapsed, <head> dropped) unless they match exactly;
text values after whitespace normalisation. Prints matched/compared per section and overall.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from corpus_paths import get_corpus_dir
from quotequail_skips import SKIPS

from postroom.mail.forwards import Unwrapped, parse_reply_line, quote_html, quote_text, unwrap_html, unwrap_text

pytestmark = pytest.mark.corpus

MIN_RATE = 0.90
_FIELDS = (
    ("from", "from_"),
    ("to", "to"),
    ("cc", "cc"),
    ("bcc", "bcc"),
    ("reply-to", "reply_to"),
    ("date", "date"),
    ("subject", "subject"),
)


def _words(value: str) -> str:
    return " ".join(value.split())


def _visible(html: str) -> str:
    if not html.strip():
        return ""
    root = lxml.html.fromstring(html.encode("utf-8"))
    for hidden in root.xpath("//head|//style|//script|//title"):
        hidden.drop_tree()
    return _words(root.text_content())


def _as_dict(unwrapped: Unwrapped | None, *, html: bool) -> dict[str, str] | None:
    """quotequail's dict shape: type, header values, then text_* or html_* keys, absent when empty."""
    if unwrapped is None:
        return None
    result: dict[str, str] = {"type": unwrapped.kind}
    for key, attribute in _FIELDS:
        value = getattr(unwrapped, attribute)
        if value:
            result[key] = value
    keys = ("html_top", "html", "html_bottom") if html else ("text_top", "text", "text_bottom")
    for key in keys:
        value = getattr(unwrapped, key)
        if value:
            result[key] = value
    return result


def _normalised(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    return {key: _visible(item) if key.startswith("html") else _words(item) for key, item in value.items()}


def _normalised_chunks(chunks: list[Any], *, html: bool) -> list[tuple[bool, str]]:
    return [(bool(flag), _visible(chunk) if html else _words(chunk)) for flag, chunk in chunks]


class Tally:
    def __init__(self) -> None:
        self.rows: dict[str, list[int]] = {}  # section -> [matched, exact, compared]
        self.failures: list[str] = []

    def add(self, section: str, case_id: str, *, matched: bool, exact: bool, detail: str) -> None:
        row = self.rows.setdefault(section, [0, 0, 0])
        if case_id in SKIPS:
            return
        row[0] += matched
        row[1] += exact
        row[2] += 1
        if not matched:
            self.failures.append(f"{case_id}: {detail}")


def _check_unwrap(
    tally: Tally, section: str, case_id: str, got: dict[str, str] | None, expected: dict[str, str] | None
) -> None:
    exact = got == expected
    matched = exact or _normalised(got) == _normalised(expected)
    tally.add(section, case_id, matched=matched, exact=exact, detail=f"got {_normalised(got)} expected {expected}")


def _check_quote(tally: Tally, section: str, case_id: str, case: dict[str, Any], split: Callable[..., Any]) -> None:
    source = case.get("text", case.get("html"))
    plain, intro = split(source), split(source, quote_intro_line=True)
    want_plain, want_intro = case["expected"], case["expected_quote_intro_line"]
    exact = [list(c) for c in plain] == want_plain and [list(c) for c in intro] == want_intro
    html = split is quote_html
    matched = exact or (
        _normalised_chunks(plain, html=html) == _normalised_chunks(want_plain, html=html)
        and _normalised_chunks(intro, html=html) == _normalised_chunks(want_intro, html=html)
    )
    tally.add(section, case_id, matched=matched, exact=exact, detail=f"got {plain} / {intro}")


def _run(base: Path) -> Tally:
    corpus = json.loads((base / "expected.json").read_text(encoding="utf-8"))
    files = base / "files"
    tally = Tally()
    for index, case in enumerate(corpus["quote"]):
        _check_quote(tally, "quote", f"quote[{index}]", case, quote_text)
    for index, case in enumerate(corpus["quote_html"]):
        _check_quote(tally, "quote_html", f"quote_html[{index}]", case, quote_html)
    for index, case in enumerate(corpus["unwrap"]):
        got = _as_dict(unwrap_text(case["text"]), html=False)
        _check_unwrap(tally, "unwrap", f"unwrap[{index}]", got, case["expected"])
    for index, case in enumerate(corpus["unwrap_html_inline"]):
        got = _as_dict(unwrap_html(case["html"]), html=True)
        _check_unwrap(tally, "unwrap_html_inline", f"unwrap_html_inline[{index}]", got, case["expected"])
    for index, case in enumerate(corpus["unwrap_html_files"]):
        got = _as_dict(unwrap_html((files / case["file"]).read_text(encoding="utf-8")), html=True)
        _check_unwrap(tally, "unwrap_html_files", f"unwrap_html_files[{index}]", got, case["expected"])
    for index, case in enumerate(corpus["file_cases"]):
        case_id = f"file_cases[{index}]"
        source = (files / case["file"]).read_text(encoding="utf-8")
        if case["function"] == "quote_html":
            chunks = quote_html(source)
            want = case["expected_exact"]
            exact = [list(c) for c in chunks] == want
            matched = exact or _normalised_chunks(chunks, html=True) == _normalised_chunks(want, html=True)
            tally.add("file_cases", case_id, matched=matched, exact=exact, detail=f"got {chunks}")
            continue
        expected = dict(case.get("expected_exact") or case["expected"])
        for key, name in case["expected_file_refs"].items():
            expected[key] = (files / name).read_text(encoding="utf-8")
        got = _as_dict(unwrap_html(source), html=True)
        absent = [key for key in case["absent_keys"] if got is not None and key in got]
        if got is not None and "expected_exact" not in case:  # upstream asserts only the keys it names
            got = {key: value for key, value in got.items() if key in expected or key in case["absent_keys"]}
        if absent:
            tally.add("file_cases", case_id, matched=False, exact=False, detail=f"keys {absent} should be absent")
            continue
        _check_unwrap(tally, "file_cases", case_id, got, expected)
    for index, case in enumerate(corpus["parse_reply_line"]):
        want = case["expected"]
        pair = parse_reply_line(case["line"])
        matched = pair == (want["date"], want["from"])
        tally.add("parse_reply_line", f"parse_reply_line[{index}]", matched=matched, exact=matched, detail=f"{pair}")
    return tally


def test_quotequail_corpus_rate() -> None:
    """
    GIVEN quotequail's 58 expectations (quote, quote_html, unwrap, unwrap_html, file cases, reply lines)
    WHEN each is run through postroom.mail.forwards
    THEN at least 90% match (HTML by visible text, text after whitespace normalisation)
    """
    tally = _run(get_corpus_dir("quotequail"))
    matched = exact = compared = 0
    print()
    for section, (section_matched, section_exact, section_compared) in tally.rows.items():
        print(f"quotequail {section}: {section_matched}/{section_compared} matched ({section_exact} exact)")
        matched, exact, compared = matched + section_matched, exact + section_exact, compared + section_compared
    rate = matched / compared if compared else 0.0
    print(f"quotequail overall: {matched}/{compared} = {rate:.1%} ({exact} exact, {len(SKIPS)} skipped)")
    for failure in tally.failures:
        print(f"  mismatch {failure}")
    assert compared > 0
    assert rate >= MIN_RATE, "\n".join(tally.failures)
