"""Exactly-once ingestion: a worker killed with SIGKILL mid-batch loses nothing and duplicates nothing (B2)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from harness import installation, write_messages

from mailfactory import build_mix

pytestmark = [pytest.mark.live, pytest.mark.slow]

COUNT = 500


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sigkill_mid_batch_yields_exactly_500_messages(tmp_path: Path, backend: str) -> None:
    """GIVEN 500 queued messages WHEN the worker is killed -9 part-way and restarted THEN 500 messages, no duplicates,
    no row left in `received`."""
    with installation(tmp_path, backend) as inst:
        folder = write_messages(tmp_path / "mail", build_mix(COUNT, run=f"kill-{backend}"))
        queued = inst.run("import", "--queue-only", str(folder))
        assert queued.returncode == 0, queued.stderr
        assert inst.scalar("select count(*) from inbound_inboundmessage where status = 'received'") == COUNT

        worker = inst.start("work")
        done = inst.wait_until(
            "select count(*) from inbound_inboundmessage where status = 'processed'",
            lambda n: n >= COUNT // 4,
            timeout=180,
        )
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        assert done < COUNT, "the worker finished before it could be killed; the test proves nothing"

        again = inst.run("work", "--once")
        assert again.returncode == 0, again.stderr

        assert inst.scalar("select count(*) from tickets_message") == COUNT
        assert inst.scalar("select count(distinct fingerprint) from tickets_message") == COUNT
        assert inst.scalar("select count(distinct message_id) from tickets_message") == COUNT
        assert inst.scalar("select count(*) from inbound_inboundmessage where status <> 'processed'") == 0
        assert inst.scalar("select count(*) from inbound_inboundmessage where message_id is null") == 0
