"""Sender authentication: DMARC alignment and policy, Authentication-Results trust, the spoof flag, the resolver."""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from typing import Final

import dkim as dkimpy
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from postroom.mail.auth import (
    ArcResult,
    ArcVerdict,
    DkimResult,
    DkimSignatureVerdict,
    DmarcPolicy,
    DmarcResult,
    DnsPythonResolver,
    DnsTemporaryError,
    InMemoryZone,
    SpfResult,
    SpfVerdict,
    ZoneRecord,
    evaluate_dmarc,
    evaluate_sender,
    judge_spoof,
    parse_authentication_results,
    summarise_offline_auth,
)
from postroom.mail.auth.dmarc import parse_dmarc_record
from postroom.mail.auth.orgdomain import find_organizational_domain, is_aligned

NOW: Final = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CLIENT: Final = "192.0.2.10"
MESSAGE: Final = (
    b"From: Alice <alice@example.com>\r\nTo: help@desk.example.org\r\nSubject: printer\r\n"
    b"Message-ID: <1@example.com>\r\nDate: Sat, 01 Mar 2025 12:00:00 +0000\r\n\r\nThe printer is on fire.\r\n"
)


@cache
def _key() -> tuple[bytes, bytes]:
    """(PKCS#1 private key PEM, base64 public key for p=) of a fresh 2048-bit RSA test key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, base64.b64encode(public)


def _signed(domain: str, message: bytes = MESSAGE) -> bytes:
    return dkimpy.sign(message, b"sel", domain.encode(), _key()[0]) + message


def _zone(*records: tuple[str, str], timeouts: tuple[str, ...] = ()) -> InMemoryZone:
    """TXT records by name, plus the DKIM key of every signing domain used in these tests."""
    txt = [ZoneRecord(name, "TXT", value.encode()) for name, value in records]
    keys = [
        ZoneRecord(f"sel._domainkey.{d}", "TXT", b"v=DKIM1; k=rsa; p=" + _key()[1])
        for d in ("example.com", "mail.example.com", "list.example.net")
    ]
    return InMemoryZone([*txt, *keys], timeouts=timeouts)


def _spf(result: SpfResult, domain: str) -> SpfVerdict:
    return SpfVerdict(result, domain, "mailfrom", "")


def _sig(result: DkimResult, domain: str) -> DkimSignatureVerdict:
    return DkimSignatureVerdict(result, domain, "sel", "rsa-sha256", "")


REJECT: Final = ("_dmarc.example.com", "v=DMARC1; p=reject")


# --- organizational domain and alignment (RFC 7489 §3) ---


def test_organizational_domain_uses_the_public_suffix_list() -> None:
    """
    GIVEN names under a two-label public suffix and a private-section suffix
    WHEN their organizational domains are found
    THEN they stop one label below the public suffix
    """
    assert find_organizational_domain("mail.example.co.uk") == "example.co.uk"
    assert find_organizational_domain("a.b.Example.COM.") == "example.com"
    assert find_organizational_domain("alice.github.io") == "alice.github.io"
    assert not is_aligned("alice.github.io", "bob.github.io", strict=False)


def test_relaxed_alignment_accepts_a_subdomain_and_strict_does_not() -> None:
    """
    GIVEN an SPF pass for bounce.example.com and a From domain example.com
    WHEN DMARC is evaluated under aspf=r and under aspf=s
    THEN relaxed passes through SPF, strict fails and asks for the p= policy
    """
    spf = _spf(SpfResult.PASS, "bounce.example.com")
    relaxed = evaluate_dmarc(from_domain="example.com", spf=spf, dkim=(), resolver=_zone(REJECT))
    assert relaxed.result is DmarcResult.PASS
    assert relaxed.spf_aligned
    assert relaxed.disposition is DmarcPolicy.NONE

    strict_zone = _zone(("_dmarc.example.com", "v=DMARC1; p=reject; aspf=s"))
    strict = evaluate_dmarc(from_domain="example.com", spf=spf, dkim=(), resolver=strict_zone)
    assert strict.result is DmarcResult.FAIL
    assert not strict.spf_aligned
    assert strict.disposition is DmarcPolicy.REJECT
    assert "not aligned" in strict.reason


def test_dkim_alignment_pass_needs_a_passing_signature_of_an_aligned_domain() -> None:
    """
    GIVEN a passing signature by an unrelated domain, a failing one by the author domain, and a passing one
    WHEN DMARC is evaluated with adkim=s
    THEN only the passing signature with exactly the author domain counts
    """
    zone = _zone(("_dmarc.example.com", "v=DMARC1; p=quarantine; adkim=s"))
    fail_only = (_sig(DkimResult.PASS, "list.example.net"), _sig(DkimResult.FAIL, "example.com"))
    verdict = evaluate_dmarc(from_domain="example.com", spf=_spf(SpfResult.NONE, ""), dkim=fail_only, resolver=zone)
    assert verdict.result is DmarcResult.FAIL
    assert verdict.disposition is DmarcPolicy.QUARANTINE

    sub = (_sig(DkimResult.PASS, "mail.example.com"),)
    verdict = evaluate_dmarc(from_domain="example.com", spf=_spf(SpfResult.NONE, ""), dkim=sub, resolver=zone)
    assert verdict.result is DmarcResult.FAIL  # strict: mail.example.com is not example.com

    good = (_sig(DkimResult.PASS, "example.com"),)
    verdict = evaluate_dmarc(from_domain="example.com", spf=_spf(SpfResult.FAIL, "x.test"), dkim=good, resolver=zone)
    assert verdict.result is DmarcResult.PASS
    assert verdict.dkim_aligned_domains == ("example.com",)


# --- policy discovery (RFC 7489 §6.6.3) and disposition ---


def test_subdomain_falls_back_to_the_organizational_record_and_its_sp() -> None:
    """
    GIVEN a record only at example.com with p=reject and sp=quarantine
    WHEN mail from news.example.com fails DMARC
    THEN the organizational record is used and sp= decides the disposition
    """
    zone = _zone(("_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine"))
    verdict = evaluate_dmarc(
        from_domain="news.example.com", spf=_spf(SpfResult.FAIL, "news.example.com"), dkim=(), resolver=zone
    )
    assert verdict.record_domain == "example.com"
    assert verdict.policy is DmarcPolicy.QUARANTINE
    assert verdict.disposition is DmarcPolicy.QUARANTINE


def test_pct_zero_applies_the_next_weaker_policy() -> None:
    """
    GIVEN p=reject with pct=0 (RFC 7489 §6.6.4)
    WHEN a message fails DMARC
    THEN the disposition is quarantine, not reject, while the policy stays reject
    """
    zone = _zone(("_dmarc.example.com", "v=DMARC1; p=reject; pct=0"))
    verdict = evaluate_dmarc(from_domain="example.com", spf=_spf(SpfResult.FAIL, "example.com"), dkim=(), resolver=zone)
    assert verdict.policy is DmarcPolicy.REJECT
    assert verdict.disposition is DmarcPolicy.QUARANTINE


@pytest.mark.parametrize(
    ("records", "reason_part"),
    [
        ((), "no DMARC record"),
        ((("_dmarc.example.com", "v=DMARC1; p=reject"), ("_dmarc.example.com", "v=DMARC1; p=none")), "2 DMARC"),
        ((("_dmarc.example.com", "v=spf1 -all"),), "no DMARC record"),
    ],
)
def test_missing_or_ambiguous_records_mean_no_dmarc(records: tuple[tuple[str, str], ...], reason_part: str) -> None:
    """
    GIVEN no record, two records, or a TXT record that is not DMARC
    WHEN DMARC is evaluated for a failing message
    THEN the result is none with the reason, and nothing is asked of the receiver
    """
    verdict = evaluate_dmarc(
        from_domain="example.com", spf=_spf(SpfResult.FAIL, "example.com"), dkim=(), resolver=_zone(*records)
    )
    assert verdict.result is DmarcResult.NONE
    assert reason_part in verdict.reason
    assert verdict.disposition is DmarcPolicy.NONE


def test_record_parsing_keeps_policy_tags_and_rejects_bad_ones() -> None:
    """
    GIVEN records with a bad p= (with and without rua=) and a complete one
    WHEN they are parsed
    THEN a bad p= with a rua= acts as p=none (RFC 7489 §6.6.3 step 6), without one it is no record
    """
    assert parse_dmarc_record("v=DMARC1; p=bogus") is None
    fallback = parse_dmarc_record("v=DMARC1; p=bogus; rua=mailto:d@example.com")
    assert fallback is not None
    assert fallback.policy is DmarcPolicy.NONE
    record = parse_dmarc_record("v=DMARC1; p=Quarantine; sp=reject; pct=150; adkim=s")
    assert record is not None
    assert (record.policy, record.subdomain_policy, record.percent) == (
        DmarcPolicy.QUARANTINE,
        DmarcPolicy.REJECT,
        100,
    )
    assert record.strict_dkim
    assert not record.strict_spf


def test_dns_timeout_is_temperror_and_missing_spf_is_unknown() -> None:
    """
    GIVEN a DMARC lookup that times out, and separately a message whose SPF could not be checked
    WHEN DMARC is evaluated
    THEN the first is temperror and the second unknown (not fail), each saying why
    """
    timeout = evaluate_dmarc(
        from_domain="example.com",
        spf=_spf(SpfResult.FAIL, "example.com"),
        dkim=(),
        resolver=_zone(timeouts=("_dmarc.example.com",)),
    )
    assert timeout.result is DmarcResult.TEMPERROR
    unknown = evaluate_dmarc(from_domain="example.com", spf=None, dkim=(), resolver=_zone(REJECT))
    assert unknown.result is DmarcResult.UNKNOWN
    assert unknown.disposition is DmarcPolicy.NONE
    assert "SPF was not checked" in unknown.reason


# --- Authentication-Results trust (RFC 8601 §5) ---

AR_TRUSTED: Final = "MX.Desk.example.org; spf=pass smtp.mailfrom=example.com; dkim=pass header.d=example.com"
AR_FORGED: Final = "evil.example; dmarc=pass header.from=example.com"


def test_only_trusted_authserv_ids_contribute_results() -> None:
    """
    GIVEN a header from our MX (its id in another case), a forged one and an unparsable one
    WHEN they are parsed with our MX trusted
    THEN only our MX's results come out; the others are counted, not used
    """
    upstream = parse_authentication_results(
        [AR_TRUSTED, AR_FORGED, ";;; ="], trusted_authserv_ids={"mx.desk.example.org"}
    )
    assert [(r.method, r.result) for r in upstream.results] == [("spf", "pass"), ("dkim", "pass")]
    assert upstream.find_result("dmarc") is None
    dkim = upstream.find_result("dkim")
    assert dkim is not None
    assert dkim.find_property("header.d") == "example.com"
    assert upstream.trusted_ids_seen == ("mx.desk.example.org",)
    assert (upstream.ignored_untrusted, upstream.unparsable) == (1, 1)


def test_nothing_is_trusted_without_configured_ids() -> None:
    """
    GIVEN a well-formed header
    WHEN no authserv-id is trusted
    THEN no result is used
    """
    upstream = parse_authentication_results([AR_TRUSTED], trusted_authserv_ids=())
    assert upstream.results == ()
    assert upstream.ignored_untrusted == 1


def test_offline_summary_is_null_without_a_trusted_header() -> None:
    """
    GIVEN a message with one trusted and one forged Authentication-Results
    WHEN the offline summary for inspect is built with and without trusting our MX
    THEN it reports the trusted results only, and is None when nothing is trusted
    """
    raw = f"Authentication-Results: {AR_FORGED}\r\nAuthentication-Results: {AR_TRUSTED}\r\n".encode() + MESSAGE
    assert summarise_offline_auth(raw, trusted_authserv_ids=()) is None
    summary = summarise_offline_auth(raw, trusted_authserv_ids=["mx.desk.example.org"])
    assert summary is not None
    assert summary.as_record() == {
        "source": "authentication-results",
        "authserv_ids": ["mx.desk.example.org"],
        "spf": "pass",
        "dkim": ["pass"],
        "dmarc": None,
        "arc": None,
        "dkim_signatures": 0,
        "arc_sets": 0,
        "from_domain": "example.com",
    }


# --- the spoof flag and its evidence ---


def test_forged_from_of_a_reject_domain_is_flagged_with_evidence() -> None:
    """
    GIVEN mail claiming From example.com (p=reject, SPF allows only 198.51.100.1) sent from another IP, unsigned
    WHEN the sender is evaluated
    THEN SPF fails, DMARC fails with disposition reject, and the spoof flag carries the DMARC line first
    """
    zone = _zone(REJECT, ("example.com", "v=spf1 ip4:198.51.100.1 -all"))
    result = evaluate_sender(
        MESSAGE,
        client_ip=CLIENT,
        helo="mx.attacker.test",
        mail_from="alice@example.com",
        resolver=zone,
        trusted_authserv_ids=(),
        now=NOW,
    )
    assert result.spf is not None
    assert result.spf.result is SpfResult.FAIL
    assert result.dmarc.result is DmarcResult.FAIL
    assert result.dmarc.disposition is DmarcPolicy.REJECT
    assert result.possible_spoof
    assert result.evidence[0].startswith("DMARC fail for example.com")
    assert any(line.startswith("SPF fail") for line in result.evidence)


def test_signed_mail_passes_dmarc_through_dkim_and_is_not_flagged() -> None:
    """
    GIVEN the same message DKIM-signed by mail.example.com, relayed by an IP SPF does not list
    WHEN the sender is evaluated
    THEN DKIM passes, DMARC passes by relaxed DKIM alignment, and no spoof is flagged
    """
    zone = _zone(REJECT, ("example.com", "v=spf1 ip4:198.51.100.1 -all"))
    result = evaluate_sender(
        _signed("mail.example.com"),
        client_ip=CLIENT,
        helo="relay.test",
        mail_from="alice@example.com",
        resolver=zone,
        trusted_authserv_ids=(),
        now=NOW,
    )
    assert [(s.result, s.domain) for s in result.dkim] == [(DkimResult.PASS, "mail.example.com")]
    assert result.dmarc.result is DmarcResult.PASS
    assert not result.possible_spoof
    assert result.evidence[0] == "DMARC pass for example.com: aligned pass: DKIM d=mail.example.com"


def test_file_import_says_what_was_not_checked() -> None:
    """
    GIVEN an unsigned message imported from a file (no client IP, no envelope)
    WHEN the sender is evaluated
    THEN SPF is not run, DMARC is unknown rather than fail, nothing is flagged, and both gaps are listed
    """
    result = evaluate_sender(
        MESSAGE, client_ip=None, helo=None, mail_from=None, resolver=_zone(REJECT), trusted_authserv_ids=(), now=NOW
    )
    assert result.spf is None
    assert result.dmarc.result is DmarcResult.UNKNOWN
    assert not result.possible_spoof
    assert result.unchecked[0].startswith("SPF: no client IP")
    assert any(line.startswith("DMARC:") for line in result.unchecked)


def test_trusted_upstream_dmarc_fail_flags_when_we_could_not_decide() -> None:
    """
    GIVEN a file import whose trusted MX recorded dmarc=fail, and the same header from an untrusted id
    WHEN the sender is evaluated
    THEN only the trusted header raises the flag, naming the authserv-id
    """
    header = b"Authentication-Results: mx.desk.example.org; dmarc=fail header.from=example.com\r\n"
    for trusted, flagged in ((("mx.desk.example.org",), True), ((), False)):
        result = evaluate_sender(
            header + MESSAGE,
            client_ip=None,
            helo=None,
            mail_from=None,
            resolver=_zone(REJECT),
            trusted_authserv_ids=trusted,
            now=NOW,
        )
        assert result.possible_spoof is flagged
        assert any("mx.desk.example.org reports dmarc=fail" in line for line in result.evidence) is flagged


def test_a_trusted_arc_sealer_vouches_for_forwarded_mail() -> None:
    """
    GIVEN a DMARC failure on mail whose passing ARC chain was last sealed by list.example.net
    WHEN the spoof rule runs with and without that sealer trusted
    THEN it is flagged only when the sealer is not trusted, and the evidence says which sealer vouched
    """
    dmarc = evaluate_dmarc(
        from_domain="example.com", spf=_spf(SpfResult.FAIL, "list.example.net"), dkim=(), resolver=_zone(REJECT)
    )
    arc = ArcVerdict(ArcResult.PASS, "success", 1, ("list.example.net",))
    upstream = parse_authentication_results([], trusted_authserv_ids=())
    common = {"from_domain": "example.com", "spf": None, "dkim": (), "dmarc": dmarc, "arc": arc, "upstream": upstream}
    flagged, _ = judge_spoof(**common)  # type: ignore[arg-type]
    vouched, evidence = judge_spoof(**common, trusted_arc_sealers={"list.example.net"})  # type: ignore[arg-type]
    assert flagged
    assert not vouched
    assert "trusted forwarder list.example.net" in evidence[0]


def test_spf_fail_without_dmarc_record_is_flagged_only_when_aligned() -> None:
    """
    GIVEN no DMARC record, SPF fail for the From domain or for an unrelated bounce domain
    WHEN the spoof rule runs
    THEN only the aligned SPF failure is flagged
    """
    dmarc = evaluate_dmarc(from_domain="example.com", spf=None, dkim=(), resolver=_zone())
    arc = ArcVerdict(ArcResult.NONE, "Message is not ARC signed")
    upstream = parse_authentication_results([], trusted_authserv_ids=())
    aligned, evidence = judge_spoof(
        from_domain="example.com",
        spf=_spf(SpfResult.FAIL, "example.com"),
        dkim=(),
        dmarc=dmarc,
        arc=arc,
        upstream=upstream,
    )
    unrelated, _ = judge_spoof(
        from_domain="example.com",
        spf=_spf(SpfResult.FAIL, "bounces.esp.test"),
        dkim=(),
        dmarc=dmarc,
        arc=arc,
        upstream=upstream,
    )
    assert aligned
    assert evidence[0] == "SPF fail for the From domain example.com and no aligned DKIM signature"
    assert not unrelated


# --- the resolver ---


def test_in_memory_zone_follows_cnames_and_reports_timeouts() -> None:
    """
    GIVEN a CNAME to a TXT record, a CNAME loop and a name that times out except for its listed TXT
    WHEN they are resolved
    THEN the CNAME is followed, the loop and the timeout raise DnsTemporaryError, the listed TXT answers
    """
    zone = InMemoryZone(
        [
            ZoneRecord("alias.test", "CNAME", "target.test."),
            ZoneRecord("Target.test", "TXT", b"hello"),
            ZoneRecord("loop.test", "CNAME", "loop.test"),
            ZoneRecord("slow.test", "TXT", b"v=spf1 -all"),
        ],
        timeouts=["slow.test"],
    )
    assert zone.resolve_txt("ALIAS.test.") == (b"hello",)
    assert zone.resolve_txt("absent.test") == ()
    assert zone.resolve_txt("slow.test") == (b"v=spf1 -all",)
    with pytest.raises(DnsTemporaryError):
        zone.resolve_txt("loop.test")
    with pytest.raises(DnsTemporaryError):
        zone.resolve_addresses("slow.test", "A")


@pytest.fixture
def silent_nameserver() -> Iterator[int]:
    """A UDP port on localhost that receives queries and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_dnspython_resolver_times_out_within_its_lifetime(silent_nameserver: int) -> None:
    """
    GIVEN a nameserver that never answers and a 0.3 s lifetime
    WHEN a TXT record is looked up
    THEN DnsTemporaryError is raised, well before a default resolver's 30 s
    """
    resolver = DnsPythonResolver(lifetime=0.3, nameservers=["127.0.0.1"], port=silent_nameserver)
    started = time.monotonic()
    with pytest.raises(DnsTemporaryError):
        resolver.resolve_txt("example.com")
    assert time.monotonic() - started < 5


def test_unparsable_header_blocks_give_verdicts_not_exceptions() -> None:
    """
    GIVEN a DKIM-signed message whose header block has a stray HTML line, and one with an ARC-Seal but no set
    WHEN DKIM and ARC are checked through evaluate_sender
    THEN the signature is a permerror and the chain a fail, each with a reason, and nothing raises
    """
    broken = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel\r\n<html>\r\n" + MESSAGE
    result = evaluate_sender(
        broken, client_ip=None, helo=None, mail_from=None, resolver=_zone(), trusted_authserv_ids=(), now=NOW
    )
    assert [s.result for s in result.dkim] == [DkimResult.PERMERROR]
    assert "unreadable" in result.dkim[0].reason
    seal_only = b"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=example.org; s=sel; b=AAAA\r\n" + MESSAGE
    arc = evaluate_sender(
        seal_only, client_ip=None, helo=None, mail_from=None, resolver=_zone(), trusted_authserv_ids=(), now=NOW
    ).arc
    assert arc.result is ArcResult.FAIL
    assert arc.reason
