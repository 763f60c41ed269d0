"""`postroom up`: one process serves the console, receives over SMTP and processes, as the README promises."""

from __future__ import annotations

import re
import smtplib
import socket
import urllib.request
from pathlib import Path

import pytest
from harness import installation

from mailfactory import build_mail

pytestmark = [pytest.mark.live, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_up_serves_web_and_turns_smtp_mail_into_a_ticket(tmp_path: Path) -> None:
    """GIVEN `postroom up` WHEN a message is sent to its SMTP port THEN it becomes a ticket and the console answers."""
    web_port, smtp_port = free_port(), free_port()
    with installation(tmp_path, "sqlite") as inst:
        proc = inst.start("up", "--web-port", str(web_port), "--smtp-port", str(smtp_port))
        output = inst.wait_for_output(proc, "Mail:", timeout=60)
        assert "Admin login: admin / " in output, output
        assert re.search(rf"Web:\s+http://127\.0\.0\.1:{web_port}/", output)

        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as client:
            client.sendmail("jane.doe@example.org", ["support@example.com"], build_mail(subject="Via SMTP"))
        inst.wait_until("select count(*) from tickets_ticket where subject = 'Via SMTP'", lambda n: n == 1, timeout=60)

        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/login/", timeout=10) as response:
            assert response.status == 200
            assert b"Sign in" in response.read()
