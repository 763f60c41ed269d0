"""Every raw message in the shared corpus parses without an exception and within a time limit."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Final

import pytest
from corpus_paths import RAW_SUFFIXES_SKIPPED, get_corpus_dir

from postroom.mail.parse import parse_message
from postroom.mail.values import ParsedMessage

pytestmark = pytest.mark.corpus

MAX_SECONDS_PER_MESSAGE: Final = 2.0  # the slowest corpus mail takes ~0.05 s; 40x headroom for slow CI
SKIPPED_NAMES: Final = frozenset({"SOURCE.md", "README.md", "LICENSE", "COPYING"})


def _raw_message_files(base: Path) -> list[Path]:
    return [
        path
        for path in sorted(base.rglob("*"))
        if path.is_file() and path.suffix.lower() not in RAW_SUFFIXES_SKIPPED and path.name not in SKIPPED_NAMES
    ]


def test_every_corpus_file_parses() -> None:
    """
    GIVEN every file of the shared corpus that may hold a raw mail (not .json/.yml/.md/.py/.tnef)
    WHEN each is parsed
    THEN none raises and each gives a ParsedMessage (slow ones are reported)
    """
    base = get_corpus_dir()
    files = _raw_message_files(base)
    crashes: list[str] = []
    slow: list[str] = []
    started = time.perf_counter()
    for path in files:
        raw = path.read_bytes()
        began = time.perf_counter()
        try:
            parsed = parse_message(raw)
        except Exception as error:  # the point of the test: report every crash, not just the first
            crashes.append(f"{path.relative_to(base)}: {type(error).__name__}: {error}")
            continue
        elapsed = time.perf_counter() - began
        if elapsed > MAX_SECONDS_PER_MESSAGE:  # reported, never failed on: timing belongs to bench/parse.py
            slow.append(f"{path.relative_to(base)}: {elapsed:.2f}s")
        assert isinstance(parsed, ParsedMessage)
    total = time.perf_counter() - started
    print(f"\nno-crash: {len(files)} files, {len(crashes)} crashes, {len(slow)} slow, {total:.1f}s")
    assert not crashes, "\n".join(crashes)
    if slow:
        print("slowest:\n" + "\n".join(slow))
