"""Real proxies for the connector tests: tinyproxy (HTTP CONNECT) and microsocks (SOCKS5 with user/password),
both Debian packages, run in the foreground on free loopback ports and stopped by the fixture."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HOST = "127.0.0.1"
needs_tinyproxy = pytest.mark.skipif(
    shutil.which("tinyproxy") is None, reason="tinyproxy is not installed (Debian: apt-get install tinyproxy)"
)
needs_microsocks = pytest.mark.skipif(
    shutil.which("microsocks") is None, reason="microsocks is not installed (Debian: apt-get install microsocks)"
)


@dataclass
class RunningProxy:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_file: Path

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"{what} did not listen on port {port} within 10 s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def serve_tinyproxy(root: Path, extra_config: str = "") -> Iterator[RunningProxy]:
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    log_file = root / "tinyproxy.log"
    config = root / "tinyproxy.conf"
    # No ConnectPort line: CONNECT may reach any port (tinyproxy limits it to the listed ones once one is given).
    config.write_text(
        f'Port {port}\nListen {HOST}\nTimeout 60\nAllow 127.0.0.1\nLogLevel Connect\nLogFile "{log_file}"\n'
        f"MaxClients 20\nDisableViaHeader Yes\n{extra_config}"
    )
    log_file.touch()
    log_file.chmod(0o666)
    process = subprocess.Popen(
        ["tinyproxy", "-d", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_listening(port, process, "tinyproxy")
        yield RunningProxy(f"http://{HOST}:{port}", port, process, log_file)
    finally:
        _stop(process)


def serve_microsocks(root: Path, user: str, password: str) -> Iterator[RunningProxy]:
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    log_file = root / "microsocks.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            ["microsocks", "-i", HOST, "-p", str(port), "-u", user, "-P", password], stdout=log, stderr=log
        )
    try:
        _wait_listening(port, process, "microsocks")
        yield RunningProxy(f"socks5://{user}:{password}@{HOST}:{port}", port, process, log_file)
    finally:
        _stop(process)
