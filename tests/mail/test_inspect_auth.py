"""`postroom inspect`'s `auth` key: what trusted receivers wrote in Authentication-Results, or null (offline)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from postroom.mail.inspection import build_inspect_record, inspect_paths
from postroom.mail.parse import parse_message

SIGNED_BY_OUR_MX = (
    b"Authentication-Results: mx.desk.example.org; spf=pass smtp.mailfrom=example.com;\r\n"
    b" dkim=pass header.d=example.com; dmarc=pass header.from=example.com\r\n"
    b"Authentication-Results: evil.example; dmarc=fail header.from=example.com\r\n"
    b"From: Jane <jane@example.com>\r\nTo: support@example.org\r\nSubject: Hello\r\n"
    b"Message-ID: <a1@example.com>\r\n\r\nHi.\r\n"
)


def test_auth_key_reports_only_trusted_authentication_results() -> None:
    """
    GIVEN a message with Authentication-Results from our trusted MX and from an untrusted id
    WHEN its inspect record is built with the trusted id, without it, and without the raw bytes
    THEN `auth` has the trusted MX's results only; it is null when no id is trusted or the raw bytes are not given
    """
    parsed = parse_message(SIGNED_BY_OUR_MX)
    trusted = build_inspect_record(parsed, "m.eml", raw=SIGNED_BY_OUR_MX, trusted_authserv_ids=["MX.desk.example.org"])
    assert trusted["auth"] == {
        "source": "authentication-results",
        "authserv_ids": ["mx.desk.example.org"],
        "spf": "pass",
        "dkim": ["pass"],
        "dmarc": "pass",
        "arc": None,
        "dkim_signatures": 0,
        "arc_sets": 0,
        "from_domain": "example.com",
    }
    assert build_inspect_record(parsed, "m.eml", raw=SIGNED_BY_OUR_MX)["auth"] is None
    assert build_inspect_record(parsed, "m.eml", trusted_authserv_ids=["mx.desk.example.org"])["auth"] is None


def test_inspect_paths_prints_the_auth_key(tmp_path: Path) -> None:
    """
    GIVEN a mail file and the trusted id passed as the CLI passes POSTROOM_TRUSTED_AUTHSERV_IDS
    WHEN it is inspected
    THEN the printed JSON line carries the trusted DMARC result
    """
    path = tmp_path / "m.eml"
    path.write_bytes(SIGNED_BY_OUR_MX)
    out = io.StringIO()
    assert inspect_paths([str(path)], out, io.StringIO(), trusted_authserv_ids=("mx.desk.example.org",)) == 0
    record = json.loads(out.getvalue())
    assert record["auth"]["dmarc"] == "pass" and record["auth"]["authserv_ids"] == ["mx.desk.example.org"]
