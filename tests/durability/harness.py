"""Run real `postroom` processes against a throw-away installation (SQLite file or a fresh PostgreSQL database)."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

POSTROOM = [sys.executable, "-m", "postroom.cli"]
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def pg_admin_url() -> str:
    return os.environ.get("POSTROOM_TEST_PG_URL", DEFAULT_PG_URL)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def pg_connect(url: str):  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(with_database(url, "postgres"), autocommit=True, connect_timeout=5)


@dataclass
class Installation:
    """One Postroom installation: its home folder, database URL and the environment its processes get."""

    home: Path
    backend: str
    database_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("POSTROOM_")}
        env.update(
            POSTROOM_HOME=str(self.home),
            POSTROOM_DATABASE_URL=self.database_url,
            POSTROOM_SWEEP_AFTER_SECONDS="2",
            # build_mix repeats its senders far more often than the per-sender rate window allows; these tests
            # count messages through crashes and failovers, so every one must become a ticket message.
            POSTROOM_SENDER_RATE_LIMIT="off",
            POSTROOM_LOG_LEVEL="WARNING",
            **self.extra_env,
        )
        return env

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*POSTROOM, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.home / f"proc-{len(self.processes)}.log").open("wb")
        proc = subprocess.Popen([*POSTROOM, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(proc)
        return proc

    def scalar(self, sql: str) -> int:
        if self.backend == "sqlite":
            path = urlsplit(self.database_url).path.removeprefix("/")
            with sqlite3.connect(f"/{path}" if not path.startswith("/") else path, timeout=30) as conn:
                return int(conn.execute(sql).fetchone()[0])
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            row = conn.execute(sql).fetchone()
            return int(row[0]) if row else 0

    def wait_until(self, sql: str, predicate, *, timeout: float, interval: float = 0.05) -> int:  # type: ignore[no-untyped-def]
        """Poll a count until the predicate holds (this waits for a state; it never asserts on time)."""
        deadline = time.monotonic() + timeout
        value = self.scalar(sql)
        while not predicate(value):
            if time.monotonic() > deadline:
                logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in self.home.glob("proc-*.log"))
                pytest.fail(f"timed out waiting on {sql!r} (last value {value}); process logs:\n{logs}")
            time.sleep(interval)
            value = self.scalar(sql)
        return value

    def wait_for_output(self, proc: subprocess.Popen[bytes], text: str, *, timeout: float) -> str:
        """Poll a started process's log until `text` appears (or the process exits); return the log."""
        log = self.home / f"proc-{self.processes.index(proc)}.log"
        deadline = time.monotonic() + timeout
        while True:
            seen = log.read_text(errors="replace")
            if text in seen or proc.poll() is not None or time.monotonic() > deadline:
                return seen
            time.sleep(0.05)

    def stop_all(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def installation(tmp_path: Path, backend: str, **extra_env: str) -> Iterator[Installation]:
    home = tmp_path / "home"
    home.mkdir()
    dbname = ""
    if backend == "sqlite":
        url = f"sqlite:///{home / 'postroom.sqlite3'}"
    else:
        admin = pg_admin_url()
        try:
            conn = pg_connect(admin)
        except Exception as e:
            pytest.skip(f"PostgreSQL not reachable at {admin}: {e}")
        dbname = f"postroom_t_{secrets.token_hex(4)}"
        with conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        url = with_database(admin, dbname)
    inst = Installation(home=home, backend=backend, database_url=url, extra_env=dict(extra_env))
    try:
        init = inst.run("init")
        assert init.returncode == 0, init.stderr
        yield inst
    finally:
        inst.stop_all()
        if dbname:
            with pg_connect(pg_admin_url()) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        shutil.rmtree(home, ignore_errors=True)


def write_messages(folder: Path, messages: list[bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index, raw in enumerate(messages):
        (folder / f"{index:05d}.eml").write_bytes(raw)
    return folder
