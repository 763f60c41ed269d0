"""Where the shared third-party corpus lives, and a skip when it is absent (shared by every runner)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

import pytest

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
RAW_SUFFIXES_SKIPPED: Final = frozenset({".json", ".yml", ".yaml", ".md", ".py", ".tnef", ".rb", ".txt~"})


def find_corpus_dir() -> Path:
    """$POSTROOM_CORPUS, else `<repo root>/../shared/corpus` (which may not exist)."""
    configured = os.environ.get("POSTROOM_CORPUS")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "corpus"


def get_corpus_dir(*parts: str) -> Path:
    """The corpus folder (or a subfolder); skips the calling test when it is not there."""
    base = find_corpus_dir()
    path = base.joinpath(*parts)
    if not path.is_dir():
        pytest.skip(f"shared corpus not found at {path}; corpus runners skipped")
    return path
