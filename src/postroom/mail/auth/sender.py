"""One entry point: SPF, DKIM, DMARC and ARC for a received message, trusted upstream results, and a spoof flag.

The flag is evidence-based and conservative: it is raised when the author domain's owner says (through DMARC)
that this message is not theirs, or, without a DMARC record, when SPF hard-fails for the From domain and no
aligned DKIM signature vouches for it. A trusted ARC sealer can vouch for mail it forwarded (RFC 8617 §7.2).
Whatever could not be checked (no client IP for a file import, no HELO) is listed, never guessed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from postroom.mail.auth.arc import ArcResult, ArcVerdict, validate_arc
from postroom.mail.auth.authresults import UpstreamAuthentication, parse_authentication_results
from postroom.mail.auth.dkim import DkimResult, DkimSignatureVerdict, verify_dkim
from postroom.mail.auth.dmarc import DmarcResult, DmarcVerdict, evaluate_dmarc
from postroom.mail.auth.headers import read_auth_headers
from postroom.mail.auth.orgdomain import is_aligned
from postroom.mail.auth.resolver import Resolver
from postroom.mail.auth.spf import SpfResult, SpfVerdict, check_spf


@dataclass(frozen=True, slots=True)
class SenderAuthentication:
    """Everything Postroom learnt about who sent a message, for the screen stage and the agent's banner."""

    from_domain: str
    spf: SpfVerdict | None  # None: not checked (see `unchecked`)
    dkim: tuple[DkimSignatureVerdict, ...]
    dmarc: DmarcVerdict
    arc: ArcVerdict
    upstream: UpstreamAuthentication
    possible_spoof: bool
    evidence: tuple[str, ...]  # human-readable lines: why the flag is (not) raised, strongest first
    unchecked: tuple[str, ...]  # what could not be checked and why


def _spf_line(spf: SpfVerdict) -> str:
    text = f"SPF {spf.result} for {spf.identity} domain {spf.domain or '-'}"
    return f"{text}: {spf.explanation}" if spf.explanation else text


def _dkim_line(sig: DkimSignatureVerdict) -> str:
    return f"DKIM {sig.result} d={sig.domain or '-'} s={sig.selector or '-'}: {sig.reason}"


def _arc_vouches(arc: ArcVerdict, trusted_arc_sealers: Collection[str]) -> str | None:
    """The trusted sealer of a passing chain's newest set, else None."""
    trusted = {s.strip().lower() for s in trusted_arc_sealers}
    if arc.result is ArcResult.PASS and arc.sealers and arc.sealers[0] in trusted:
        return arc.sealers[0]
    return None


def judge_spoof(
    *,
    from_domain: str,
    spf: SpfVerdict | None,
    dkim: tuple[DkimSignatureVerdict, ...],
    dmarc: DmarcVerdict,
    arc: ArcVerdict,
    upstream: UpstreamAuthentication,
    trusted_arc_sealers: Collection[str] = (),
) -> tuple[bool, tuple[str, ...]]:
    """(possible spoof, evidence lines): a pure rule over the verdicts, so the banner can be explained."""
    evidence: list[str] = []
    suspicious = False
    if dmarc.result is DmarcResult.FAIL:
        suspicious = True
        evidence.append(f"DMARC fail for {from_domain}: {dmarc.reason}")
    elif dmarc.result is DmarcResult.NONE and spf and spf.result is SpfResult.FAIL:
        aligned_dkim = any(
            s.result is DkimResult.PASS and is_aligned(s.domain, from_domain, strict=False) for s in dkim
        )
        if is_aligned(spf.domain, from_domain, strict=False) and not aligned_dkim:
            suspicious = True
            evidence.append(f"SPF fail for the From domain {from_domain} and no aligned DKIM signature")
    upstream_dmarc = upstream.find_result("dmarc")
    if upstream_dmarc and upstream_dmarc.result == "fail" and dmarc.result is not DmarcResult.PASS:
        suspicious = True
        evidence.append(f"trusted upstream {upstream_dmarc.authserv_id} reports dmarc=fail")
    sealer = _arc_vouches(arc, trusted_arc_sealers)
    if suspicious and sealer:
        suspicious = False
        evidence.insert(0, f"ARC chain passes and its newest seal is by trusted forwarder {sealer}: not flagged")
    if not suspicious and dmarc.result is DmarcResult.PASS:
        evidence.append(f"DMARC pass for {from_domain}: {dmarc.reason}")
    evidence.extend(_dkim_line(s) for s in dkim)
    if spf:
        evidence.append(_spf_line(spf))
    if dmarc.result not in (DmarcResult.FAIL, DmarcResult.PASS):
        evidence.append(f"DMARC {dmarc.result}: {dmarc.reason}")
    if arc.result is not ArcResult.NONE:
        evidence.append(f"ARC {arc.result} ({arc.instances} set(s)): {arc.reason}")
    return suspicious, tuple(dict.fromkeys(evidence))


def evaluate_sender(
    raw: bytes,
    *,
    client_ip: str | None,
    helo: str | None,
    mail_from: str | None,
    resolver: Resolver,
    trusted_authserv_ids: Collection[str],
    now: datetime,
    trusted_arc_sealers: Collection[str] = (),
) -> SenderAuthentication:
    """Check the message as received: `mail_from` "" is the null reverse-path; None means not known."""
    headers = read_auth_headers(raw)
    unchecked: list[str] = []
    spf: SpfVerdict | None = None
    if not client_ip:
        unchecked.append("SPF: no client IP (mail not received over SMTP, e.g. a file or IMAP import)")
    elif mail_from is None:
        unchecked.append("SPF: the envelope sender (MAIL FROM) is not known")
    elif not mail_from and not helo:
        unchecked.append("SPF: null reverse-path and no HELO name to check instead")
    else:
        spf = check_spf(client_ip=client_ip, mail_from=mail_from, helo=helo or "", resolver=resolver, now=now)
    if not headers.from_domain:
        unchecked.append(f"DMARC: no single author domain ({headers.from_problem})")
    dkim = verify_dkim(raw, resolver=resolver)
    dmarc = evaluate_dmarc(from_domain=headers.from_domain, spf=spf, dkim=dkim, resolver=resolver, sample_key=raw)
    if dmarc.result is DmarcResult.UNKNOWN:
        unchecked.append(f"DMARC: {dmarc.reason}")
    arc = validate_arc(raw, resolver=resolver)
    upstream = parse_authentication_results(headers.authentication_results, trusted_authserv_ids=trusted_authserv_ids)
    spoof, evidence = judge_spoof(
        from_domain=headers.from_domain,
        spf=spf,
        dkim=dkim,
        dmarc=dmarc,
        arc=arc,
        upstream=upstream,
        trusted_arc_sealers=trusted_arc_sealers,
    )
    return SenderAuthentication(headers.from_domain, spf, dkim, dmarc, arc, upstream, spoof, evidence, tuple(unchecked))
