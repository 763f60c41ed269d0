"""A private SpamAssassin spamd on loopback for tests: `spamd --local` (no network tests) on a free high port.

Debian's `spamd` package; started in the foreground as a child of the test process (so it is reaped at once), its
helper home in its own directory under /tmp: spamd drops root to `debian-spamd`, which must reach that directory,
so it and every parent are o+x (pytest's tmp_path is 0700; docs: ../shared/reference/services.md section 4a).
Ready in about 1-1.5 s; 40-100 ms per message.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

HOST: Final = "127.0.0.1"
START_TIMEOUT_SECONDS: Final = 30.0
NOT_INSTALLED: Final = "spamd is not installed (Debian: apt-get install spamassassin spamd)"
GTUBE: Final = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"  # scores 1000


def find_spamd() -> str | None:
    return shutil.which("spamd") or shutil.which("spamd", path="/usr/sbin:/usr/local/sbin")


needs_spamd = pytest.mark.skipif(find_spamd() is None, reason=NOT_INSTALLED)
"""Skips a test when there is no spamd binary."""


@dataclass(frozen=True)
class SpamdServer:
    port: int
    home: Path

    @property
    def url(self) -> str:
        return f"spamd://{HOST}:{self.port}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            sock.sendall(b"PING SPAMC/1.5\r\n\r\n")
            return b"PONG" in sock.recv(100)
    except OSError:
        return False


def _drop_user() -> list[str]:
    """As root spamd must run its children as someone else: Debian's debian-spamd."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("debian-spamd")
    except KeyError:
        return ["--username=nobody"]
    return ["--username=debian-spamd", "--groupname=debian-spamd"]


def serve_spamd() -> Iterator[SpamdServer]:
    """Start spamd, yield it once it answers PING, stop it (SIGTERM, then SIGKILL after 5 s)."""
    binary = find_spamd()
    if binary is None:
        pytest.skip(NOT_INSTALLED)
    home = Path(tempfile.mkdtemp(prefix="postroom-spamd-", dir="/tmp"))
    home.chmod(0o755)
    user = _drop_user()
    if user and user[0] == "--username=debian-spamd":
        shutil.chown(home, "debian-spamd", "debian-spamd")
    port = free_port()
    command = [
        binary,
        f"--listen={HOST}:{port}",
        f"--allowed-ips={HOST}",
        "--local",
        "--min-children=1",
        "--max-children=2",
        "--nouser-config",
        f"--helper-home-dir={home}",
        f"--syslog={home / 'spamd.log'}",
        *user,
    ]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not _answers_ping(port):
            if process.poll() is not None or time.monotonic() > deadline:
                log = (home / "spamd.log").read_text(errors="replace")[-2000:] if (home / "spamd.log").exists() else ""
                raise RuntimeError(f"spamd did not start (exit {process.poll()}): {log}")
            time.sleep(0.05)
        yield SpamdServer(port=port, home=home)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stderr is not None:
            process.stderr.close()
        shutil.rmtree(home, ignore_errors=True)
