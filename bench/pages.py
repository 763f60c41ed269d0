"""Console and API page timings at scale (not a test): server time per page at 100,000 tickets and 1,000,000 messages.

usage: python bench/pages.py [--tickets 100000] [--messages-per-ticket 10] [--repeat 20] [--keep]

Fills a PostgreSQL database of its own (`postroom_bench_pages`; kept with --keep and reused when it already holds
the asked-for volume) with queues, contacts, tickets and messages written by SQL (generate_series; a thousand text
variants drawn from a word list, one rare word in one variant in a thousand so searches have both selective and
common terms), then requests each page in-process through Django's test client as an admin and as an agent of three
queues, and prints the server time per page (p50/p95 over --repeat requests after warm-up) and the number of SQL
queries each page ran. Server time here is the whole request in the Django process, database included, without
network or browser time.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
POSTROOM = [sys.executable, "-m", "postroom.cli"]
PG_URL = os.environ.get("POSTROOM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DBNAME = "postroom_bench_pages"
QUEUES = 10
CONTACTS = 20_000
VARIANTS = 1_000
RARE_WORD = "zebrafish"
COMMON_WORD = "printer"
WORDS = (  # noqa: SIM905 - a paragraph reads better than a hundred quoted words
    "printer invoice password login error account order delivery refund payment screen update crash network "
    "email calendar license server backup restore report export import upload download access permission "
    "contract renewal shipping tracking address phone laptop monitor keyboard mouse battery charger cable "
    "warranty repair replacement discount coupon subscription cancel upgrade downgrade billing tax receipt "
    "please thanks hello regards urgent today tomorrow yesterday morning afternoon week month still again "
    "cannot works broken slow fast missing wrong correct new old first last help issue problem question"
).split()


def database_url() -> str:
    return urlunsplit(urlsplit(PG_URL)._replace(path=f"/{DBNAME}"))


def ensure_database(tickets: int, per_ticket: int, home: Path) -> None:
    """Create and fill the bench database unless it already holds this volume."""
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", [DBNAME]).fetchone()
    if exists:
        with psycopg.connect(database_url(), autocommit=True) as conn:
            try:
                row = conn.execute("select count(*) from tickets_ticket").fetchone()
                count = row[0] if row else 0
            except psycopg.errors.UndefinedTable:
                count = 0
        if count == tickets:
            print(f"reusing {DBNAME} ({count} tickets)")
            return
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{DBNAME}" WITH (FORCE)')
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{DBNAME}"')
    env = {**os.environ, "POSTROOM_HOME": str(home), "POSTROOM_DATABASE_URL": database_url()}
    subprocess.run([*POSTROOM, "init"], env=env, check=True, stdout=subprocess.DEVNULL)
    start = time.perf_counter()
    fill(tickets, per_ticket)
    print(f"filled {tickets} tickets, {tickets * per_ticket} messages in {time.perf_counter() - start:.0f} s")


def fill(tickets: int, per_ticket: int) -> None:
    import psycopg

    with psycopg.connect(database_url(), autocommit=True) as conn:
        row = conn.execute("select id from tenants_tenant order by id limit 1").fetchone()
        if row is None:
            raise SystemExit("postroom init made no tenant")
        tenant = row[0]
        conn.execute(
            "insert into tickets_queue (created_at, name, slug, is_default, tenant_id, allow_organization_followups,"
            " closed_reply_policy, foreign_reference_patterns, from_address, from_name, reopen_within_days,"
            " reply_to_token, signature, unknown_sender_policy)"
            " select now(), 'Queue ' || g, 'queue-' || g, false, %s, false, 'reopen', '[]', '', '', 30, false, '',"
            " 'new_ticket' from generate_series(1, %s) g",
            [tenant, QUEUES],
        )
        conn.execute(
            "insert into tickets_contact (created_at, email, email_key, name, tenant_id)"
            " select now(), 'customer' || g || '@example.org', 'customer' || g || '@example.org',"
            " 'Customer ' || g, %s from generate_series(1, %s) g",
            [tenant, CONTACTS],
        )
        conn.execute("create temporary table words (i int, w text)")
        conn.execute(
            "insert into words select ordinality, w from unnest(%s::text[]) with ordinality as t(w)", [list(WORDS)]
        )
        conn.execute("create temporary table variants2 (v int primary key, text text)")
        with conn.cursor().copy("copy variants2 (v, text) from stdin") as copy:
            for v, text in enumerate(build_variants()):
                copy.write_row((v, text))
        queues = [r[0] for r in conn.execute("select id from tickets_queue order by id").fetchall()]
        contacts = conn.execute("select min(id) from tickets_contact").fetchone()
        first_contact = contacts[0] if contacts else 1
        conn.execute(
            "insert into tickets_ticket (created_at, number, reference, subject, status, updated_at, last_message_at,"
            " queue_id, requester_id, tenant_id, priority)"
            " select now() - make_interval(mins => g), g, 'PR-' || lpad(g::text, 6, '0'),"
            " (select w from words where i = 1 + (g %% %s)) || ' ' ||"
            " (select w from words where i = 1 + ((g * 31) %% %s)),"
            " (array['new','open','pending','resolved','closed'])[1 + g %% 5], now(), now() - make_interval(mins => g),"
            " (%s::bigint[])[1 + g %% %s], %s + (g %% %s), %s, 'normal' from generate_series(1, %s) g",
            [len(WORDS), len(WORDS), queues, len(queues), first_contact, CONTACTS, tenant, tickets],
        )
        conn.execute(
            "insert into tickets_message (created_at, direction, subject, text, headers, message_id, in_reply_to,"
            ' "references", sent_at, tracking_id, raw_sha256, fingerprint, defects, author_id, tenant_id, ticket_id,'
            " is_automatic, new_text, quoted_text, signature_text, thread_index)"
            " select t.created_at, case when k %% 2 = 0 then 'out' else 'in' end, t.subject, v.text, '[]',"
            " 'bench-' || t.id || '-' || k || '@example.org', '[]', '[]', t.created_at + make_interval(secs => k),"
            " '', '', '', '[]', t.requester_id, t.tenant_id, t.id, false, v.text, '', '', ''"
            " from tickets_ticket t cross join generate_series(1, %s) k"
            " join variants2 v on v.v = (t.id * %s + k) %% %s",
            [per_ticket, per_ticket, VARIANTS],
        )
        conn.execute("vacuum analyze")


def build_variants() -> list[str]:
    """The message texts, a fixed random draw: sixty words each, the rare word in one variant in a thousand."""
    import random

    draw = random.Random(20261127)
    texts = [" ".join(draw.choices(WORDS, k=60)) for _ in range(VARIANTS)]
    texts[0] += f" {RARE_WORD}"
    return texts


def setup_django(home: Path) -> None:
    os.environ.update(POSTROOM_HOME=str(home), POSTROOM_DATABASE_URL=database_url(), POSTROOM_LOG_LEVEL="WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postroom.conf.settings")
    import django

    django.setup()


def make_users() -> tuple[object, object]:
    from django.contrib.auth import get_user_model

    from postroom.accounts.models import Role
    from postroom.accounts.services import add_to_queue, assign_role
    from postroom.tenants.services import get_default_tenant
    from postroom.tickets.models import Queue

    tenant = get_default_tenant()
    users = get_user_model().objects
    suffix = secrets.token_hex(3)
    admin = users.create_user(f"bench-admin-{suffix}", password=None)
    assign_role(admin, Role.ADMIN, tenant)
    agent = users.create_user(f"bench-agent-{suffix}", password=None)
    assign_role(agent, Role.AGENT, tenant)
    for queue in Queue.objects.filter(slug__in=["queue-1", "queue-2", "queue-3"]):
        add_to_queue(agent, queue)
    return admin, agent


def measure(call: Callable[[], object], repeat: int) -> tuple[list[float], int, int]:
    """Milliseconds per request after three warm-up requests, the queries of one request, its status."""
    from django.db import connection

    for _ in range(3):
        call()
    executed: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        executed.append(sql)
        return execute(sql, params, many, context)

    # a wrapper, not CaptureQueriesContext: Django resets the query log when a request starts
    with connection.execute_wrapper(count):
        response = call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times, len(executed), int(getattr(response, "status_code", 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--messages-per-ticket", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the database for the next run")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="postroom-bench-pages-"))
    ensure_database(args.tickets, args.messages_per_ticket, home)
    try:
        run_pages(home, args)
    finally:
        if not args.keep:
            import psycopg

            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{DBNAME}" WITH (FORCE)')


def run_pages(home: Path, args: argparse.Namespace) -> None:
    setup_django(home)
    from django.test import Client

    from postroom.tickets.models import Message, Ticket

    admin, agent = make_users()
    clients = {}
    for name, user in (("admin", admin), ("agent", agent)):
        client = Client(HTTP_HOST="localhost")  # among ALLOWED_HOSTS in every configuration
        client.force_login(user)
        clients[name] = client
    # a ticket of queue-1 with the full number of messages: the agent may see it too
    ticket = Ticket.objects.filter(queue__slug="queue-1").order_by("-last_message_at").first()
    if ticket is None:
        raise SystemExit("no ticket in queue-1")
    messages = Message.objects.filter(ticket=ticket).count()
    pages = [
        ("ticket list (open)", "admin", "/"),
        ("ticket list (open)", "agent", "/"),
        ("ticket list, one queue", "admin", "/?queue=queue-1&status="),
        ("ticket list, page 50", "admin", "/?status=&page=50"),
        (f"search, rare word ({RARE_WORD})", "admin", f"/?status=&q={RARE_WORD}"),
        (f"search, common word ({COMMON_WORD})", "admin", f"/?status=&q={COMMON_WORD}"),
        (f"search, rare word ({RARE_WORD})", "agent", f"/?status=&q={RARE_WORD}"),
        (f"ticket detail ({messages} messages)", "admin", f"/tickets/{ticket.reference}/"),
        (f"ticket detail ({messages} messages)", "agent", f"/tickets/{ticket.reference}/"),
        ("API ticket list", "admin", "/api/v1/tickets"),
        (f"API ticket search ({RARE_WORD})", "agent", f"/api/v1/tickets?q={RARE_WORD}"),
        ("API messages of a ticket", "admin", f"/api/v1/tickets/{ticket.reference}/messages"),
    ]
    tickets = Ticket.objects.count()
    total = Message.objects.count()
    print(f"{tickets} tickets, {total} messages, PostgreSQL; {args.repeat} requests per page after warm-up")
    print(f"{'page':<40} {'as':<6} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8} {'status':>7}")
    for label, who, url in pages:
        client = clients[who]
        times, queries, status = measure(lambda c=client, u=url: c.get(u), args.repeat)  # type: ignore[misc]
        if status != 200:
            raise SystemExit(f"{label} as {who}: HTTP {status} from {url}")
        p95 = statistics.quantiles(times, n=20)[18] if len(times) > 1 else times[0]
        print(f"{label:<40} {who:<6} {statistics.median(times):>8.1f} {p95:>8.1f} {queries:>8} {status:>7}", flush=True)


if __name__ == "__main__":
    main()
