"""`postroom senders list|allow|block|remove`: the allow and block lists from the command line.

`allow` and `block` take a pattern (alice@example.com, @example.com, @.example.com) and add it for every mailbox
of the default tenant, or with `--mailbox ID` for that mailbox (and its tenant) only; `remove` takes an entry id
from `list`. Registered by postroom.cli; docs/architecture/spam.md.
"""

from __future__ import annotations

import argparse
import sys
from typing import Final

EXIT_USAGE: Final = 2
EXIT_FAILED: Final = 1


def add_senders_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("senders", help="allow and block lists: list, allow PATTERN, block PATTERN, remove ID")
    p.add_argument("action", choices=["list", "allow", "block", "remove"])
    p.add_argument("target", nargs="?", metavar="PATTERN|ID", help="address, @domain or @.domain; an id to remove")
    p.add_argument("--mailbox", type=int, metavar="ID", help="allow, block: only for this mailbox; list: only its")
    p.add_argument("--skip-auth", action="store_true", help="allow: also when sender authentication fails")
    p.add_argument("--note", default="", help="allow, block: why (shown in the console)")
    p.set_defaults(func=cmd_senders)


def cmd_senders(args: argparse.Namespace) -> int:
    if args.action == "list":
        return _list(args.mailbox)
    if not args.target:
        return _usage(f"postroom senders {args.action} {'ID' if args.action == 'remove' else 'PATTERN'}")
    if args.action == "remove":
        return _remove(args.target)
    if args.skip_auth and args.action != "allow":
        return _usage("postroom senders: --skip-auth goes with allow only")
    return _add(args)


def _list(mailbox_id: int | None) -> int:
    from postroom.inbound.models import SenderListEntry

    entries = SenderListEntry.objects.select_related("mailbox").order_by("kind", "pattern", "id")
    if mailbox_id is not None:
        entries = entries.filter(mailbox_id=mailbox_id)
    for entry in entries:
        scope = entry.mailbox.name if entry.mailbox else "every mailbox"
        auth = "skip-auth" if entry.skip_auth else "-"
        print(f"{entry.pk}\t{entry.kind}\t{entry.pattern}\t{scope}\t{auth}\t{entry.note[:60]}")
    return 0


def _remove(target: str) -> int:
    from postroom.inbound.models import SenderListEntry

    if not target.isdigit():
        return _usage("postroom senders remove ID (an id from `postroom senders list`)")
    deleted, _ = SenderListEntry.objects.filter(pk=int(target)).delete()
    if not deleted:
        print(f"postroom senders: no entry {target}", file=sys.stderr)
        return EXIT_FAILED
    print(f"removed: {target}")
    return 0


def _add(args: argparse.Namespace) -> int:
    from django.core.exceptions import ValidationError

    from postroom.inbound.models import ListKind, SenderListEntry
    from postroom.inbound.sender_list_admin import save_entry
    from postroom.mailboxes.models import Mailbox
    from postroom.tenants.services import get_default_tenant

    mailbox = None
    if args.mailbox is not None:
        mailbox = Mailbox.objects.filter(pk=args.mailbox).first()
        if mailbox is None:
            return _usage(f"postroom senders: no mailbox {args.mailbox} (see `postroom mailboxes list`)")
    entry = SenderListEntry(
        tenant=mailbox.tenant if mailbox is not None else get_default_tenant(),
        pattern=args.target,
        kind=ListKind.ALLOW if args.action == "allow" else ListKind.BLOCK,
        mailbox=mailbox,
        skip_auth=args.skip_auth,
        note=args.note,
    )
    try:
        save_entry(entry)
    except ValidationError as e:
        print(f"postroom senders: {'; '.join(e.messages)}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{entry.pk}\t{entry.kind}\t{entry.pattern}\t{mailbox.name if mailbox else 'every mailbox'}")
    return 0


def _usage(message: str) -> int:
    print(f"usage: {message}", file=sys.stderr)
    return EXIT_USAGE
