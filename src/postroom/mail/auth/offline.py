"""What `postroom inspect` can say about sender authentication from the raw message alone, without DNS.

SPF needs the client IP and DKIM, DMARC and ARC need key and policy records, so offline we only report what
trusted receiving servers already wrote (Authentication-Results from configured authserv-ids) and how many
DKIM signatures and ARC sets the message carries. No trusted header: None (inspect prints null).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from postroom.mail.auth.authresults import parse_authentication_results
from postroom.mail.auth.headers import read_auth_headers

METHODS = ("spf", "dkim", "dmarc", "arc")


@dataclass(frozen=True, slots=True)
class OfflineAuthSummary:
    """Upstream verdicts per method (topmost trusted header wins; DKIM keeps every signature's result)."""

    authserv_ids: tuple[str, ...]
    spf: str | None
    dkim: tuple[str, ...]
    dmarc: str | None
    arc: str | None
    dkim_signatures: int
    arc_sets: int
    from_domain: str

    def as_record(self) -> dict[str, object]:
        """The JSON shape of inspect's `auth` key."""
        return {
            "source": "authentication-results",
            "authserv_ids": list(self.authserv_ids),
            "spf": self.spf,
            "dkim": list(self.dkim),
            "dmarc": self.dmarc,
            "arc": self.arc,
            "dkim_signatures": self.dkim_signatures,
            "arc_sets": self.arc_sets,
            "from_domain": self.from_domain,
        }


def summarise_offline_auth(raw: bytes, *, trusted_authserv_ids: Collection[str]) -> OfflineAuthSummary | None:
    """The trusted upstream results of the message, or None when no trusted Authentication-Results is present."""
    headers = read_auth_headers(raw)
    upstream = parse_authentication_results(headers.authentication_results, trusted_authserv_ids=trusted_authserv_ids)
    if not upstream.trusted_ids_seen:
        return None
    first = {method: upstream.find_result(method) for method in METHODS}
    return OfflineAuthSummary(
        authserv_ids=upstream.trusted_ids_seen,
        spf=first["spf"].result if first["spf"] else None,
        dkim=tuple(r.result for r in upstream.results if r.method == "dkim"),
        dmarc=first["dmarc"].result if first["dmarc"] else None,
        arc=first["arc"].result if first["arc"] else None,
        dkim_signatures=headers.dkim_signatures,
        arc_sets=headers.arc_seals,
        from_domain=headers.from_domain,
    )
