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
BROKERS = {
    "rabbitmq": os.environ.get("POSTROOM_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//"),
    "redis": os.environ.get("POSTROOM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
}


def broker_reachable(url: str) -> bool:
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception:
        return False
    return True


def delete_queue(url: str, name: str) -> None:
    from kombu import Connection

    with Connection(url, connect_timeout=3) as conn:
        conn.default_channel.queue_delete(name)


@pytest.mark.parametrize("broker", ["rabbitmq", "redis"])
def test_two_celery_workers_ingest_1000_messages_once(tmp_path: Path, broker: str) -> None:
    """GIVEN a broker (RabbitMQ, or Redis) and PostgreSQL WHEN 1,000 messages are queued for two worker processes
    THEN 1,000 messages, no duplicates, nothing left behind."""
    url = BROKERS[broker]
    if not broker_reachable(url):
        pytest.skip(f"{broker} not reachable at {url}")
    queue = f"postroom-test-{secrets.token_hex(4)}"
    with installation(
        tmp_path, "postgresql", POSTROOM_MODE="distributed", POSTROOM_BROKER_URL=url, POSTROOM_TASK_QUEUE=queue
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
            delete_queue(url, queue)
