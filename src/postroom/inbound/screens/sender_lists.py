"""The allow and block lists: a blocked sender is held as `blocklisted`, an allowed one skips the spam score.

Addresses checked: the From address, the requester (From, else Reply-To, Sender, the envelope) and the envelope
sender. A block entry for any of them holds the message; otherwise an allow entry for the first of them (the From
address, which DMARC authenticates) sets `ctx.allow_listed`, and `ctx.skip_auth` when the entry says so: an
allow-listed sender still faces sender authentication unless the admin chose otherwise.

Precedence: the mailbox's own entries before the entries for every mailbox; within each, the address, then the
address without its plus-tag, then its domain (`@example.com`), then the domain and its parents with subdomains
(`@.mail.example.com`, `@.example.com`). The entries are read once per few seconds per process (core/localcache.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from django.db.models import Q

from postroom.core.localcache import TtlCache
from postroom.inbound.context import InboundContext
from postroom.inbound.models import ListKind, QuarantineCause, SenderListEntry
from postroom.inbound.screening import Finding
from postroom.mail.recipients import strip_plus_tag

NAME: Final = "sender_lists"


@dataclass(frozen=True, slots=True)
class ListedSender:
    """One entry as the screen needs it (no model instance kept in the cache)."""

    id: int
    pattern: str
    kind: str
    for_mailbox: bool
    skip_auth: bool

    def describe(self) -> str:
        scope = "this mailbox's" if self.for_mailbox else "the"
        return f"{scope} {self.kind} list ({self.pattern}, entry {self.id})"


@dataclass(frozen=True, slots=True)
class SenderLists:
    """The entries that apply to one mailbox: its own, and those for every mailbox, by pattern."""

    own: Mapping[str, ListedSender] = field(default_factory=dict)
    shared: Mapping[str, ListedSender] = field(default_factory=dict)


def list_sender_keys(address: str) -> tuple[str, ...]:
    """Most specific first: the address, without its plus-tag, its domain, then the domain and each parent with
    subdomains (`@.a.example.com`, `@.example.com`, `@.com`)."""
    address = address.strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return ()
    keys = [address]
    base = strip_plus_tag(address)
    if base != address:
        keys.append(base)
    keys.append("@" + domain)
    labels = domain.split(".")
    keys += ["@." + ".".join(labels[i:]) for i in range(len(labels))]
    return tuple(dict.fromkeys(keys))


def load_sender_lists(tenant_id: int, mailbox_id: int | None) -> SenderLists:
    scope = Q(mailbox__isnull=True) | Q(mailbox_id=mailbox_id) if mailbox_id is not None else Q(mailbox__isnull=True)
    own: dict[str, ListedSender] = {}
    shared: dict[str, ListedSender] = {}
    rows = SenderListEntry.objects.filter(scope, tenant_id=tenant_id)
    for entry_id, pattern, kind, entry_mailbox, skip_auth in rows.values_list(
        "id", "pattern", "kind", "mailbox_id", "skip_auth"
    ):
        listed = ListedSender(entry_id, pattern, kind, entry_mailbox is not None, skip_auth and kind == ListKind.ALLOW)
        (own if entry_mailbox is not None else shared)[pattern] = listed
    return SenderLists(own=own, shared=shared)


_lists_cache: TtlCache[tuple[int, int | None], SenderLists] = TtlCache()


def find_sender_entry(lists: SenderLists, address: str) -> ListedSender | None:
    keys = list_sender_keys(address)
    for table in (lists.own, lists.shared):
        for key in keys:
            found = table.get(key)
            if found is not None:
                return found
    return None


def list_checked_addresses(ctx: InboundContext) -> list[str]:
    """From, requester, envelope sender: lower case, each once, in that order."""
    parsed = ctx.parsed
    candidates = [
        parsed.from_.address if parsed is not None and parsed.from_ is not None else "",
        ctx.requester.address if ctx.requester is not None else "",
        ctx.inbound.envelope_from,
    ]
    return list(dict.fromkeys(address.strip().lower() for address in candidates if address and "@" in address))


def check(ctx: InboundContext) -> Finding | None:
    mailbox_id = ctx.mailbox.pk if ctx.mailbox is not None else None
    lists = _lists_cache.get_or_load((ctx.tenant.pk, mailbox_id), lambda: load_sender_lists(ctx.tenant.pk, mailbox_id))
    if not lists.own and not lists.shared:
        return None
    addresses = list_checked_addresses(ctx)
    found = [(address, find_sender_entry(lists, address)) for address in addresses]
    for address, entry in found:
        if entry is not None and entry.kind == ListKind.BLOCK:
            return Finding(
                reason=f"sender {address} is on {entry.describe()}",
                data={"sender_list": "block", "sender_list_entry": entry.id, "sender_list_pattern": entry.pattern},
                hold=QuarantineCause.BLOCKLISTED,
            )
    address, allowed = found[0] if found else ("", None)
    if allowed is None:  # no entry for the From address (a block entry would have held the message above)
        return None
    ctx.allow_listed = True
    ctx.skip_auth = allowed.skip_auth
    skip = "; sender authentication skipped" if allowed.skip_auth else "; sender authentication still applies"
    return Finding(
        reason=f"sender {address} is on {allowed.describe()}: not scored for spam{skip}",
        data={
            "sender_list": "allow",
            "sender_list_entry": allowed.id,
            "sender_list_pattern": allowed.pattern,
            "skip_auth": "yes" if allowed.skip_auth else "no",
        },
    )
