"""Counters every process can bump and any process can read: stored in the database, so the web process, the
workers and the pollers add to the same numbers, and shown in Prometheus' text format (`render_prometheus`).

Names follow Prometheus conventions (`postroom_<what>_total`); labels are few and bounded (a cause, a mailbox
id), never an address or a subject.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from django.db import IntegrityError, transaction
from django.db.models import F

from postroom.core.models import MetricCounter

_NAME: Final = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL: Final = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def format_labels(labels: Mapping[str, str | int]) -> str:
    """`{"kind": "loop"}` -> `kind="loop"`, sorted by name, values escaped as the text format requires."""
    parts = []
    for key in sorted(labels):
        if not _LABEL.fullmatch(key):
            raise ValueError(f"bad metric label name {key!r}")
        value = str(labels[key]).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        parts.append(f'{key}="{value}"')
    return ",".join(parts)


def increment(name: str, labels: Mapping[str, str | int] | None = None, by: int = 1) -> None:
    """Add `by` to the counter; safe under concurrency (an UPDATE with F(), a create on the first bump)."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"bad metric name {name!r}")
    key = format_labels(labels or {})
    if MetricCounter.objects.filter(name=name, labels=key).update(value=F("value") + by):
        return
    try:
        with transaction.atomic():
            MetricCounter.objects.create(name=name, labels=key, value=by)
    except IntegrityError:  # another process created it between our UPDATE and INSERT
        MetricCounter.objects.filter(name=name, labels=key).update(value=F("value") + by)


def read_counter(name: str, labels: Mapping[str, str | int] | None = None) -> int:
    row = MetricCounter.objects.filter(name=name, labels=format_labels(labels or {})).first()
    return row.value if row is not None else 0


def render_prometheus() -> str:
    """Every counter in the Prometheus text exposition format (version 0.0.4)."""
    lines: list[str] = []
    current = ""
    for row in MetricCounter.objects.order_by("name", "labels"):
        if row.name != current:
            current = row.name
            lines.append(f"# TYPE {row.name} counter")
        lines.append(f"{row.name}{{{row.labels}}} {row.value}" if row.labels else f"{row.name} {row.value}")
    return "\n".join(lines) + ("\n" if lines else "")
