"""dkimpy's DKIM vectors (RSA and Ed25519) verified offline, the keys served by an InMemoryZone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import dkim as dkimpy
import pytest
from auth_skips import DKIM_SKIPS
from corpus_paths import get_corpus_dir

from postroom.mail.auth.dkim import DkimResult, verify_dkim
from postroom.mail.auth.resolver import InMemoryZone, ZoneRecord

pytestmark = pytest.mark.corpus

CANONICALISATIONS: Final = [(h, b) for h in (b"simple", b"relaxed") for b in (b"simple", b"relaxed")]


def _zone(base: Path, dns: dict[str, str]) -> InMemoryZone:
    """The case's key records; values starting with `data/` name a file holding the TXT record."""
    records = []
    for name, value in dns.items():
        text = (base / value).read_bytes().strip() if value.startswith("data/") else value.encode()
        records.append(ZoneRecord(name, "TXT", text))
    return InMemoryZone(records)


def _case_name(case: dict[str, Any]) -> str:
    """`message:selector:first key record` names a case (the same message is used with several keys)."""
    records = list(case.get("dns", {}).values())
    return f"{case['message']}:{case.get('selector', '')}:{records[0][:20] if records else ''}"


def run_vectors() -> tuple[int, int, list[str]]:
    """(passed, run, failures): static signatures, then sign/verify round trips in the four c= combinations."""
    base = get_corpus_dir("dkimpy-vectors")
    cases = json.loads((base / "expected.json").read_text(encoding="utf-8"))
    passed = run = 0
    failures: list[str] = []
    for case in cases["static_verify"]:
        if _case_name(case) in DKIM_SKIPS:
            continue
        run += 1
        verdicts = verify_dkim((base / case["message"]).read_bytes(), resolver=_zone(base, case["dns"]))
        got = [v.result.value for v in verdicts]
        wanted = case.get("expected_each_signature", [case["expected"]])
        if got[: len(wanted)] == wanted:
            passed += 1
        else:
            failures.append(f"{case['message']}: {got} != {wanted} ({[v.reason for v in verdicts]})")
    for case in cases["sign_verify_roundtrip"]:
        if _case_name(case) in DKIM_SKIPS:
            continue
        run += 1
        message = (base / case["message"]).read_bytes()
        key = (base / case["private_key"]).read_bytes()
        outcomes = []
        for canonicalize in CANONICALISATIONS:
            try:
                signature = dkimpy.sign(
                    message,
                    case["selector"].encode(),
                    case["domain"].encode(),
                    key,
                    canonicalize=canonicalize,
                    signature_algorithm=case["algorithm"].encode(),
                )
            except dkimpy.DKIMException:
                outcomes.append("sign_error")
                continue
            signed = signature + message + (b"foo" if case.get("mutate") else b"")
            (verdict,) = verify_dkim(signed, resolver=_zone(base, case.get("dns", {})))
            outcomes.append("pass" if verdict.result is DkimResult.PASS else "fail")
        if set(outcomes) == {case["expected"]}:
            passed += 1
        else:
            failures.append(f"{_case_name(case)} ({case.get('what', '')}): {outcomes} != {case['expected']}")
    return passed, run, failures


def test_dkim_vectors() -> None:
    """
    GIVEN dkimpy's static signed messages and sign/verify round trips, keys in an in-memory resolver
    WHEN every signature is verified through verify_dkim
    THEN each verdict (pass, fail, or a signing error) is the expected one
    """
    passed, run, failures = run_vectors()
    print(f"\ndkim vectors: {passed}/{run} passed ({len(DKIM_SKIPS)} skipped)")
    assert run >= 11
    assert not failures, "\n".join(failures)
