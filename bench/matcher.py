"""Thread-matcher benchmark (not a test): lookup time per inbound message with 1,000,000 stored Message-IDs.

usage: python bench/matcher.py [--stored 1000000] [--lookups 2000]

Creates a scratch PostgreSQL database ($POSTROOM_TEST_PG_URL, default the local server), migrates it, stores
`--stored` messages over 10,000 tickets with SQL (generate_series), then times the scored matcher plus loading
the winning ticket for `--lookups` synthetic replies: each names five ids in In-Reply-To/References (one
stored, three unknown, one signed token) and a ticket tag in the subject, so every lookup runs. Prints the
mean, p50 and p99 milliseconds per message. Target (issue #3): under 2 ms per inbound message.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmail import pct

PG_URL = os.environ.get("POSTROOM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TICKETS = 10_000


def create_database() -> tuple[str, str]:
    import psycopg

    name = f"postroom_bench_matcher_{secrets.token_hex(4)}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, urlunsplit(urlsplit(PG_URL)._replace(path=f"/{name}"))


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fill(stored: int) -> None:
    from django.db import connection

    from postroom.tenants.services import get_default_tenant
    from postroom.tickets.models import Contact, Queue

    tenant = get_default_tenant()
    queue = Queue.objects.create(tenant=tenant, name="Bench", slug="bench", is_default=True)
    contact = Contact.objects.create(tenant=tenant, email="c@example.org", email_key="c@example.org")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tickets_ticket (tenant_id, number, reference, queue_id, subject, status, requester_id,"
            " created_at, updated_at, last_message_at) SELECT %s, i, 'PR-' || lpad(i::text, 6, '0'), %s, 'bench',"
            " 'open', %s, now(), now(), now() FROM generate_series(1, %s) AS i",
            [tenant.pk, queue.pk, contact.pk, TICKETS],
        )
        cursor.execute("SELECT min(id) FROM tickets_ticket")
        first_ticket = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO tickets_message (tenant_id, ticket_id, direction, subject, text, new_text, quoted_text,"
            ' signature_text, headers, message_id, in_reply_to, "references", sent_at, tracking_id, raw_sha256,'
            " fingerprint, defects, thread_index, is_automatic, created_at)"
            " SELECT %s, %s + (i %% %s), 'in', 's', 't', 't', '', '', '[]', 'bench-' || i || '@mail.example.org',"
            " '[]', '[]', now(), '', '', 'f' || i, '[]', '', false, now() FROM generate_series(1, %s) AS i",
            [tenant.pk, first_ticket, TICKETS, stored],
        )
        cursor.execute("ANALYZE")


def run(lookups: int, stored: int) -> list[float]:
    from postroom.inbound.matcher import match_thread
    from postroom.mail.threads import extract_thread_signals
    from postroom.mail.tokens import ThreadToken, build_message_id, build_token
    from postroom.mail.values import ParsedMessage
    from postroom.tenants.keys import get_key_ring
    from postroom.tenants.services import get_default_tenant
    from postroom.tickets.models import Message
    from postroom.tickets.queries import get_matched_ticket

    tenant = get_default_tenant()
    ring = get_key_ring(tenant)
    sample = Message.objects.order_by("?").only("id", "ticket_id")[:200]
    tokens = [
        build_message_id(build_token(ThreadToken(m.ticket_id, m.pk, ring.signing_key_id), ring.signing_key), "x.org")
        for m in sample
    ]
    rng = random.Random(7)
    timings: list[float] = []
    for n in range(lookups):
        hit = f"bench-{rng.randint(1, stored)}@mail.example.org"
        misses = [f"unknown-{n}-{k}@elsewhere.example" for k in range(3)]
        parsed = ParsedMessage(
            from_=None,
            sender=(),
            reply_to=(),
            to=(),
            cc=(),
            delivered_to=(),
            subject=f"Re: printer [PR-{rng.randint(1, TICKETS):06d}]",
            message_id=f"in-{n}@example.org",
            in_reply_to=(hit,),
            references=(*misses, rng.choice(tokens)),
            date=None,
            text="",
            html=None,
            attachments=(),
            defects=(),
            headers=(),
        )
        started = time.perf_counter()
        signals = extract_thread_signals(parsed, ticket_prefix="PR")
        match = match_thread(tenant.pk, signals, in_reply_to=parsed.in_reply_to, tokens=signals.tokens, ring=ring)
        if match.ticket_id is not None:  # the thread stage loads the winner for the stages after it
            get_matched_ticket(match.ticket_id)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2000)
    args = parser.parse_args()
    name, url = create_database()
    os.environ.update(
        POSTROOM_DATABASE_URL=url,
        POSTROOM_HOME=tempfile.mkdtemp(prefix=name),
        POSTROOM_LOG_LEVEL="WARNING",
        POSTROOM_MODE="embedded",
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postroom.conf.settings")
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        fill(args.stored)
        print(f"stored {args.stored:,} messages in {time.perf_counter() - started:.1f} s")
        run(200, args.stored)  # warm the connection, prepared statements and caches
        timings = run(args.lookups, args.stored)
        mean = sum(timings) / len(timings)
        print(
            f"matcher over {args.stored:,} stored Message-IDs: {args.lookups} lookups, "
            f"mean {mean:.2f} ms, p50 {pct(timings, 50):.2f} ms, p99 {pct(timings, 99):.2f} ms per message"
        )
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(name)


if __name__ == "__main__":
    main()
