"""DNS lookups for sender authentication: one small interface, a dnspython resolver with timeouts, an in-memory zone.

Every checker (SPF, DKIM, DMARC, ARC) takes a `Resolver` argument, so production passes a `DnsPythonResolver`
and tests pass an `InMemoryZone` filled from the official suites' zone data; there is no module-level resolver.
The contract, shared by both implementations:

- an answer is a tuple of records, empty when the name does not exist (NXDOMAIN) or has no record of that type
  (NODATA): RFC 7208 §4.3 and RFC 7489 §6.6.3 treat both alike;
- CNAMEs are followed, as a recursive resolver does;
- a timeout, SERVFAIL or unreachable resolver raises `DnsTemporaryError` (RFC 7208 §2.6.6 "temperror",
  RFC 6376 §6.1.2 TEMPFAIL), never an empty answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal, Protocol

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

AddressType = Literal["A", "AAAA"]
RecordType = Literal["A", "AAAA", "MX", "TXT", "PTR", "CNAME"]

DEFAULT_LIFETIME_SECONDS: Final = 5.0  # per lookup; dkimpy's default, and 4 lookups fit RFC 7208 §4.6.4's 20 s
MAX_CNAME_HOPS: Final = 8  # RFC 1034 §3.6.2 asks resolvers to stop CNAME chains; BIND stops after 16, we after 8


class DnsTemporaryError(Exception):
    """The lookup did not complete (timeout, SERVFAIL, no reachable server): the answer is unknown, not empty."""


@dataclass(frozen=True, slots=True)
class MxRecord:
    """One MX record (RFC 5321 §5.1)."""

    preference: int
    exchange: str  # host name without the trailing dot


class Resolver(Protocol):
    """The four lookups sender authentication needs (RFC 7208 §5, RFC 6376 §3.6.2, RFC 7489 §6.1)."""

    def resolve_txt(self, name: str) -> tuple[bytes, ...]:
        """TXT records, each record's character-strings concatenated without separators (RFC 7208 §3.3)."""
        ...

    def resolve_addresses(self, name: str, rdtype: AddressType) -> tuple[str, ...]:
        """A or AAAA records as address text."""
        ...

    def resolve_mx(self, name: str) -> tuple[MxRecord, ...]:
        """MX records in the order the server gave them."""
        ...

    def resolve_ptr(self, name: str) -> tuple[str, ...]:
        """PTR targets of a reverse name (`4.3.2.1.in-addr.arpa`), without trailing dots."""
        ...


def normalise_name(name: str) -> str:
    """Lower case, no trailing dot: DNS names compare case-insensitively (RFC 4343)."""
    return name.strip().rstrip(".").lower()


class DnsPythonResolver:
    """Real lookups through dnspython, each bounded by `lifetime` seconds; its own `dns.resolver.Resolver`."""

    def __init__(
        self,
        *,
        lifetime: float = DEFAULT_LIFETIME_SECONDS,
        nameservers: Sequence[str] | None = None,
        port: int = 53,
    ) -> None:
        """`nameservers` None reads /etc/resolv.conf; point it at the local validating resolver in production."""
        self._resolver = dns.resolver.Resolver(configure=nameservers is None)
        if nameservers is not None:
            self._resolver.nameservers = list(nameservers)
        self._resolver.port = port
        self._resolver.lifetime = lifetime
        self._resolver.timeout = lifetime
        # Answers (NXDOMAIN included) kept for their TTL: the same senders' domains come back message after message.
        self._resolver.cache = dns.resolver.LRUCache(10_000)

    def _answer(self, name: str, rdtype: RecordType) -> dns.resolver.Answer | None:
        try:
            return self._resolver.resolve(name, rdtype, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            return None
        except (dns.name.EmptyLabel, dns.name.LabelTooLong, dns.name.NameTooLong):
            return None  # not a valid DNS name: nothing can exist there (RFC 7208 §4.3)
        except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.NoResolverConfiguration) as e:
            raise DnsTemporaryError(f"{rdtype} {name}: {e}") from e

    def resolve_txt(self, name: str) -> tuple[bytes, ...]:
        answer = self._answer(name, "TXT")
        if answer is None or answer.rrset is None:
            return ()
        return tuple(b"".join(rdata.strings) for rdata in answer.rrset)

    def resolve_addresses(self, name: str, rdtype: AddressType) -> tuple[str, ...]:
        answer = self._answer(name, rdtype)
        if answer is None or answer.rrset is None:
            return ()
        return tuple(str(rdata.address) for rdata in answer.rrset)

    def resolve_mx(self, name: str) -> tuple[MxRecord, ...]:
        answer = self._answer(name, "MX")
        if answer is None or answer.rrset is None:
            return ()
        return tuple(
            MxRecord(int(rdata.preference), normalise_name(rdata.exchange.to_text())) for rdata in answer.rrset
        )

    def resolve_ptr(self, name: str) -> tuple[str, ...]:
        answer = self._answer(name, "PTR")
        if answer is None or answer.rrset is None:
            return ()
        return tuple(rdata.target.to_text(omit_final_dot=True) for rdata in answer.rrset)


@dataclass(frozen=True, slots=True)
class ZoneRecord:
    """One record of an in-memory zone; `value` is bytes for TXT, text otherwise."""

    name: str
    rdtype: RecordType
    value: str | bytes
    preference: int = 0  # MX only


class InMemoryZone:
    """A resolver answering from records given up front (tests, the suites' zone data, offline replays).

    `timeouts` lists names whose lookups time out for every type that has no record listed: the openspf suite's
    `TIMEOUT` marker. A CNAME loop or a chain longer than MAX_CNAME_HOPS raises DnsTemporaryError, as a
    recursive resolver answers SERVFAIL for it.
    """

    def __init__(self, records: Iterable[ZoneRecord] = (), *, timeouts: Iterable[str] = ()) -> None:
        self._records: dict[tuple[str, RecordType], list[ZoneRecord]] = {}
        for record in records:
            self._records.setdefault((normalise_name(record.name), record.rdtype), []).append(record)
        self._timeouts = frozenset(normalise_name(name) for name in timeouts)

    def _lookup(self, name: str, rdtype: RecordType) -> list[ZoneRecord]:
        current = normalise_name(name)
        seen: list[str] = []
        while True:
            found = self._records.get((current, rdtype))
            if found:
                return found
            cname = self._records.get((current, "CNAME"))
            if not cname:
                break
            seen.append(current)
            current = normalise_name(str(cname[0].value))
            if current in seen or len(seen) > MAX_CNAME_HOPS:
                raise DnsTemporaryError(f"{rdtype} {name}: CNAME loop or chain too long via {current}")
        if current in self._timeouts:
            raise DnsTemporaryError(f"{rdtype} {current}: timeout")
        return []

    def resolve_txt(self, name: str) -> tuple[bytes, ...]:
        return tuple(r.value if isinstance(r.value, bytes) else r.value.encode() for r in self._lookup(name, "TXT"))

    def resolve_addresses(self, name: str, rdtype: AddressType) -> tuple[str, ...]:
        return tuple(str(r.value) for r in self._lookup(name, rdtype))

    def resolve_mx(self, name: str) -> tuple[MxRecord, ...]:
        return tuple(MxRecord(r.preference, normalise_name(str(r.value))) for r in self._lookup(name, "MX"))

    def resolve_ptr(self, name: str) -> tuple[str, ...]:
        return tuple(normalise_name(str(r.value)) for r in self._lookup(name, "PTR"))
