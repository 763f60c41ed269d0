"""A running `postroom up` for the browser tests: started as users start it, with an aiosmtpd relay catching mail."""

from __future__ import annotations

import os
import shutil
import smtplib
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from smtpcapture import Captured, CaptureServer

REPO: Path = Path(__file__).resolve().parents[2]
EXAMPLES: Path = REPO / "examples"
QUEUES: tuple[tuple[str, str], ...] = (
    ("support@example.com", "Support"),
    ("sales@example.com", "Sales"),
    ("billing@example.com", "Billing"),
    ("jobs@example.com", "HR"),
)
START_TIMEOUT_S: float = 90.0  # migrations on a fresh SQLite file plus Django start-up on a loaded 2-core CI machine
CLI_TIMEOUT_S: float = 120.0
VIEWPORT: dict[str, int] = {"width": 1280, "height": 900}  # the console's target desktop width (issue #4)


def find_chromium() -> str | None:
    """Debian's chromium (never a browser build downloaded by `playwright install`); POSTROOM_TEST_CHROMIUM wins."""
    chosen = os.environ.get("POSTROOM_TEST_CHROMIUM")
    if chosen:
        return chosen if Path(chosen).is_file() else None
    return shutil.which("chromium") or next(
        (p for p in ("/usr/bin/chromium", "/usr/lib/chromium/chromium") if Path(p).is_file()), None
    )


def postroom_command() -> list[str]:
    """The `postroom` console script installed next to this interpreter, as users run it."""
    script = Path(sys.executable).with_name("postroom")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "postroom.cli"]


@dataclass
class LiveConsole:
    """A running `postroom up`: where it listens, how to sign in, and the relay that catches what it sends."""

    home: Path
    web_port: int
    smtp_port: int
    outbox: CaptureServer
    process: subprocess.Popen[bytes] | None = None
    username: str = ""
    password: str = ""
    _spool: Path = field(init=False)

    def __post_init__(self) -> None:
        self._spool = self.home / "spool"
        self._spool.mkdir(parents=True, exist_ok=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def log_path(self) -> Path:
        return self.home / "postroom-up.log"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("POSTROOM_")}
        env.update(
            POSTROOM_HOME=str(self.home),
            POSTROOM_DATABASE_URL="",  # SQLite under POSTROOM_HOME, whatever database the rest of the suite uses
            POSTROOM_OUTBOUND_SMTP_URL=self.outbox.url,
            POSTROOM_LOG_LEVEL="INFO",
        )
        return env

    def log_tail(self, size: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-size:] if self.log_path.exists() else "(no log)"

    def run(self, *args: str) -> str:
        """Run a `postroom` command against this installation, as an admin would in a second terminal."""
        done = subprocess.run(
            [*postroom_command(), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"postroom {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def import_mail(self, raw: bytes) -> str:
        """Write one message to a file and `postroom import` it: stored, processed, committed when this returns."""
        path = self._spool / f"{uuid.uuid4().hex}.eml"
        path.write_bytes(raw)
        return self.run("import", str(path))

    def send_mail(self, raw: bytes, *, sender: str, to: str) -> None:
        """Hand a message to the SMTP listener like an MTA would; the embedded worker processes it soon after."""
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=30) as client:
            client.sendmail(sender, [to], raw)

    def wait_for_sent(self, predicate: Callable[[Captured], bool], *, timeout: float = 30.0) -> Captured:
        """Poll the capture server until a message matching `predicate` arrives (a deadline, not a sleep)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.outbox.handler.lock:
                found = next((m for m in self.outbox.messages if predicate(m)), None)
            if found is not None:
                return found
            if time.monotonic() > deadline:
                pytest.fail(f"nothing matching was sent within {timeout}s; postroom up log:\n{self.log_tail()}")
            time.sleep(0.05)

    def captured_containing(self, text: str) -> list[Captured]:
        with self.outbox.handler.lock:
            return [m for m in self.outbox.messages if text.encode() in m.data]


def wait_for_port(console: LiveConsole, *, timeout: float) -> None:
    """Poll the web port until it accepts connections; fail with the server's log if it dies or takes too long."""
    deadline = time.monotonic() + timeout
    while True:
        assert console.process is not None
        if console.process.poll() is not None:
            pytest.fail(f"postroom up exited with {console.process.returncode}:\n{console.log_tail()}")
        try:
            with socket.create_connection(("127.0.0.1", console.web_port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"postroom up did not answer on {console.base_url} in {timeout}s:\n{console.log_tail()}")
            time.sleep(0.1)


def read_admin_login(home: Path) -> tuple[str, str]:
    username, password = (home / "admin-credentials.txt").read_text().split()
    return username, password
