"""Parser benchmark (not a test): `parse_message` over a folder of .eml files, against the bare stdlib parse.

usage: python bench/parse.py [FOLDER] [--count 2000] [--rounds 3]

FOLDER holds the .eml files to parse; without it the reference mailbox is built into a temp dir
(../shared/bench/build_mailbox.py over ../shared/corpus, 2,000 messages; the synthetic mix from
tests/mailfactory.py when the corpus is absent). Every file is read into memory first, then each round times
`parse_message(raw)` and `email.message_from_bytes(raw, policy=policy.default)` once per message, on one
core. Prints messages per second (median round) and the p50/p99 milliseconds per message (all rounds).
"""

from __future__ import annotations

import argparse
import email
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from email import policy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "src"))

from benchmail import build_messages, pct  # noqa: E402 - bench/benchmail.py, beside this file

from postroom.mail.parse import parse_message  # noqa: E402 - after the src path is set


def stdlib_parse(raw: bytes) -> object:
    return email.message_from_bytes(raw, policy=policy.default)


def time_round(parse: Callable[[bytes], object], messages: list[bytes]) -> list[float]:
    """Milliseconds per message, in order."""
    times: list[float] = []
    clock = time.perf_counter
    for raw in messages:
        start = clock()
        parse(raw)
        times.append((clock() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, help="a folder of .eml files (default: build the mailbox)")
    parser.add_argument("--count", type=int, default=2000, help="messages to build when no folder is given")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work: Path | None = None
    try:
        if args.folder is not None:
            folder, origin = args.folder, str(args.folder)
        else:
            work = Path(tempfile.mkdtemp(prefix="postroom-bench-parse-"))
            folder = work / "mail"
            origin = build_messages(args.count, folder)
        messages = [path.read_bytes() for path in sorted(folder.glob("*.eml"))]
        if not messages:
            sys.exit(f"no .eml files in {folder}")
        size = sum(len(raw) for raw in messages)
        print(f"{len(messages)} messages, {size / 1e6:.1f} MB, {origin}; one core of {os.cpu_count()}")
        runs: dict[str, tuple[Callable[[bytes], object], list[float], list[float]]] = {
            "parse_message": (parse_message, [], []),
            "stdlib policy.default": (stdlib_parse, [], []),
        }
        warm = messages[:50]  # first use of lazily imported codecs and detectors is not what we measure
        for parse, _, _ in runs.values():
            time_round(parse, warm)
        for _ in range(args.rounds):
            for parse, rates, latencies in runs.values():
                times = time_round(parse, messages)
                rates.append(len(messages) / (sum(times) / 1000))
                latencies.extend(times)
        print(f"{'what':<22} {'msg/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'rounds (msg/s)':>24}")
        for name, (_, rates, latencies) in runs.items():
            each = " ".join(f"{rate:.0f}" for rate in rates)
            print(
                f"{name:<22} {statistics.median(rates):>8.0f} {pct(latencies, 50):>8.2f} {pct(latencies, 99):>8.2f} "
                f"{each:>24}"
            )
        ours, base = (statistics.median(rates) for _, rates, _ in runs.values())
        print(f"parse_message runs at {ours / base:.0%} of the bare stdlib parse")
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
