"""DMARC (RFC 7489): policy discovery, identifier alignment of SPF and DKIM, and the resulting disposition."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

from postroom.mail.auth.dkim import DkimResult, DkimSignatureVerdict
from postroom.mail.auth.orgdomain import find_organizational_domain, is_aligned
from postroom.mail.auth.resolver import DnsTemporaryError, Resolver
from postroom.mail.auth.spf import SpfResult, SpfVerdict

DMARC_PREFIX: Final = "v=DMARC1"  # RFC 7489 §6.4: the first tag, exactly this value (compared case-sensitively)
FULL_PERCENT: Final = 100


class DmarcPolicy(enum.StrEnum):
    """RFC 7489 §6.3 p= / sp= values."""

    NONE = "none"
    QUARANTINE = "quarantine"
    REJECT = "reject"


class DmarcResult(enum.StrEnum):
    """RFC 8601 §2.7.1 dmarc values, plus `unknown` when an input was missing (e.g. no client IP for SPF)."""

    NONE = "none"
    PASS = "pass"  # noqa: S105 - a DMARC result, not a password
    FAIL = "fail"
    TEMPERROR = "temperror"
    PERMERROR = "permerror"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class DmarcRecord:
    """The tags of a DMARC record that decide a disposition (RFC 7489 §6.3); reporting tags are not kept."""

    policy: DmarcPolicy
    subdomain_policy: DmarcPolicy | None
    percent: int
    strict_dkim: bool
    strict_spf: bool


@dataclass(frozen=True, slots=True)
class DmarcVerdict:
    """The DMARC outcome for the author domain: result, alignment evidence, policy and disposition."""

    result: DmarcResult
    from_domain: str
    reason: str
    record_domain: str = ""  # where the record was found (the author domain or its organizational domain)
    record: DmarcRecord | None = None
    spf_aligned: bool = False
    dkim_aligned_domains: tuple[str, ...] = ()
    policy: DmarcPolicy | None = None  # p= or sp=, the one that applies to this author domain
    disposition: DmarcPolicy = DmarcPolicy.NONE  # what the domain owner asks for this message after pct=


def _tags(text: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            tags.setdefault(name.strip().lower(), value.strip())
    return tags


def _policy(value: str | None) -> DmarcPolicy | None:
    try:
        return DmarcPolicy(value.lower()) if value is not None else None
    except ValueError:
        return None


def parse_dmarc_record(text: str) -> DmarcRecord | None:
    """A record's tags, or None when it is not a usable DMARC record (RFC 7489 §6.6.3 steps 5-6)."""
    if not text.startswith(DMARC_PREFIX) or _tags(text).get("v") != "DMARC1":
        return None
    tags = _tags(text)
    policy = _policy(tags.get("p"))
    subdomain = _policy(tags.get("sp"))
    if policy is None or (subdomain is None and "sp" in tags):
        # §6.6.3 step 6: with a valid rua= act as p=none, otherwise apply no DMARC processing
        if "mailto:" not in tags.get("rua", ""):
            return None
        policy, subdomain = DmarcPolicy.NONE, None
    try:
        percent = min(max(int(tags.get("pct", "100")), 0), FULL_PERCENT)
    except ValueError:
        percent = FULL_PERCENT
    return DmarcRecord(policy, subdomain, percent, tags.get("adkim", "r") == "s", tags.get("aspf", "r") == "s")


def _fetch(resolver: Resolver, domain: str) -> DmarcRecord | str | None:
    """The record at _dmarc.<domain>; a str explains why there is none usable."""
    texts = [t.decode("utf-8", "replace") for t in resolver.resolve_txt(f"_dmarc.{domain}")]
    candidates = [t for t in texts if t.startswith(DMARC_PREFIX)]
    if len(candidates) > 1:
        return f"{len(candidates)} DMARC records at _dmarc.{domain}"  # §6.6.3 step 4: none applies
    return parse_dmarc_record(candidates[0]) if candidates else None


def find_dmarc_record(from_domain: str, resolver: Resolver) -> tuple[str, DmarcRecord | None, str]:
    """(record domain, record, note): the author domain first, then its organizational domain (§6.6.3)."""
    note = ""
    for domain in dict.fromkeys((from_domain, find_organizational_domain(from_domain))):
        found = _fetch(resolver, domain)
        if isinstance(found, DmarcRecord):
            return domain, found, ""
        note = found or note
    return "", None, note


def _sampled(percent: int, sample_key: bytes) -> bool:
    """pct= sampling made replayable: the same message always falls on the same side (RFC 7489 §6.6.4)."""
    if percent >= FULL_PERCENT:
        return True
    return int.from_bytes(hashlib.sha256(sample_key).digest()[:4], "big") % FULL_PERCENT < percent


_WEAKER: Final = {DmarcPolicy.REJECT: DmarcPolicy.QUARANTINE, DmarcPolicy.QUARANTINE: DmarcPolicy.NONE}


def evaluate_dmarc(  # noqa: PLR0911 - one return per RFC 7489 §6.6 outcome
    *,
    from_domain: str,
    spf: SpfVerdict | None,
    dkim: Sequence[DkimSignatureVerdict],
    resolver: Resolver,
    sample_key: bytes = b"",
) -> DmarcVerdict:
    """RFC 7489 §6.6: pass when SPF or a DKIM signature passes for an aligned domain; else the policy applies.

    `spf` is None when SPF could not be checked (no client IP): DMARC can then still pass through DKIM, but a
    non-pass is reported as `unknown`, not as `fail`.
    """
    from_domain = from_domain.strip().rstrip(".").lower()
    if not from_domain:
        return DmarcVerdict(DmarcResult.PERMERROR, "", "no single author domain in From (RFC 7489 §6.6.1)")
    try:
        record_domain, record, note = find_dmarc_record(from_domain, resolver)
    except DnsTemporaryError as e:
        return DmarcVerdict(DmarcResult.TEMPERROR, from_domain, f"DMARC record lookup failed: {e}")
    if record is None:
        return DmarcVerdict(DmarcResult.NONE, from_domain, note or f"no DMARC record for {from_domain}")
    spf_aligned = bool(
        spf and spf.result is SpfResult.PASS and is_aligned(spf.domain, from_domain, strict=record.strict_spf)
    )
    dkim_domains = tuple(
        dict.fromkeys(
            sig.domain
            for sig in dkim
            if sig.result is DkimResult.PASS and is_aligned(sig.domain, from_domain, strict=record.strict_dkim)
        )
    )
    applies = record.subdomain_policy if record_domain != from_domain and record.subdomain_policy else record.policy
    base = DmarcVerdict(
        DmarcResult.FAIL,
        from_domain,
        "",
        record_domain=record_domain,
        record=record,
        spf_aligned=spf_aligned,
        dkim_aligned_domains=dkim_domains,
        policy=applies,
    )
    if spf_aligned or dkim_domains:
        how = [f"SPF {spf.domain}"] if spf_aligned and spf else []
        how += [f"DKIM d={domain}" for domain in dkim_domains]
        return replace(base, result=DmarcResult.PASS, reason="aligned pass: " + ", ".join(how))
    temporary = (spf is not None and spf.result is SpfResult.TEMPERROR) or any(
        sig.result is DkimResult.TEMPERROR for sig in dkim
    )
    if temporary:
        return replace(base, result=DmarcResult.TEMPERROR, reason="no aligned pass; a check had a temporary DNS error")
    if spf is None:
        return replace(
            base, result=DmarcResult.UNKNOWN, reason="no DKIM signature aligned with From, and SPF was not checked"
        )
    disposition = applies if _sampled(record.percent, sample_key) else _WEAKER.get(applies, DmarcPolicy.NONE)
    spf_note = f"SPF {spf.result} for {spf.domain or '-'}" + (" (not aligned)" if spf.result is SpfResult.PASS else "")
    dkim_note = f"{len(dkim)} DKIM signature(s), none passing for an aligned domain"
    reason = f"no aligned pass: {spf_note}; {dkim_note}; policy {applies} (pct={record.percent})"
    return replace(base, reason=reason, disposition=disposition)
