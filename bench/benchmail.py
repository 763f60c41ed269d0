"""The benchmark mailbox both benchmarks use: the corpus mix with unique Message-IDs, or a synthetic mix."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def build_messages(count: int, out: Path) -> str:
    """Write `count` .eml files into `out`; return where they came from."""
    corpus = Path(os.environ.get("POSTROOM_CORPUS", SHARED / "corpus"))
    builder = SHARED / "bench" / "build_mailbox.py"
    if corpus.is_dir() and builder.is_file():
        subprocess.run(
            [sys.executable, str(builder), str(corpus), str(out), str(count)], check=True, stdout=subprocess.DEVNULL
        )
        (out / "manifest.tsv").unlink(missing_ok=True)
        return "corpus mix (shared/bench/build_mailbox.py)"
    sys.path.insert(0, str(ROOT / "tests"))
    from mailfactory import build_mix

    out.mkdir(parents=True, exist_ok=True)
    for i, raw in enumerate(build_mix(count, run="bench")):
        (out / f"{i:05d}.eml").write_bytes(raw)
    return "synthetic mix (tests/mailfactory.py)"


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (1-99) of `values`, NaN when there are none."""
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]
