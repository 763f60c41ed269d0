"""Outbound message construction: threading headers, RFC 3834 marks, encodings."""

from __future__ import annotations

import datetime as dt
import email
import email.policy

from postroom.mail.compose import (
    MAX_REFERENCES,
    OutgoingAttachment,
    OutgoingMail,
    build_message,
    build_references,
    build_reply_subject,
    cap_references,
)
from postroom.mail.values import Address

WHEN = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)


def _mail(**overrides: object) -> OutgoingMail:
    fields: dict[str, object] = {
        "from_": Address("Support", "support@example.com"),
        "to": (Address("Jürgen Müller", "jm@example.org"),),
        "subject": "Re: Drucker kaputt [PR-000001]",
        "text": "Grüße aus dem Support.\n",
        "message_id": "pr-k1-abc.xyz@example.com",
        "date": WHEN,
    }
    fields.update(overrides)
    return OutgoingMail(**fields)  # type: ignore[arg-type]


def test_reply_headers_thread_to_the_parent() -> None:
    """GIVEN a reply to a message WHEN it is built THEN In-Reply-To and References follow RFC 5322 3.6.4."""
    references = build_references(["root@x", "mid@x"], "parent@x")
    raw = build_message(_mail(in_reply_to="parent@x", references=references, cc=(Address("", "cc@example.net"),)))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)

    assert parsed["In-Reply-To"] == "<parent@x>"
    assert parsed["References"] == "<root@x> <mid@x> <parent@x>"
    assert parsed["Message-ID"] == "<pr-k1-abc.xyz@example.com>"
    assert parsed["Cc"] == "cc@example.net"
    assert "Jürgen Müller" in str(parsed["To"])
    assert parsed.get_content().replace("\r\n", "\n") == "Grüße aus dem Support.\n"
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only, as SMTP DATA needs (RFC 5321 section 2.3.8)
    assert parsed["Auto-Submitted"] is None


def test_long_reference_chains_keep_the_root_and_the_newest() -> None:
    """GIVEN 50 references WHEN capped THEN the root and the newest 19 remain, in order, without duplicates."""
    chain = [f"m{i}@x" for i in range(50)] + ["m49@x"]
    capped = cap_references(chain)
    assert len(capped) == MAX_REFERENCES
    assert capped[0] == "m0@x" and capped[-1] == "m49@x" and capped[1] == "m31@x"


def test_automatic_mail_is_marked_per_rfc_3834() -> None:
    """GIVEN an automatic notice WHEN built THEN Auto-Submitted: auto-replied and auto-responses suppressed."""
    parsed = email.message_from_bytes(build_message(_mail(automatic=True)), policy=email.policy.default)
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert parsed["X-Auto-Response-Suppress"] == "All"


def test_html_alternative_and_attachment() -> None:
    """GIVEN text, HTML and a PDF WHEN built THEN multipart with both bodies and the named attachment."""
    raw = build_message(
        _mail(html="<p>Hallo</p>", attachments=(OutgoingAttachment("Rechnung März.pdf", "application/pdf", b"%PDF"),))
    )
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed.get_body(preferencelist=("html",)).get_content().strip() == "<p>Hallo</p>"  # type: ignore[union-attr]
    attachment = next(parsed.iter_attachments())
    assert attachment.get_filename() == "Rechnung März.pdf" and attachment.get_content() == b"%PDF"


def test_reply_subject_has_one_prefix_and_one_tag() -> None:
    """GIVEN subjects with and without our tag WHEN a reply subject is made THEN `Re: <base> [tag]` exactly once."""
    assert build_reply_subject("Printer", "PR-000001", "Printer") == "Re: Printer [PR-000001]"
    assert build_reply_subject("Re: Printer [PR-000001]", "PR-000001", "Printer [PR-000001]") == (
        "Re: Printer [PR-000001]"
    )
    assert build_reply_subject("", "PR-000002", "") == "Re: [PR-000002]"
