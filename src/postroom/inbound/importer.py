"""`postroom import`: take messages from files into the ledger, then process them."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from postroom.inbound.services import process_inbound, receive_message
from postroom.mail.errors import SenderError
from postroom.mail.sources import iter_messages
from postroom.tenants.services import get_default_tenant

log = logging.getLogger(__name__)


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
    for path in paths:
        try:
            for item in iter_messages(path):
                summary.read += 1
                result = receive_message(item.raw, source_kind="import", tenant=tenant, enqueue=not process)
                if not result.created:
                    summary.already_known += 1
                    continue
                if process:
                    # None: still `received` after processing, our fault; the row keeps the error for a retry.
                    status = process_inbound(result.inbound_id)
                    summary.statuses[status or "failed"] += 1
                else:
                    summary.statuses["queued"] += 1
        except (SenderError, OSError) as e:
            summary.unreadable.append(str(e))
    return summary
