"""A From address that had to be repaired is taken in, and the repair is recorded as a defect."""

from __future__ import annotations

import pytest

from postroom.mail.parse import parse_message


@pytest.mark.parametrize(
    ("from_header", "address", "repaired"),
    [
        (b'"Clement.Si" <Claudia.Shu@yahoo.com.>', "Claudia.Shu@yahoo.com", True),
        (b'"your secret past" <power quadrant system@example.com>', "powerquadrantsystem@example.com", True),
        (b"Jane Doe <jane.doe@Example.ORG>", "jane.doe@example.org", False),
        (b"marc.smith@example.com (Marc Smith)", "marc.smith@example.com", False),
        (b"MAILER-DAEMON (Mail Delivery System)", "MAILER-DAEMON", False),
    ],
)
def test_repaired_from_is_a_defect(from_header: bytes, address: str, repaired: bool) -> None:
    """GIVEN a From header WHEN parsed THEN the address is readable and a repair says so in the defects."""
    parsed = parse_message(b"From: " + from_header + b"\r\nSubject: x\r\n\r\nbody\r\n")
    assert parsed.from_ is not None and parsed.from_.address == address
    assert ("address_repaired:from" in parsed.defects) is repaired
