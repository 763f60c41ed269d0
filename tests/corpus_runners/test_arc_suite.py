"""ValiMail's ARC validation suite (RFC 8617) run offline, the selectors' keys served by an InMemoryZone."""

from __future__ import annotations

from typing import Final

import pytest
import yaml
from auth_skips import ARC_SKIPS
from corpus_paths import get_corpus_dir

from postroom.mail.auth.arc import ArcResult, validate_arc
from postroom.mail.auth.resolver import InMemoryZone, ZoneRecord

pytestmark = pytest.mark.corpus

# Three tests (a seal that itself says cv=fail) expect "": the chain already failed upstream, and RFC 8617 §5.2
# step 2 makes that chain "fail" for us too.
EXPECTED: Final = {"None": ArcResult.NONE, "Pass": ArcResult.PASS, "Fail": ArcResult.FAIL, "": ArcResult.FAIL}


def run_validation_suite() -> tuple[int, int, list[str]]:
    """(passed, run, failures) over arc-draft-validation-tests.yml, skipping ARC_SKIPS."""
    path = get_corpus_dir("arc-test-suite") / "arc-draft-validation-tests.yml"
    passed = run = 0
    failures: list[str] = []
    for section in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        if not section:
            continue
        zone = InMemoryZone(
            ZoneRecord(name, "TXT", "".join(str(value).split()).encode())
            for name, value in (section.get("txt-records") or {}).items()
        )
        for name, test in section["tests"].items():
            if name in ARC_SKIPS:
                continue
            run += 1
            verdict = validate_arc(str(test["message"] or "").encode("utf-8"), resolver=zone)
            if verdict.result is EXPECTED[str(test["cv"])]:
                passed += 1
            else:
                failures.append(f"{name}: {verdict.result} ({verdict.reason}) != {test['cv']} - {test['description']}")
    return passed, run, failures


def test_arc_validation_suite() -> None:
    """
    GIVEN the ARC validation tests with their selectors' TXT records in an in-memory resolver
    WHEN each message's chain is validated
    THEN the chain status (none/pass/fail) is the expected one for every case not on the skip list
    """
    passed, run, failures = run_validation_suite()
    print(f"\narc validation: {passed}/{run} passed ({len(ARC_SKIPS)} skipped)")
    assert run > 150
    assert not failures, "\n".join(failures)
