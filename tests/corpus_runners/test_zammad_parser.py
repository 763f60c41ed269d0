"""Zammad's parser expectations (`mail/*.yml`): per-field match rates against our parser."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Final

import pytest
from corpus_paths import get_corpus_dir
from zammad_compare import FIELDS, HEADER_FIELDS, compare, load_expectation
from zammad_skips import SKIPS

from postroom.mail.parse import parse_message

pytestmark = pytest.mark.corpus

BODY_TARGET: Final = 0.95


def test_zammad_expectations_are_met() -> None:
    """
    GIVEN Zammad's 85 parser expectations (mail/*.yml next to mail/*.box)
    WHEN every box is parsed and compared field by field (skips excepted)
    THEN headers and attachments match 100% and bodies at least 95%
    """
    mail_dir = get_corpus_dir("zammad-parser", "mail")
    matched: Counter[str] = Counter()
    compared: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    failures: list[str] = []
    for yml in sorted(mail_dir.glob("*.yml")):
        parsed = parse_message(yml.with_suffix(".box").read_bytes())
        for field, (ok, detail) in compare(load_expectation(yml), parsed).items():
            if (yml.stem, field) in SKIPS:
                skipped[field] += 1
                continue
            compared[field] += 1
            matched[field] += ok
            if not ok:
                failures.append(f"{yml.stem} {field}: {detail[:200]}")
    print("\nfield               matched / compared  rate    skipped")
    for field in FIELDS:
        rate = matched[field] / compared[field] if compared[field] else 1.0
        print(f"{field:<19} {matched[field]:>7} / {compared[field]:<8}  {rate:6.1%}  {skipped[field]:>5}")
    for field in (*HEADER_FIELDS, "attachments"):
        assert matched[field] == compared[field], "\n".join(failures)
    assert matched["body"] >= BODY_TARGET * compared["body"], "\n".join(failures)


def test_skip_list_names_existing_cases() -> None:
    """
    GIVEN the skip list
    WHEN it is checked against the corpus
    THEN every entry names an existing yml and a compared field, with a reason
    """
    mail_dir: Path = get_corpus_dir("zammad-parser", "mail")
    for (case, field), reason in SKIPS.items():
        assert (mail_dir / f"{case}.yml").is_file()
        assert field in FIELDS
        assert reason.strip()
