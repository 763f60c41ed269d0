"""Reply-trimming expectations we judge wrong for a service desk, per (corpus, case), each with the reason."""

from __future__ import annotations

from typing import Final

_MOCKED: Final = "upstream test patches talon to raise inside the extractor; the expectation is its crash fallback"

SKIPS: Final[dict[tuple[str, str], str]] = {
    ("talon", "extract_from_plain/test_too_many_lines#1"): (
        "upstream test patches MAX_LINES_COUNT to 1, so talon keeps only the first line; unpatched it keeps 2"
    ),
    ("talon", "bruteforce_extract_signature/test_crash_in_extract_signature#1"): _MOCKED,
    ("talon", "extract_signature_ml/test_signature_extract_crash#1"): _MOCKED,
}
