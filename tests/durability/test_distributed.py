"""Distributed mode: two Celery workers on RabbitMQ with PostgreSQL ingest 1,000 messages exactly once."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from harness import installation, write_messages

from mailfactory import build_mix

pytestmark = [pytest.mark.live, pytest.mark.slow]

COUNT = 1000
BROKER = os.environ.get("POSTROOM_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")


def broker_reachable() -> bool:
    from kombu import Connection

    try:
        with Connection(BROKER, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception:
        return False
    return True


def delete_queue(name: str) -> None:
    from kombu import Connection

    with Connection(BROKER, connect_timeout=3) as conn:
        conn.default_channel.queue_delete(name)


def test_two_celery_workers_ingest_1000_messages_once(tmp_path: Path) -> None:
    """GIVEN RabbitMQ and PostgreSQL WHEN 1,000 messages are queued for two worker processes THEN 1,000 messages,
    no duplicates, nothing left behind."""
    if not broker_reachable():
        pytest.skip(f"RabbitMQ not reachable at {BROKER}")
    queue = f"postroom-test-{secrets.token_hex(4)}"
    with installation(
        tmp_path, "postgresql", POSTROOM_MODE="distributed", POSTROOM_BROKER_URL=BROKER, POSTROOM_TASK_QUEUE=queue
    ) as inst:
        try:
            for name in ("w1", "w2"):
                inst.start("worker", "--concurrency", "2", "--loglevel", "WARNING", "--hostname", f"{name}@{queue}")
            inst.start("scheduler", "--interval", "2")
            folder = write_messages(tmp_path / "mail", build_mix(COUNT, run="celery"))
            queued = inst.run("import", "--queue-only", str(folder))
            assert queued.returncode == 0, queued.stderr

            inst.wait_until(
                "select count(*) from inbound_inboundmessage where status <> 'received'",
                lambda n: n == COUNT,
                timeout=600,
                interval=0.5,
            )
            assert inst.scalar("select count(*) from tickets_message") == COUNT
            assert inst.scalar("select count(distinct fingerprint) from tickets_message") == COUNT
            assert inst.scalar("select count(*) from inbound_inboundmessage where status = 'processed'") == COUNT
            workers_used = inst.scalar("select count(*) from inbound_inboundmessage where attempts >= 1")
            assert workers_used == COUNT
        finally:
            inst.stop_all()
            delete_queue(queue)
