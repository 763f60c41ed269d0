"""The `postroom` command. Every failure ends in one line on stderr and a non-zero exit code."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from postroom.cli_metrics import add_metrics_command
from postroom.cli_senders import add_senders_command

if TYPE_CHECKING:
    from postroom.inbound.models import InboundMessage
    from postroom.inbound.quarantine import Actor

EXIT_USAGE = 2
EXIT_FAILED = 1
QUARANTINE_PURGE_SECONDS = 3600  # how often the scheduler purges quarantined mail past its retention


class CommandError(Exception):
    """A failure to report as one line, with the exit code to use."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postroom.conf.settings")
    import django

    django.setup()


def cmd_inspect(args: argparse.Namespace) -> int:
    import os

    from postroom.conf.env import parse_name_list
    from postroom.mail.inspection import DEFAULT_TICKET_PREFIX, inspect_paths

    # No Django here: inspect is the pure core; only the ticket prefix and the trusted Authentication-Results ids
    # are read from the environment.
    prefix = os.environ.get("POSTROOM_TICKET_PREFIX", DEFAULT_TICKET_PREFIX)
    trusted = parse_name_list(os.environ.get("POSTROOM_TRUSTED_AUTHSERV_IDS", ""))
    return int(inspect_paths(args.files, sys.stdout, ticket_prefix=prefix, trusted_authserv_ids=trusted))


def cmd_init(args: argparse.Namespace) -> int:
    from postroom.bootstrap import initialise

    report = initialise(admin_username=args.admin)
    print(report.render())
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from django.conf import settings

    from postroom.bootstrap import initialise
    from postroom.embedded import EmbeddedRuntime
    from postroom.inbound.smtp import start_listener

    conf = settings.POSTROOM
    if not conf.is_embedded:
        raise CommandError(
            "`postroom up` runs embedded mode; in distributed mode start web, worker, listen and scheduler separately",
            EXIT_USAGE,
        )
    report = initialise(admin_username="admin")
    runtime = EmbeddedRuntime(workers=conf.embedded_workers)
    runtime.start_workers()
    runtime.start_poller(conf.poller_heartbeat_seconds)
    web_port = args.web_port if args.web_port is not None else conf.web_port
    smtp_port = args.smtp_port if args.smtp_port is not None else conf.smtp_port
    try:
        runtime.start_web(conf.web_host, web_port)
        listener = start_listener(conf.smtp_host, smtp_port, lmtp=conf.smtp_lmtp, max_bytes=conf.max_message_bytes)
    except OSError as e:
        runtime.shutdown()
        raise CommandError(f"cannot listen: {e.strerror or e} (is another Postroom running?)") from e
    runtime.add_closer(listener.stop)
    print(report.render())
    print(f"Web:  http://{conf.web_host}:{web_port}/")
    print(
        f"Mail: {'LMTP' if conf.smtp_lmtp else 'SMTP'} on {conf.smtp_host}:{listener.port} "
        f"(try: postroom import examples/)"
    )
    print("Data:", conf.home, "· stop with Ctrl-C", flush=True)
    install_stop_handlers(runtime.stop.set)
    try:
        runtime.wait()
    finally:
        runtime.shutdown()
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    import logging

    from postroom.inbound.importer import import_paths

    if not args.verbose:  # the summary says what happened; per-message lines only on request
        logging.getLogger("postroom").setLevel(logging.WARNING)
    summary = import_paths([Path(p) for p in args.paths], process=not args.queue_only)
    for problem in summary.unreadable:
        print(f"postroom import: {problem}", file=sys.stderr)
    print(summary.render())
    return EXIT_FAILED if summary.failed else 0


def cmd_replay(args: argparse.Namespace) -> int:
    from postroom.inbound.models import InboundMessage
    from postroom.inbound.services import ReplayError, process_inbound, replay_inbound

    failures = 0
    for inbound_id in args.ids:
        try:
            replay_inbound(inbound_id)
        except ReplayError as e:
            print(f"postroom replay: {e}", file=sys.stderr)
            failures += 1
            continue
        process_inbound(inbound_id)
        row = InboundMessage.objects.get(pk=inbound_id)
        print(f"{inbound_id}: {row.status}{' (' + row.cause + ')' if row.cause else ''}")
        failures += row.status not in {"processed", "quarantined", "deleted"}  # deleted: over a drop threshold
    return EXIT_FAILED if failures else 0


def cmd_work(args: argparse.Namespace) -> int:
    import threading

    from postroom.embedded import run_worker_loop

    stop = threading.Event()
    install_stop_handlers(stop.set)
    run_worker_loop(stop, None, exit_when_idle=args.once)
    return 0


def cmd_listen(args: argparse.Namespace) -> int:
    import threading

    from django.conf import settings

    from postroom.inbound.smtp import start_listener

    conf = settings.POSTROOM
    port = args.port if args.port is not None else conf.smtp_port
    try:
        listener = start_listener(conf.smtp_host, port, lmtp=conf.smtp_lmtp, max_bytes=conf.max_message_bytes)
    except OSError as e:
        raise CommandError(f"cannot listen on {conf.smtp_host}:{port}: {e.strerror or e}") from e
    print(f"{'LMTP' if conf.smtp_lmtp else 'SMTP'} listener on {conf.smtp_host}:{listener.port}", flush=True)
    stop = threading.Event()
    install_stop_handlers(stop.set)
    stop.wait()
    listener.stop()
    return 0


def cmd_poll(args: argparse.Namespace) -> int:
    import threading

    from django.conf import settings

    from postroom.connectors.poller import Poller

    heartbeat = args.heartbeat if args.heartbeat is not None else settings.POSTROOM.poller_heartbeat_seconds
    if heartbeat <= 0:
        raise CommandError("--heartbeat must be a positive number of seconds", EXIT_USAGE)
    poller = Poller(heartbeat_seconds=heartbeat)
    print(f"poller {poller.holder}: heartbeat {heartbeat}s", flush=True)
    stop = threading.Event()
    install_stop_handlers(stop.set)
    poller.run(stop)  # releases its leases when stopped (SIGTERM, Ctrl-C)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from postroom.celery import app

    argv = ["worker", "--loglevel", args.loglevel, "--concurrency", str(args.concurrency)]
    if args.hostname:
        argv += ["--hostname", args.hostname]
    app.worker_main(argv)
    return 0


def cmd_scheduler(args: argparse.Namespace) -> int:
    import threading

    from django.db import close_old_connections

    from postroom.inbound.quarantine import purge_expired
    from postroom.inbound.services import sweep_stale
    from postroom.outbound.sender import requeue_due_deliveries
    from postroom.portal.outbox import requeue_due_sign_in_requests

    stop = threading.Event()
    install_stop_handlers(stop.set)
    next_purge = 0.0
    while not stop.is_set():
        sweep_stale()
        requeue_due_deliveries()
        requeue_due_sign_in_requests()
        if time.monotonic() >= next_purge:  # quarantined mail past POSTROOM_QUARANTINE_RETENTION_DAYS, hourly
            purge_expired()
            next_purge = time.monotonic() + QUARANTINE_PURGE_SECONDS
        close_old_connections()
        stop.wait(args.interval)
    return 0


def cmd_route(args: argparse.Namespace) -> int:
    from postroom.inbound.routes import add_route, list_routes

    if args.action == "add":
        if not args.address or not args.queue:
            raise CommandError("usage: postroom route add ADDRESS QUEUE_NAME", EXIT_USAGE)
        route = add_route(args.address, args.queue)
        print(f"{route.address} -> {route.queue.name}")
    else:
        for route in list_routes():
            print(f"{route.address} -> {route.queue.name}")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from postroom.tenants.keys import get_key_ring, retire_threading_key, rotate_threading_key
    from postroom.tenants.services import get_default_tenant

    tenant = get_default_tenant()
    if args.action == "rotate":
        row = rotate_threading_key(tenant)
        print(f"{row.key_id} now signs new mail; older keys verify replies until retired")
    elif args.action == "retire":
        if not args.key_id:
            raise CommandError("usage: postroom keys retire KEY_ID", EXIT_USAGE)
        try:
            retire_threading_key(tenant, args.key_id)
        except ValueError as e:
            raise CommandError(str(e)) from e
        print(f"{args.key_id} retired: replies carrying its tokens no longer thread by token")
    ring = get_key_ring(tenant)
    for key_id in sorted({*ring.keys, *ring.retired}):
        state = "signing" if key_id == ring.signing_key_id else ("retired" if key_id in ring.retired else "verifying")
        print(f"{key_id}\t{state}")
    return 0


def cmd_tokens(args: argparse.Namespace) -> int:
    from django.contrib.auth import get_user_model

    from postroom.accounts.models import ApiToken
    from postroom.accounts.tokens import create_token, revoke_token

    if args.action == "create":
        if not args.user or not args.name:
            raise CommandError("usage: postroom tokens create USER NAME [--scope read|write]", EXIT_USAGE)
        user = get_user_model().objects.filter(username=args.user).first()
        if user is None:
            raise CommandError(f"no user {args.user!r}")
        issued = create_token(user, args.name, args.scope)
        print(f"{issued.token}\n(token {issued.row.pk}, {issued.row.scope}; shown once, only its hash is stored)")
    elif args.action == "revoke":
        if not args.user or not args.user.isdigit() or not revoke_token(int(args.user)):
            raise CommandError("usage: postroom tokens revoke TOKEN_ID (an active token's id)")
        print(f"token {args.user} revoked")
    else:
        for row in ApiToken.objects.select_related("user").order_by("id"):
            state = "revoked" if row.revoked_at else "active"
            print(f"{row.pk}\t{row.user.get_username()}\t{row.name}\t{row.scope}\t{state}\tpr_{row.prefix}_…")
    return 0


def cmd_outbox(args: argparse.Namespace) -> int:
    from postroom.outbound.queries import list_deliveries, retry_delivery
    from postroom.outbound.sender import send_due_deliveries
    from postroom.portal.outbox import send_due_sign_in_requests

    if args.action == "retry":
        if not args.ids:
            raise CommandError("usage: postroom outbox retry ID...", EXIT_USAGE)
        for delivery_id in args.ids:
            if not retry_delivery(delivery_id):
                raise CommandError(f"no failed or deferred delivery {delivery_id}")
    if args.action in {"retry", "send"}:
        print(f"sent or attempted: {send_due_deliveries()} (portal sign-in links: {send_due_sign_in_requests()})")
        return 0
    for row in list_deliveries(args.status):
        reply = f" {row.last_reply[:80]}" if row.last_reply else ""
        print(f"{row.pk}\t{row.status}\t{row.attempts}\t{','.join(row.recipients)[:60]}{reply}")
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    """Quarantined mail: list, release ID, delete ID, allow ID, purge (docs/architecture/quarantine.md)."""
    import getpass

    from django.contrib.auth import get_user_model

    from postroom.inbound import quarantine

    if args.action in {"list", "purge"} and args.id:
        raise CommandError(f"usage: postroom quarantine {args.action} takes no ID", EXIT_USAGE)
    if args.action == "purge":
        if args.days is not None and args.days < 1:
            raise CommandError("usage: postroom quarantine purge [--days N] (N at least 1)", EXIT_USAGE)
        print(f"purged: {quarantine.purge_expired(retention_days=args.days)}")
        return 0
    if args.action == "list":
        filters = quarantine.QuarantineFilter(cause=args.cause or "", sender=args.sender or "")
        page = quarantine.list_quarantined(None, filters, limit=quarantine.MAX_PAGE_SIZE)
        for row in page.rows:
            sender, when = row.sender or row.envelope_from, row.received_at.strftime("%Y-%m-%d %H:%M")
            print(f"{row.pk}\t{row.tracking_id}\t{when}\t{row.cause}\t{sender}\t{row.subject[:60]}")
        if page.next_cursor:
            print(f"(the newest {len(page.rows)} shown; narrow with --cause or --sender, or use the console)")
        return 0
    if not args.id:
        raise CommandError(f"usage: postroom quarantine {args.action} ID (ledger id or tracking id)", EXIT_USAGE)
    actor = quarantine.Actor(name=f"{getpass.getuser()} (command line)")
    if args.by:
        user = get_user_model().objects.filter(username=args.by).first()
        if user is None:
            raise CommandError(f"no user {args.by!r}", EXIT_USAGE)
        actor = quarantine.Actor.of(user)
    try:
        row = _decide_quarantined(quarantine.get_quarantined(None, args.id).pk, actor, args)
    except quarantine.QuarantineError as e:
        raise CommandError(str(e)) from e
    ticket = f" -> {row.message.ticket.reference}" if row.message else ""
    print(f"{row.pk}\t{row.tracking_id}\t{row.status}{' (' + row.cause + ')' if row.cause else ''}{ticket}")
    return 0


def _decide_quarantined(inbound_id: int, actor: Actor, args: argparse.Namespace) -> InboundMessage:
    """release, allow (the sender, then release) or delete one quarantined message."""
    from postroom.inbound import quarantine

    if args.action == "release":
        return quarantine.release_message(inbound_id, actor)
    if args.action == "allow":
        allowed = quarantine.allow_sender(inbound_id, actor, mailbox_only=args.mailbox_only, skip_auth=args.skip_auth)
        print(f"allowed: {allowed.entry.pattern} (entry {allowed.entry.pk})")
        return allowed.row
    return quarantine.delete_message(inbound_id, actor)


def cmd_mailboxes(args: argparse.Namespace) -> int:
    """Mailboxes: list them, or test one's connections (docs/architecture/admin.md, "Test connection")."""
    from postroom.mailboxes.models import Mailbox

    if args.action == "list":
        for mailbox in Mailbox.objects.select_related("default_queue").order_by("name"):
            tested = "never tested"
            if mailbox.last_test_at is not None:
                outcome = "passed" if mailbox.last_test_ok else "failed"
                tested = f"test {outcome} {mailbox.last_test_at:%Y-%m-%d %H:%M}"
            state = "active" if mailbox.is_active else "inactive"
            print(f"{mailbox.pk}\t{mailbox.name}\t{mailbox.kind}\t{mailbox.address or '-'}\t{state}\t{tested}")
        return 0
    from postroom.connectors.mailbox_test import run_connection_test

    chosen = Mailbox.objects.filter(pk=args.id).first() if args.id is not None else None
    if chosen is None:
        raise CommandError("usage: postroom mailboxes test ID (an id from `postroom mailboxes list`)", EXIT_USAGE)
    result = run_connection_test(chosen)
    print("\n".join(result.render_lines()))
    return 0 if result.ok else EXIT_FAILED


def cmd_manage(args: argparse.Namespace) -> int:
    from django.core.management import execute_from_command_line

    execute_from_command_line(["postroom", *args.rest])
    return 0


def install_stop_handlers(stop: Callable[[], None]) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop())


def _add_admin_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Routes, keys, the outbox and Django's management commands: what an operator looks after."""
    p = sub.add_parser("route", help="map an address to a queue (add) or show the routes (list)")
    p.add_argument("action", choices=["add", "list"])
    p.add_argument("address", nargs="?")
    p.add_argument("queue", nargs="?")
    p.set_defaults(func=cmd_route)

    p = sub.add_parser("keys", help="the threading keys: list, rotate (new signing key) or retire KEY_ID")
    p.add_argument("action", choices=["list", "rotate", "retire"])
    p.add_argument("key_id", nargs="?")
    p.set_defaults(func=cmd_keys)

    p = sub.add_parser("tokens", help="API tokens: list, create USER NAME [--scope write], revoke ID")
    p.add_argument("action", choices=["list", "create", "revoke"])
    p.add_argument("user", nargs="?", help="user name (create) or token id (revoke)")
    p.add_argument("name", nargs="?")
    p.add_argument("--scope", choices=["read", "write"], default="read")
    p.set_defaults(func=cmd_tokens)

    p = sub.add_parser("outbox", help="outbound mail: list [--status S], send (due now) or retry ID...")
    p.add_argument("action", choices=["list", "send", "retry"])
    p.add_argument("ids", nargs="*", type=int, metavar="ID")
    p.add_argument("--status", choices=["queued", "sending", "sent", "deferred", "failed"])
    p.set_defaults(func=cmd_outbox)

    p = sub.add_parser(
        "quarantine",
        help="quarantined mail: list, release ID, delete ID, allow ID (its sender), purge (after the retention)",
    )
    p.add_argument("action", choices=["list", "release", "delete", "allow", "purge"])
    p.add_argument("id", nargs="?", metavar="ID", help="ledger id or tracking id (release, delete)")
    p.add_argument("--cause", help="list: only this cause")
    p.add_argument("--sender", help="list: sender address containing this")
    p.add_argument("--by", metavar="USER", help="release, delete: the user recorded (default: you, command line)")
    p.add_argument("--days", type=int, help="purge: retention in days (default POSTROOM_QUARANTINE_RETENTION_DAYS)")
    p.add_argument("--mailbox-only", action="store_true", help="allow: only for the message's mailbox")
    p.add_argument("--skip-auth", action="store_true", help="allow: also when sender authentication fails")
    p.set_defaults(func=cmd_quarantine)

    add_senders_command(sub)  # postroom senders list|allow|block|remove (cli_senders.py)
    add_metrics_command(sub)  # postroom metrics (cli_metrics.py)

    p = sub.add_parser("mailboxes", help="mailboxes: list, or test ID (connect to its servers and report)")
    p.add_argument("action", choices=["list", "test"])
    p.add_argument("id", nargs="?", type=int, metavar="ID")
    p.set_defaults(func=cmd_mailboxes)

    p = sub.add_parser("manage", help="run a Django management command")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_manage)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="postroom", description="Postroom: the email service desk.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("inspect", help="print what the parser derives from mail files, one JSON object each")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=cmd_inspect, django=False)

    p = sub.add_parser("init", help="create or migrate the database and the first admin")
    p.add_argument("--admin", default="admin", help="user name of the first admin (default: admin)")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("up", help="embedded mode: web, SMTP listener, worker and sweeper in one process")
    p.add_argument("--web-port", type=int)
    p.add_argument("--smtp-port", type=int)
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("import", help="import .eml files, mbox files and Maildir folders")
    p.add_argument("paths", nargs="+")
    p.add_argument("--queue-only", action="store_true", help="only store and enqueue; workers process later")
    p.add_argument("-v", "--verbose", action="store_true", help="log every message, not only the summary")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("replay", help="send quarantined or failed messages through the pipeline again")
    p.add_argument("ids", nargs="+", type=int, metavar="ID")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("work", help="embedded worker: process the ledger until stopped")
    p.add_argument("--once", action="store_true", help="exit when nothing is left to do")
    p.set_defaults(func=cmd_work)

    p = sub.add_parser("listen", help="run only the SMTP/LMTP listener")
    p.add_argument("--port", type=int)
    p.set_defaults(func=cmd_listen)

    p = sub.add_parser("poll", help="read IMAP mailboxes (IDLE or polling), each held by one live poller")
    p.add_argument("--heartbeat", type=float, help="seconds between lease renewals (POSTROOM_POLLER_HEARTBEAT_SECONDS)")
    p.set_defaults(func=cmd_poll)

    p = sub.add_parser("worker", help="distributed mode: a Celery worker")
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--loglevel", default="INFO")
    p.add_argument("--hostname")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("scheduler", help="distributed mode: re-send work that crashed workers left behind")
    p.add_argument("--interval", type=float, default=15.0)
    p.set_defaults(func=cmd_scheduler)

    _add_admin_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "django", True):
            setup_django()
        return int(args.func(args))
    except CommandError as e:
        print(f"postroom {args.command}: {e}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # one line for the user; the details go to the log
        return report_unexpected(args.command, e)


def report_unexpected(command: str, error: Exception) -> int:
    from postroom.conf.env import ConfigError

    if isinstance(error, ConfigError):
        print(f"postroom {command}: configuration error: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        from django.db import DatabaseError

        if isinstance(error, DatabaseError):
            print(f"postroom {command}: database error: {str(error).strip().splitlines()[0]}", file=sys.stderr)
            return EXIT_FAILED
    except ImportError:  # pragma: no cover - Django is a dependency
        pass
    import logging

    logging.getLogger("postroom.cli").debug("unexpected error", exc_info=error)
    print(f"postroom {command}: {type(error).__name__}: {error}", file=sys.stderr)
    return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
