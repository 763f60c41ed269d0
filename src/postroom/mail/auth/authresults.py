"""Authentication-Results (RFC 8601) parsed through `authres`, kept only from authserv-ids we were told to trust.

RFC 8601 §5: a header is only as trustworthy as the host that wrote it, and anyone can write one. A receiving
MTA we trust (named by its authserv-id) must delete incoming headers that claim its id (Postfix with
OpenDMARC/OpenDKIM, rspamd and Exchange Online do); everything from other ids is ignored and only counted.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Final

import authres

ARC_METHOD: Final = "arc"


@dataclass(frozen=True, slots=True)
class UpstreamResult:
    """One method's result in a trusted header, e.g. spf=pass smtp.mailfrom=example.net."""

    authserv_id: str
    method: str  # spf, dkim, dmarc, arc, iprev, auth, ...
    result: str  # pass, fail, none, ... (RFC 8601 §2.7)
    reason: str
    properties: tuple[tuple[str, str], ...]  # (ptype.property, value), e.g. ("header.d", "example.net")

    def find_property(self, name: str) -> str | None:
        """The first value of `ptype.property` (case-insensitive), else None."""
        wanted = name.lower()
        return next((value for key, value in self.properties if key.lower() == wanted), None)


@dataclass(frozen=True, slots=True)
class UpstreamAuthentication:
    """The results of trusted Authentication-Results headers, and how many headers were set aside."""

    results: tuple[UpstreamResult, ...] = ()
    trusted_ids_seen: tuple[str, ...] = ()
    ignored_untrusted: int = 0  # headers from an authserv-id not in the trusted set
    unparsable: int = 0  # headers authres could not read

    def find_result(self, method: str) -> UpstreamResult | None:
        """The first (topmost, so most recent) trusted result for a method."""
        return next((r for r in self.results if r.method == method.lower()), None)


def _normalise_id(authserv_id: str) -> str:
    return authserv_id.strip().lower()


def parse_authentication_results(
    values: Iterable[str], *, trusted_authserv_ids: Collection[str]
) -> UpstreamAuthentication:
    """Header values (without the field name), topmost first; only trusted authserv-ids contribute results."""
    trusted = {_normalise_id(i) for i in trusted_authserv_ids if i.strip()}
    results: list[UpstreamResult] = []
    seen: list[str] = []
    ignored = unparsable = 0
    for value in values:
        try:
            header = authres.AuthenticationResultsHeader.parse_value(" ".join(str(value).split()))
        except (authres.AuthResError, ValueError, IndexError):
            unparsable += 1
            continue
        authserv_id = _normalise_id(str(header.authserv_id))
        if authserv_id not in trusted:
            ignored += 1
            continue
        seen.append(authserv_id)
        for item in header.results:
            properties = tuple((f"{p.type}.{p.name}".lower(), str(p.value)) for p in item.properties)
            results.append(
                UpstreamResult(
                    authserv_id, str(item.method).lower(), str(item.result).lower(), str(item.reason or ""), properties
                )
            )
    return UpstreamAuthentication(tuple(results), tuple(dict.fromkeys(seen)), ignored, unparsable)
