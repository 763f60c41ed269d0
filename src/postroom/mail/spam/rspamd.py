"""A client for rspamd's HTTP protocol: POST the message to /checkv2, read score, required_score, action, symbols.

rspamd's documented reply (https://rspamd.com/doc/developers/protocol.html, "Rspamd protocol"): a JSON object
with `score`, `required_score`, `action` ("no action", "greylist", "add header", "rewrite subject",
"soft reject", "reject") and `symbols`, each `{name, score, ...}`. Envelope facts go as request headers (`From`,
`Rcpt`, `IP`), so rspamd's SPF and DMARC modules can use them. The standard library's http.client is enough
(docs/adr/0011-spam-scanners.md).
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from postroom.mail.spam.values import MAX_RULES, ScannerError, ScanOutcome, SpamScan

SCANNER: Final = "rspamd"
DEFAULT_PORT: Final = 11333  # rspamd's normal worker
MAX_RESPONSE_BYTES: Final = 4 * 1024 * 1024
CHECK_PATH: Final = "/checkv2"
SPAM_ACTIONS: Final = frozenset({"add header", "rewrite subject", "soft reject", "reject"})


@dataclass(frozen=True, slots=True)
class RspamdAddress:
    host: str
    port: int = DEFAULT_PORT
    tls: bool = False
    base_path: str = ""

    def describe(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}{self.base_path}"


@dataclass(frozen=True, slots=True)
class Envelope:
    """What rspamd may know beyond the bytes; empty values are not sent."""

    mail_from: str = ""
    recipients: Sequence[str] = ()
    client_ip: str = ""


def parse_rspamd_url(url: str) -> RspamdAddress:
    """`http://127.0.0.1:11333` (port optional, default 11333) or https://, with an optional path prefix."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"not an rspamd URL: {url[:80]!r} (use http://host:11333)")
    try:
        port = parts.port or (DEFAULT_PORT if parts.scheme == "http" else 443)
    except ValueError as e:
        raise ValueError(f"bad port in rspamd URL {url[:80]!r}") from e
    return RspamdAddress(parts.hostname, port, parts.scheme == "https", parts.path.rstrip("/"))


def build_headers(message: bytes, envelope: Envelope) -> dict[str, str]:
    headers = {"Content-Length": str(len(message)), "Content-Type": "message/rfc822"}
    if envelope.mail_from:
        headers["From"] = envelope.mail_from
    if envelope.recipients:
        headers["Rcpt"] = ",".join(envelope.recipients)
    if envelope.client_ip:
        headers["IP"] = envelope.client_ip
    return {name: value.replace("\r", " ").replace("\n", " ") for name, value in headers.items()}


def _symbol_score(item: object) -> float:
    if isinstance(item, Mapping):
        value = item.get("score", 0.0)
        return float(value) if isinstance(value, int | float) else 0.0
    return 0.0


def parse_reply(document: object) -> SpamScan:
    """rspamd's /checkv2 JSON as a scan; the rules are its symbols, heaviest first."""
    if not isinstance(document, Mapping):
        raise ScannerError("rspamd answered something else than a JSON object")
    score, required = document.get("score"), document.get("required_score")
    if not isinstance(score, int | float) or isinstance(score, bool):
        raise ScannerError("rspamd's answer has no score")
    action = str(document.get("action", ""))
    symbols = document.get("symbols")
    names: list[tuple[float, str]] = []
    if isinstance(symbols, Mapping):
        names = [(-abs(_symbol_score(item)), str(name)) for name, item in symbols.items()]
    return SpamScan(
        scanner=SCANNER,
        outcome=ScanOutcome.SCANNED,
        score=float(score),
        required=float(required) if isinstance(required, int | float) else None,
        scanner_flag=action in SPAM_ACTIONS,
        rules=tuple(name for _weight, name in sorted(names))[:MAX_RULES],
        action=action,
    )


def scan_with_rspamd(
    message: bytes, address: RspamdAddress, *, timeout: float, envelope: Envelope | None = None
) -> SpamScan:
    """Score the message with rspamd; ScannerError when it cannot (down, slow, an HTTP error, not JSON)."""
    connection_class = http.client.HTTPSConnection if address.tls else http.client.HTTPConnection
    connection = connection_class(address.host, address.port, timeout=timeout)
    try:
        connection.request(
            "POST", address.base_path + CHECK_PATH, body=message, headers=build_headers(message, envelope or Envelope())
        )
        response = connection.getresponse()
        body = response.read(MAX_RESPONSE_BYTES + 1)
    except TimeoutError as e:
        raise ScannerError(f"rspamd at {address.describe()} did not answer within {timeout:g} s") from e
    except (OSError, http.client.HTTPException) as e:
        raise ScannerError(f"rspamd at {address.describe()} unreachable: {e}") from e
    finally:
        connection.close()
    if response.status != 200:
        raise ScannerError(f"rspamd answered HTTP {response.status} {response.reason[:60]}")
    if len(body) > MAX_RESPONSE_BYTES:
        raise ScannerError("rspamd's answer is larger than 4 MiB")
    try:
        document = json.loads(body)
    except ValueError as e:
        raise ScannerError("rspamd's answer is not JSON") from e
    return parse_reply(document)
