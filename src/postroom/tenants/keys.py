"""The tenant's threading keys: the one that signs new outbound mail and every key that still verifies."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Final

from django.db import transaction
from django.utils import timezone

from postroom.core.localcache import TtlCache
from postroom.tenants.models import Tenant, ThreadingKey

KEY_BYTES: Final = 32  # HMAC-SHA256 keys as long as the hash output (RFC 2104 section 3)


@dataclass(frozen=True, slots=True)
class KeyRing:
    signing_key_id: str
    keys: dict[str, bytes]  # every key that still verifies, including the signing one
    retired: frozenset[str]  # retired key ids: tokens under them are recognised but no longer trusted

    @property
    def signing_key(self) -> bytes:
        return self.keys[self.signing_key_id]


_ring_cache: TtlCache[int, KeyRing] = TtlCache()


def _decode(row: ThreadingKey) -> bytes:
    return base64.b64decode(row.secret["secret"])


def _next_key_id(tenant: Tenant) -> str:
    taken = set(ThreadingKey.objects.filter(tenant=tenant).values_list("key_id", flat=True))
    number = len(taken) + 1
    while f"k{number}" in taken:
        number += 1
    return f"k{number}"


def rotate_threading_key(tenant: Tenant) -> ThreadingKey:
    """Make a fresh key the signing key; older keys keep verifying until retired."""
    with transaction.atomic():
        Tenant.objects.select_for_update().get(pk=tenant.pk)  # one rotation at a time per tenant
        secret = base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()
        row = ThreadingKey.objects.create(tenant=tenant, key_id=_next_key_id(tenant), secret={"secret": secret})  # type: ignore[misc]  # an encrypted JSON object
    _ring_cache.clear()
    return row


def retire_threading_key(tenant: Tenant, key_id: str) -> None:
    """Stop trusting tokens signed with this key (e.g. after it leaked); the signing key cannot be retired."""
    ring = get_key_ring(tenant)
    if key_id == ring.signing_key_id:
        raise ValueError(f"{key_id} signs new mail; rotate first, then retire it")
    updated = ThreadingKey.objects.filter(tenant=tenant, key_id=key_id, retired_at__isnull=True).update(
        retired_at=timezone.now()
    )
    if not updated:
        raise ValueError(f"no active threading key {key_id}")
    _ring_cache.clear()


def _load_ring(tenant: Tenant) -> KeyRing:
    rows = list(ThreadingKey.objects.filter(tenant=tenant).order_by("-created_at", "-id"))
    active = [row for row in rows if row.retired_at is None]
    if not active:
        rotate_threading_key(tenant)
        return _load_ring(tenant)
    return KeyRing(
        signing_key_id=active[0].key_id,
        keys={row.key_id: _decode(row) for row in active},
        retired=frozenset(row.key_id for row in rows if row.retired_at is not None),
    )


def get_key_ring(tenant: Tenant) -> KeyRing:
    """The tenant's keys (created on first use), cached for a few seconds per process."""
    return _ring_cache.get_or_load(tenant.pk, lambda: _load_ring(tenant))
