"""`postroom import`: take messages from files into the ledger, then process them."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from postroom.inbound.services import IncomingMessage, process_inbound, receive_messages
from postroom.mail.errors import SenderError
from postroom.mail.sources import iter_messages
from postroom.tenants.models import Tenant
from postroom.tenants.services import get_default_tenant

log = logging.getLogger(__name__)

# Messages per durable commit (group commit: one WAL flush for the batch; each raw blob is still fsynced first).
# Importing and processing in one process: small batches, since a message waits for its batch-mates before it is
# processed (ledger latency); --queue-only: larger ones, the workers process while the next batch is read.
BATCH_WHEN_PROCESSING: Final = 8
BATCH_WHEN_QUEUEING: Final = 50
BATCH_MAX_BYTES: Final = 32 * 1024 * 1024  # the raw bytes a batch may hold in memory


@dataclass(slots=True)
class ImportSummary:
    read: int = 0
    already_known: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    unreadable: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.unreadable) + self.statuses["failed"]

    def render(self) -> str:
        parts = [f"{self.read} read", f"{self.already_known} already imported"]
        parts += [f"{count} {status}" for status, count in sorted(self.statuses.items())]
        if self.unreadable:
            parts.append(f"{len(self.unreadable)} unreadable")
        return ", ".join(parts)


def import_paths(paths: Iterable[Path], *, process: bool = True) -> ImportSummary:
    summary = ImportSummary()
    tenant = get_default_tenant()
    limit = BATCH_WHEN_PROCESSING if process else BATCH_WHEN_QUEUEING
    pending: list[IncomingMessage] = []
    pending_bytes = 0
    for path in paths:
        try:
            for item in iter_messages(path):
                summary.read += 1
                pending.append(IncomingMessage(item.raw, source_kind="import"))
                pending_bytes += len(item.raw)
                if len(pending) >= limit or pending_bytes >= BATCH_MAX_BYTES:
                    receive_batch(pending, tenant, summary, process=process)
                    pending, pending_bytes = [], 0
        except (SenderError, OSError) as e:
            summary.unreadable.append(str(e))
    receive_batch(pending, tenant, summary, process=process)
    return summary


def receive_batch(batch: list[IncomingMessage], tenant: Tenant, summary: ImportSummary, *, process: bool) -> None:
    """Commit the batch's ledger rows together, then (without --queue-only) process the new ones in order."""
    if not batch:
        return
    try:
        results = receive_messages(batch, tenant=tenant, enqueue=not process)
    except OSError as e:  # the blob store refused (disk full, permissions): nothing of the batch was committed
        summary.unreadable.append(str(e))
        return
    for result in results:
        if not result.created:
            summary.already_known += 1
        elif process:
            # None: still `received` after processing, our fault; the row keeps the error for a retry.
            status = process_inbound(result.inbound_id)
            summary.statuses[status or "failed"] += 1
        else:
            summary.statuses["queued"] += 1
