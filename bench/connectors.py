"""Mailbox connector benchmark (not a test): mail-to-ticket latency and the poller's CPU per mailbox.

usage: python bench/connectors.py [--parts latency,cpu] [--latency-modes idle,5,30,60] [--sizes 1,10,100]

Runs a private Dovecot (tests/dovecotserver.py, TLS with a CA made for the run), a fresh PostgreSQL database with
`postroom init`, then a real `postroom poll` process and two `postroom work` processes, as a distributed
installation runs them.

latency: for each mode (IMAP IDLE, or polling every N seconds without IDLE) one mailbox is active; messages are
APPENDed into Dovecot at random moments spread over three poll intervals (a steady stream for IDLE), and each one's
latency is `processed_at` of its ledger row (the ticket is committed in that transaction) minus the moment the
APPEND returned. Prints p50/p90/p99/max per mode.

cpu: 1, 10 and 100 IMAP mailboxes read with IDLE (and 100 polled every 30 s for comparison), each receiving one
message during a 60 s window after every reader is connected; prints the poller process's CPU milliseconds per
mailbox per minute (user + system, from /proc), its resident memory, and Dovecot's CPU for the same window.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "connectors"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmail import pct  # noqa: E402 - bench/benchmail.py, beside this file

POSTROOM = [sys.executable, "-m", "postroom.cli"]
PG_URL = os.environ.get("POSTROOM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def build_raw(tag: str) -> bytes:
    return (
        f"From: Customer <customer-{tag}@example.org>\r\nTo: support@example.test\r\nSubject: bench {tag}\r\n"
        f"Message-ID: <{tag}@bench.example.org>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Hello, this is benchmark message {tag}.\r\n"
    ).encode()


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14 and 15 of stat)


def process_rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_BYTES / 1e6


def tree_cpu_seconds(root_pid: int) -> float:
    """CPU of a process and its children (Dovecot forks imap processes per connection)."""
    total = 0.0
    pids = [root_pid]
    seen: set[int] = set()
    while pids:
        pid = pids.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            total += process_cpu_seconds(pid)
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        pids.extend(int(child) for child in children)
    return total


class Installation:
    """A fresh PostgreSQL database and POSTROOM_HOME, set up for this process's Django too."""

    def __init__(self, workdir: Path) -> None:
        import psycopg

        self.home = workdir / "home"
        self.home.mkdir()
        self.dbname = f"postroom_bench_conn_{secrets.token_hex(4)}"
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.dbname}"')
        self.url = urlunsplit(urlsplit(PG_URL)._replace(path=f"/{self.dbname}"))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("POSTROOM_")}
        self.env.update(
            POSTROOM_HOME=str(self.home),
            POSTROOM_DATABASE_URL=self.url,
            POSTROOM_LOG_LEVEL="WARNING",
            POSTROOM_ALLOW_PRIVATE_HOSTS="true",
            POSTROOM_POLLER_HEARTBEAT_SECONDS="2",
            POSTROOM_DB_CONN_MAX_AGE="0",
        )
        subprocess.run([*POSTROOM, "init"], env=self.env, check=True, stdout=subprocess.DEVNULL)
        os.environ.update(self.env)
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postroom.conf.settings")
        django.setup()

    def drop(self) -> None:
        import psycopg
        from django.db import connections

        connections.close_all()
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')


@contextmanager
def running(install: Installation, workers: int = 2) -> Iterator[subprocess.Popen[bytes]]:
    """`postroom poll` and `postroom work` processes; yields the poller."""
    procs = [subprocess.Popen([*POSTROOM, "work"], env=install.env, stdout=subprocess.DEVNULL) for _ in range(workers)]
    poller = subprocess.Popen([*POSTROOM, "poll", "--heartbeat", "2"], env=install.env, stdout=subprocess.DEVNULL)
    procs.append(poller)
    try:
        yield poller
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def make_mailboxes(dovecot: object, users: list[str], **settings: object) -> list[int]:
    """Active mailboxes for these Dovecot users (named uniquely per run); every other mailbox is switched off."""
    from connectorkit import make_mailbox

    from postroom.mailboxes.models import Mailbox

    Mailbox.objects.update(is_active=False)
    run = secrets.token_hex(3)
    server = {"host": "127.0.0.1", "port": dovecot.imaps_port, "tls": "implicit", "ca_file": str(dovecot.ca_file)}  # type: ignore[attr-defined]
    return [
        make_mailbox(f"{user} {run}", password="pw", username=user, **server, **settings).pk  # noqa: S106
        for user in users
    ]


def processed_at(sha256s: set[str], timeout: float) -> dict[str, float]:
    """Wait until every message (by raw sha256) is processed; their processed_at as epoch seconds."""
    from django.db import close_old_connections

    from postroom.inbound.models import InboundMessage

    deadline = time.monotonic() + timeout
    done: dict[str, float] = {}
    while time.monotonic() < deadline and len(done) < len(sha256s):
        rows = InboundMessage.objects.filter(raw_sha256__in=sha256s - done.keys(), processed_at__isnull=False)
        done.update({sha: at.timestamp() for sha, at in rows.values_list("raw_sha256", "processed_at")})
        close_old_connections()
        time.sleep(0.05)
    return done


def measure_latency(install: Installation, dovecot: object, mode: str, count: int) -> list[float]:
    import hashlib

    from dovecotserver import append_messages

    user = f"lat{mode}@example.test"
    settings: dict[str, object] = {"idle": True} if mode == "idle" else {"idle": False, "poll_seconds": int(mode)}
    make_mailboxes(dovecot, [user], **settings)
    window = 20.0 if mode == "idle" else 3 * int(mode)
    moments = sorted(random.uniform(0, window) for _ in range(count))
    appended: dict[str, float] = {}
    with running(install):
        time.sleep(6)  # the poller claims the lease and its reader connects (and goes idle)
        start = time.monotonic()
        for n, moment in enumerate(moments):
            time.sleep(max(0.0, start + moment - time.monotonic()))
            raw = build_raw(f"{mode}-{n}-{secrets.token_hex(3)}")
            append_messages(dovecot, user, [raw])  # type: ignore[arg-type]
            appended[hashlib.sha256(raw).hexdigest()] = time.time()
        done = processed_at(set(appended), timeout=120 + (0 if mode == "idle" else 2 * int(mode)))
    missing = len(appended) - len(done)
    if missing:
        print(f"  {mode}: {missing} messages not processed in time", flush=True)
    return [done[sha] - at for sha, at in appended.items() if sha in done]


def measure_cpu(install: Installation, dovecot: object, size: int, settings: dict[str, object]) -> dict[str, float]:
    from dovecotserver import append_messages

    users = [f"cpu{n}@example.test" for n in range(size)]
    make_mailboxes(dovecot, users, **settings)
    dovecot_pid = dovecot.process.pid  # type: ignore[attr-defined]
    with running(install, workers=1) as poller:
        time.sleep(15)  # every reader connected and idle (or past its first poll)
        cpu0, dcpu0, t0 = process_cpu_seconds(poller.pid), tree_cpu_seconds(dovecot_pid), time.monotonic()
        stop = threading.Event()

        def trickle() -> None:  # one message per mailbox, spread over the minute
            for n, user in enumerate(users):
                if stop.wait(max(0.0, t0 + 60 * n / size - time.monotonic())):
                    return
                append_messages(dovecot, user, [build_raw(f"cpu-{size}-{n}-{secrets.token_hex(3)}")])  # type: ignore[arg-type]

        feeder = threading.Thread(target=trickle)
        feeder.start()
        time.sleep(max(0.0, t0 + 60 - time.monotonic()))
        stop.set()
        feeder.join()
        elapsed = time.monotonic() - t0
        cpu = process_cpu_seconds(poller.pid) - cpu0
        dcpu = tree_cpu_seconds(dovecot_pid) - dcpu0
        rss = process_rss_mb(poller.pid)
    return {
        "cpu_ms_per_mailbox_minute": cpu * 1000 / size * 60 / elapsed,
        "cpu_pct_of_one_core": cpu / elapsed * 100,
        "rss_mb": rss,
        "dovecot_cpu_ms_per_mailbox_minute": dcpu * 1000 / size * 60 / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="latency,cpu")
    parser.add_argument("--latency-modes", default="idle,5,30,60")
    parser.add_argument("--latency-count", type=int, default=20)
    parser.add_argument("--sizes", default="1,10,100")
    args = parser.parse_args()
    from dovecotserver import DovecotServer

    parts = set(args.parts.split(","))
    modes = [m for m in args.latency_modes.split(",") if m]
    sizes = [int(s) for s in args.sizes.split(",") if s]
    users = {f"lat{mode}@example.test": "pw" for mode in modes}
    users |= {f"cpu{n}@example.test": "pw" for n in range(max(sizes, default=0))}
    with tempfile.TemporaryDirectory(prefix="bench-conn-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o755)
        install = Installation(workdir)
        try:
            with DovecotServer(workdir / "dovecot", users) as dovecot:
                if "latency" in parts:
                    print("mail-to-ticket latency (APPEND into Dovecot -> ticket committed), seconds", flush=True)
                    for mode in modes:
                        got = measure_latency(install, dovecot, mode, args.latency_count)
                        label = "IMAP IDLE" if mode == "idle" else f"poll every {mode} s"
                        print(
                            f"  {label:<16} n={len(got):>3}  p50 {pct(got, 50):6.2f}  p90 {pct(got, 90):6.2f}  "
                            f"p99 {pct(got, 99):6.2f}  max {max(got, default=0):6.2f}",
                            flush=True,
                        )
                if "cpu" in parts:
                    print("poller CPU per mailbox (one message per mailbox per minute)", flush=True)
                    runs: list[tuple[str, int, dict[str, object]]] = [("IDLE", size, {"idle": True}) for size in sizes]
                    if sizes:
                        runs.append(("poll 30 s", max(sizes), {"idle": False, "poll_seconds": 30}))
                    for label, size, settings in runs:
                        got_cpu = measure_cpu(install, dovecot, size, settings)
                        print(
                            f"  {label:<10} {size:>4} mailboxes: poller {got_cpu['cpu_ms_per_mailbox_minute']:7.1f} "
                            f"ms CPU per mailbox-minute ({got_cpu['cpu_pct_of_one_core']:.1f}% of a core), "
                            f"RSS {got_cpu['rss_mb']:.0f} MB; Dovecot "
                            f"{got_cpu['dovecot_cpu_ms_per_mailbox_minute']:.1f} ms per mailbox-minute",
                            flush=True,
                        )
        finally:
            install.drop()


if __name__ == "__main__":
    main()
