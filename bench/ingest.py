"""Ingest benchmark (not a test): N messages through `postroom import` and through the SMTP listener.

usage: python bench/ingest.py [--count 10000] [--backends sqlite,postgresql] [--paths import,import-workers,smtp]

Builds the corpus mix with unique Message-IDs (../shared/bench/build_mailbox.py over ../shared/corpus; the
synthetic mix from tests/mailfactory.py when the corpus is absent), then for each backend and path starts from
an empty installation and prints messages per second end to end and the p50/p99 per-message latency
(ledger receive -> processed, from the database; for SMTP also the client's DATA round trip), and the CPU time
our processes (importer, listener, workers; not PostgreSQL) spent per message: on a shared machine that figure
is steadier than messages per second.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import shutil
import smtplib
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmail import build_messages, pct  # noqa: E402 - bench/benchmail.py, beside this file

POSTROOM = [sys.executable, "-m", "postroom.cli"]
PG_URL = os.environ.get("POSTROOM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


class Install:
    def __init__(self, backend: str, workdir: Path, settings: dict[str, str] | None = None) -> None:
        self.backend = backend
        self.home = workdir / f"home-{backend}-{secrets.token_hex(3)}"
        self.home.mkdir(parents=True)
        self.dbname = ""
        if backend == "sqlite":
            self.url = f"sqlite:///{self.home / 'db.sqlite3'}"
        else:
            import psycopg

            self.dbname = f"postroom_bench_{secrets.token_hex(4)}"
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.dbname}"')
            self.url = urlunsplit(urlsplit(PG_URL)._replace(path=f"/{self.dbname}"))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("POSTROOM_")}
        self.env.update(POSTROOM_HOME=str(self.home), POSTROOM_DATABASE_URL=self.url, POSTROOM_LOG_LEVEL="WARNING")
        self.env.update(settings or {})
        subprocess.run([*POSTROOM, "init"], env=self.env, check=True, stdout=subprocess.DEVNULL)

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        if self.backend == "sqlite":
            with sqlite3.connect(str(self.home / "db.sqlite3"), timeout=60) as conn:
                return list(conn.execute(sql).fetchall())
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            return list(conn.execute(sql).fetchall())

    def count(self, sql: str) -> int:
        return int(self.rows(sql)[0][0])  # type: ignore[call-overload]

    def latencies_ms(self) -> list[float]:
        if self.backend == "sqlite":
            sql = (
                "select (julianday(processed_at) - julianday(received_at)) * 86400000.0 "
                "from inbound_inboundmessage where processed_at is not null"
            )
        else:
            sql = (
                "select extract(epoch from processed_at - received_at) * 1000.0 "
                "from inbound_inboundmessage where processed_at is not null"
            )
        return [float(r[0]) for r in self.rows(sql)]  # type: ignore[arg-type]

    def close(self) -> None:
        if self.dbname:
            import psycopg

            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
        shutil.rmtree(self.home, ignore_errors=True)


def wait_done(inst: Install, total: int) -> None:
    while inst.count("select count(*) from inbound_inboundmessage where status <> 'received'") < total:
        time.sleep(0.2)


def run_import(inst: Install, folder: Path, total: int) -> float:
    start = time.perf_counter()
    subprocess.run([*POSTROOM, "import", str(folder)], env=inst.env, stdout=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def run_import_workers(inst: Install, folder: Path, total: int, workers: int = 2) -> float:
    procs = [subprocess.Popen([*POSTROOM, "work"], env=inst.env) for _ in range(workers)]
    start = time.perf_counter()
    try:
        subprocess.run(
            [*POSTROOM, "import", "--queue-only", str(folder)], env=inst.env, stdout=subprocess.DEVNULL, check=True
        )
        wait_done(inst, total)
        return time.perf_counter() - start
    finally:
        for p in procs:
            p.terminate()
            p.wait()


def start_smtp(inst: Install, port: int, workers: int) -> list[subprocess.Popen[str]]:
    """SQLite: the embedded `postroom up` (one process). PostgreSQL: `postroom listen` plus worker processes."""
    env = {**inst.env, "POSTROOM_SMTP_PORT": str(port), "POSTROOM_WEB_PORT": str(port + 1)}
    first = [*POSTROOM, "up"] if inst.backend == "sqlite" else [*POSTROOM, "listen"]
    procs = [subprocess.Popen(first, env=env, stdout=subprocess.PIPE, text=True)]
    if inst.backend != "sqlite":
        procs += [subprocess.Popen([*POSTROOM, "work"], env=env, text=True) for _ in range(workers)]
    stdout = procs[0].stdout
    if stdout is None:
        raise RuntimeError("no stdout")
    for line in stdout:
        if line.startswith(("Mail:", "SMTP listener", "LMTP listener")):
            break
    return procs


def run_smtp(inst: Install, folder: Path, total: int, clients: int = 4, workers: int = 2) -> tuple[float, list[float]]:
    port = 20000 + secrets.randbelow(20000)
    procs = start_smtp(inst, port, workers)
    files = sorted(folder.glob("*.eml"))
    round_trips: list[float] = []

    def send(chunk: list[Path]) -> list[float]:
        times = []
        with smtplib.SMTP("127.0.0.1", port, timeout=120) as smtp:
            for path in chunk:
                t = time.perf_counter()
                smtp.sendmail("bench@example.org", ["support@example.com"], path.read_bytes())
                times.append((time.perf_counter() - t) * 1000)
        return times

    start = time.perf_counter()
    try:
        with ThreadPoolExecutor(clients) as pool:
            for times in pool.map(send, [files[i::clients] for i in range(clients)]):
                round_trips.extend(times)
        wait_done(inst, total)
        return time.perf_counter() - start, round_trips
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()


def children_cpu_seconds() -> float:
    """User + system CPU of every child process that has ended so far (the bench waits for all of them)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--paths", default="import,import-workers,smtp")
    parser.add_argument("--repeat", type=int, default=1, help="run each backend and path this many times")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="POSTROOM_X=VALUE",
        help="a setting for the installation, e.g. POSTROOM_SENDER_RATE_LIMIT=off (the corpus mix repeats senders)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="postroom-bench-"))
    try:
        folder = work / "mail"
        origin = build_messages(args.count, folder)
        total = len(list(folder.glob("*.eml")))
        size = sum(p.stat().st_size for p in folder.glob("*.eml"))
        print(f"{total} messages, {size / 1e6:.1f} MB, {origin}; {os.cpu_count()} cores")
        print(
            f"{'backend':<11} {'path':<16} {'msg/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'smtp p50':>9} {'smtp p99':>9} "
            f"{'cpu ms/msg':>10} {'messages':>9} {'quarantined':>11}"
        )
        runs = [(b, p) for b in args.backends.split(",") for p in args.paths.split(",")] * args.repeat
        for backend, path in runs:
            inst = Install(backend, work, dict(item.split("=", 1) for item in args.set))
            try:
                cpu_before = children_cpu_seconds()
                smtp_times: list[float] = []
                if path == "import":
                    seconds = run_import(inst, folder, total)
                elif path == "import-workers":
                    seconds = run_import_workers(inst, folder, total)
                else:
                    seconds, smtp_times = run_smtp(inst, folder, total)
                cpu_ms = (children_cpu_seconds() - cpu_before) * 1000 / total
                lat = inst.latencies_ms()
                msgs = inst.count("select count(*) from tickets_message")
                quarantined = inst.count("select count(*) from inbound_inboundmessage where status='quarantined'")
                print(
                    f"{backend:<11} {path:<16} {total / seconds:>8.1f} {pct(lat, 50):>8.1f} {pct(lat, 99):>8.1f} "
                    f"{pct(smtp_times, 50):>9.1f} {pct(smtp_times, 99):>9.1f} {cpu_ms:>10.2f} {msgs:>9} "
                    f"{quarantined:>11}",
                    flush=True,
                )
            finally:
                inst.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
