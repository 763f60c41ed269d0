"""SPF (RFC 7208) check_host() through pyspf, with every DNS lookup going to the Resolver we are given.

pyspf is the reference implementation (it ships the openspf suites), but its only DNS hook is the module-global
`spf.DNSLookup`. Replacing a global would make two concurrent checks share one resolver, so `_ResolverQuery`
overrides the one method that performs lookups (`query.dns`) instead; caching, CNAME handling of the answers
and the void-lookup limit of RFC 7208 §4.6.4 stay as pyspf does them.
"""

from __future__ import annotations

import enum
import ipaddress
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import spf

from postroom.mail.auth.resolver import DnsTemporaryError, Resolver, normalise_name

MAX_LOOKUP_SECONDS: Final = 20.0  # RFC 7208 §4.6.4: "at least 20 seconds" for the whole evaluation
MAX_LABEL_LENGTH: Final = 63  # RFC 1035 §2.3.4


class SpfResult(enum.StrEnum):
    """RFC 7208 §2.6 results."""

    NONE = "none"
    NEUTRAL = "neutral"
    PASS = "pass"  # noqa: S105 - an SPF result, not a password
    FAIL = "fail"
    SOFTFAIL = "softfail"
    TEMPERROR = "temperror"
    PERMERROR = "permerror"


@dataclass(frozen=True, slots=True)
class SpfVerdict:
    """The result of check_host() for one identity, with the domain checked and why."""

    result: SpfResult
    domain: str  # the MAIL FROM domain, or the HELO name when MAIL FROM is empty (RFC 7208 §2.4)
    identity: str  # "mailfrom" or "helo"
    explanation: str  # pyspf's reason, or the domain's exp= text on fail (RFC 7208 §6.2)


class _ResolverQuery(spf.query):  # type: ignore[misc]  # pyspf is untyped
    """pyspf's query with lookups sent to our Resolver and a total time budget (RFC 7208 §4.6.4)."""

    def __init__(self, *args: Any, resolver: Resolver, budget: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._resolver = resolver
        self._deadline = time.monotonic() + budget

    def _fetch(self, name: str, qtype: str) -> list[Any]:
        if time.monotonic() > self._deadline:
            raise spf.TempError("DNS Error: exceeded max query lookup time")
        try:
            if qtype in ("TXT", "SPF"):
                # pyspf wants each TXT record as a sequence of byte strings it joins itself
                return [(record,) for record in self._resolver.resolve_txt(name)] if qtype == "TXT" else []
            if qtype in ("A", "AAAA"):
                return list(self._resolver.resolve_addresses(name, "A" if qtype == "A" else "AAAA"))
            if qtype == "MX":
                return [(mx.preference, mx.exchange) for mx in self._resolver.resolve_mx(name)]
            if qtype == "PTR":
                return list(self._resolver.resolve_ptr(name))
        except DnsTemporaryError as e:
            raise spf.TempError(f"DNS {e}") from e
        return []

    def dns(self, name: str, qtype: str, cnames: object = None, ignore_void: bool = False) -> list[Any]:
        """Lookup with pyspf's cache and void-lookup counting; CNAMEs are followed by the resolver."""
        del cnames  # the Resolver follows CNAMEs itself
        name = normalise_name(str(name))
        if not name or not all(0 < len(label) <= MAX_LABEL_LENGTH for label in name.split(".")):
            return []  # RFC 7208 §4.3: an invalid name has no records
        key = (name, qtype)
        if key not in self.cache:
            self.cache[key] = self._fetch(name, qtype)
        result: list[Any] = self.cache[key]
        if not result and not ignore_void:
            self.void_lookups += 1
            if self.void_lookups > spf.MAX_VOID_LOOKUPS:
                raise spf.PermError(f"Void lookup limit of {spf.MAX_VOID_LOOKUPS} exceeded")
        return result

    def validated_ptrs(self) -> list[str]:
        """RFC 7208 §5.5: PTR names whose A/AAAA include the client; a name whose lookup fails is skipped."""
        names: list[str] = self.dns_ptr(self.i)[: spf.MAX_PTR]
        validated: list[str] = []
        for name in names:
            try:
                addresses = self.dns_a(name, self.A)
            except spf.TempError:
                continue
            if self.cidrmatch(addresses, self.cidrmax):
                validated.append(name)
        return validated


def check_spf(
    *,
    client_ip: str,
    mail_from: str,
    helo: str,
    resolver: Resolver,
    now: datetime,
    receiver: str = "unknown",
    budget: float = MAX_LOOKUP_SECONDS,
) -> SpfVerdict:
    """check_host() (RFC 7208 §4) for MAIL FROM, or for HELO when the reverse path is empty (§2.4)."""
    identity = "mailfrom" if mail_from else "helo"
    domain = mail_from.rpartition("@")[2] if mail_from else helo
    try:
        ipaddress.ip_address(client_ip)
    except ValueError:
        return SpfVerdict(SpfResult.PERMERROR, domain, identity, f"not an IP address: {client_ip!r}")
    query = _ResolverQuery(client_ip, mail_from, helo, receiver=receiver, resolver=resolver, budget=budget)
    query.t = str(int(now.timestamp()))  # the %{t} macro (RFC 7208 §7.2) from the caller's clock
    result, _code, explanation = query.check()
    return SpfVerdict(SpfResult(result), normalise_name(domain), identity, str(explanation))
