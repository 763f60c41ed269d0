"""The few header facts sender authentication needs, read from raw bytes (never decoded to str first)."""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.headerregistry import AddressHeader
from email.parser import BytesParser


@dataclass(frozen=True, slots=True)
class AuthHeaders:
    """The author domain (RFC 7489 §3.1.1 RFC5322.From) and the Authentication-Results values, topmost first."""

    from_domain: str  # "" when there is not exactly one From address (RFC 7489 §6.6.1)
    from_problem: str  # why from_domain is empty, else ""
    authentication_results: tuple[str, ...]
    dkim_signatures: int
    arc_seals: int


def read_auth_headers(raw: bytes) -> AuthHeaders:
    """Parse the header block only; a malformed From yields an explanation, not an exception."""
    message = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
    results = tuple(str(v) for v in message.get_all("Authentication-Results", []))
    signatures = len(message.get_all("DKIM-Signature", []))
    seals = len(message.get_all("ARC-Seal", []))
    froms = message.get_all("From", [])
    domain, problem = "", ""
    if len(froms) != 1:
        problem = f"{len(froms)} From header fields"
    else:
        try:
            header = froms[0]
            addresses = header.addresses if isinstance(header, AddressHeader) else ()
        except (ValueError, IndexError, TypeError):  # the stdlib address parser's failures on hostile input
            addresses = ()
        if len(addresses) != 1:
            problem = f"{len(addresses)} addresses in From"
        elif not addresses[0].domain:
            problem = "From address has no domain"
        else:
            domain = addresses[0].domain.strip().rstrip(".").lower()
    return AuthHeaders(domain, problem, results, signatures, seals)
