"""Redundant pollers: two `postroom poll` processes on one Dovecot mailbox; the lease holder is SIGKILLed halfway
through 1,000 messages; the survivor takes over within two heartbeats and every message is ingested exactly once."""

from __future__ import annotations

import re
import signal
import sys
import time
from pathlib import Path

import pytest

from dovecotserver import DovecotServer, append_messages, list_flags, needs_dovecot
from mailfactory import build_mix

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "durability"))  # the process harness lives there
from harness import Installation, installation

pytestmark = [pytest.mark.live, pytest.mark.slow, needs_dovecot]

COUNT = 1000
HEARTBEAT = 1  # seconds; short so the takeover is quick to observe
USER, PASSWORD = "support@example.test", "support-pw"

CREATE_MAILBOX = """
from postroom.mailboxes.models import Mailbox
from postroom.tenants.services import get_default_tenant
from postroom.tickets.services import ensure_default_queue
t = get_default_tenant()
Mailbox.objects.create(tenant=t, name="support", kind="imap", default_queue=ensure_default_queue(t),
    settings={{"host": "127.0.0.1", "port": {port}, "username": "{user}", "ca_file": "{ca}", "batch": 25}},
    secrets={{"imap_password": "{password}"}})
"""

EPOCH_MS = {
    "sqlite": "select cast((julianday(acquired_at) - 2440587.5) * 86400000 as integer) from connectors_mailboxlease",
    "postgresql": "select (extract(epoch from acquired_at) * 1000)::bigint from connectors_mailboxlease",
}


def holder_of(inst: Installation, index: int) -> str:
    text = inst.wait_for_output(inst.processes[index], "poller ", timeout=30)
    match = re.search(r"poller (\S+): heartbeat", text)
    assert match, text
    return match.group(1)


def holds(inst: Installation, holder: str) -> int:
    return inst.scalar(f"select count(*) from connectors_mailboxlease where holder = '{holder}'")  # noqa: S608


@pytest.mark.parametrize("backend", ["postgresql"])  # several pollers are the distributed case; SQLite: lease tests
def test_sigkilled_poller_is_replaced_within_two_heartbeats_and_nothing_is_lost_or_doubled(
    tmp_path: Path, backend: str
) -> None:
    """GIVEN 1,000 messages in a mailbox and two pollers WHEN the lease holder is SIGKILLed part-way THEN the other
    holds the lease within two heartbeats of the kill, and the ledger ends with exactly 1,000 rows (distinct keys and
    bytes), every message seen on the server, and 1,000 ticket messages after processing."""
    dovecot_root = tmp_path / "dovecot"
    dovecot_root.mkdir()
    with (
        DovecotServer(dovecot_root, {USER: PASSWORD}) as server,
        installation(
            tmp_path,
            backend,
            POSTROOM_ALLOW_PRIVATE_HOSTS="true",
            POSTROOM_POLLER_HEARTBEAT_SECONDS=str(HEARTBEAT),
        ) as inst,
    ):
        append_messages(server, USER, build_mix(COUNT, run=f"failover-{backend}"))
        code = CREATE_MAILBOX.format(port=server.imaps_port, user=USER, ca=server.ca_file, password=PASSWORD)
        made = inst.run("manage", "shell", "-c", code)
        assert made.returncode == 0, made.stderr
        inst.start("poll")
        inst.start("poll")
        inst.start("work")  # processes the ledger while the pollers fill it
        holders = [holder_of(inst, 0), holder_of(inst, 1)]
        inst.wait_until("select count(*) from connectors_mailboxlease where holder <> ''", lambda n: n == 1, timeout=30)
        victim = 0 if holds(inst, holders[0]) else 1
        survivor = 1 - victim
        done = inst.wait_until("select count(*) from inbound_inboundmessage", lambda n: n >= COUNT // 3, timeout=120)
        killed_at_ms = time.time() * 1000
        inst.processes[victim].send_signal(signal.SIGKILL)
        inst.processes[victim].wait()
        assert done < COUNT, "the first poller finished before it could be killed; the test proves nothing"

        inst.wait_until(
            f"select count(*) from connectors_mailboxlease where holder = '{holders[survivor]}'",  # noqa: S608
            lambda n: n == 1,
            timeout=10 * HEARTBEAT,
        )
        taken_after_ms = inst.scalar(EPOCH_MS[backend]) - killed_at_ms
        assert taken_after_ms <= 2 * HEARTBEAT * 1000, f"takeover after {taken_after_ms:.0f} ms"

        inst.wait_until("select count(*) from inbound_inboundmessage", lambda n: n >= COUNT, timeout=120)
        assert inst.scalar("select count(*) from inbound_inboundmessage") == COUNT
        assert inst.scalar("select count(distinct source_key) from inbound_inboundmessage") == COUNT
        assert inst.scalar("select count(distinct raw_sha256) from inbound_inboundmessage") == COUNT
        flags = list_flags(server, USER)
        assert len(flags) == COUNT and all("\\Seen" in f for f in flags.values())

        inst.wait_until("select count(*) from tickets_message", lambda n: n >= COUNT, timeout=120)
        assert inst.scalar("select count(*) from tickets_message") == COUNT
        assert inst.scalar("select count(distinct message_id) from tickets_message") == COUNT
