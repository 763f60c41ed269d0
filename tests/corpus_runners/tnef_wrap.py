"""Wrap a raw TNEF stream in a MIME message as Outlook sends it (a winmail.dat attachment)."""

from __future__ import annotations

import base64


def build_winmail_message(tnef: bytes, *, body: str = "See attachment.") -> bytes:
    """A multipart/mixed message: a short text/plain body plus the stream as application/ms-tnef."""
    encoded = base64.encodebytes(tnef).decode("ascii")
    return (
        "From: Outlook User <outlook@example.com>\r\n"
        "To: desk@example.org\r\n"
        "Subject: TNEF test\r\n"
        "Date: Mon, 14 Oct 2019 12:28:17 +0200\r\n"
        "Message-ID: <tnef-test@example.com>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b1"\r\n'
        "\r\n"
        "--b1\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        f"{body}\r\n"
        "--b1\r\n"
        'Content-Type: application/ms-tnef; name="winmail.dat"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        'Content-Disposition: attachment; filename="winmail.dat"\r\n'
        "\r\n"
        f"{encoded}"
        "--b1--\r\n"
    ).encode("ascii")
