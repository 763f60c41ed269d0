"""Ticket references in subjects: our own numbers and other systems' configured tags."""

from __future__ import annotations

import pytest

from postroom.mail.ticketref import (
    compile_foreign_pattern,
    find_foreign_references,
    find_ticket_numbers,
    format_ticket_reference,
)

ZAMMAD = r"\[Ticket#(\d+)\]"
RT = r"\[[\w.-]+ #(\d+)\]"


@pytest.mark.parametrize(
    ("subject", "numbers"),
    [
        ("Re: [PR-000123] Printer", (123,)),
        ("AW: [PR#42] Drucker", (42,)),
        ("[pr-000042] lower case tag", (42,)),
        ("Fwd: about PR-000777 and [PR-000001]", (1, 777)),
        ("[PR-000005] and again [PR-000005]", (5,)),
        ("PR-12 is too short without brackets", ()),
        ("Re: [XY-000123] other system", ()),
        ("SPR-000123 is another word", ()),
    ],
)
def test_own_ticket_numbers(subject: str, numbers: tuple[int, ...]) -> None:
    """GIVEN subjects WHEN searched for our prefix THEN bracketed tags come first and each number appears once."""
    assert find_ticket_numbers(subject, "PR") == numbers


def test_format_pads_to_six_digits() -> None:
    """GIVEN a number WHEN formatted THEN it is zero-padded, and longer numbers are not cut."""
    assert format_ticket_reference("PR", 123) == "PR-000123"
    assert format_ticket_reference("PR", 12345678) == "PR-12345678"


@pytest.mark.parametrize(
    ("subject", "patterns", "found"),
    [
        ("Re: [Ticket#4711] Drucker", [ZAMMAD], ("4711",)),
        ("[Ticket#1] [Ticket#2] [Ticket#1]", [ZAMMAD], ("1", "2")),
        ("Re: [rt.example.org #123] disk full", [RT], ("123",)),
        ("[Ticket#9] and [support #8]", [ZAMMAD, RT], ("9", "8")),
        ("Re: [PR-000123] nothing foreign", [ZAMMAD, RT], ()),
        ("[Ticket#4711]", [], ()),
    ],
)
def test_foreign_references(subject: str, patterns: list[str], found: tuple[str, ...]) -> None:
    """GIVEN configured tag patterns WHEN a subject is searched THEN the captured numbers come back, each once."""
    assert find_foreign_references(subject, patterns) == found


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"\[Ticket#(\d+\]", "not a valid regular expression"),
        (r"\[Ticket#\d+\]", "exactly one capture group, it has 0"),
        (r"\[(\w+)#(\d+)\]", "exactly one capture group, it has 2"),
        (r"(\d*)", "matches the empty string"),
        ("", "1 to 200 characters"),
        ("(x)" * 100, "1 to 200 characters"),
    ],
)
def test_unusable_foreign_patterns_are_refused_with_a_reason(pattern: str, reason: str) -> None:
    """GIVEN a bad pattern WHEN compiled or used THEN ValueError names what is wrong."""
    with pytest.raises(ValueError, match=reason):
        compile_foreign_pattern(pattern)
    with pytest.raises(ValueError, match=reason):
        find_foreign_references("[Ticket#1]", [pattern])


def test_non_capturing_groups_are_allowed() -> None:
    """GIVEN a pattern with (?:...) around alternatives WHEN used THEN only the one capture group counts."""
    assert find_foreign_references("[Case: 77]", [r"\[(?:Ticket#|Case: )(\d+)\]"]) == ("77",)
