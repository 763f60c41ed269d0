"""One-time sign-in links: a random token mailed to the requester, only its SHA-256 stored, spent on first use.

A token has 256 bits from `secrets` (`token_urlsafe(32)`), so guessing one is hopeless and a plain hash suffices
(no salt or slow hash: there is no low-entropy secret to protect, unlike a password). Spending is one conditional
UPDATE, so two requests racing with the same token cannot both sign in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Final

from django.db import transaction

from postroom.portal.models import SignInLink
from postroom.tickets.models import Contact

TOKEN_BYTES: Final = 32  # 256 bits of randomness, 43 URL-safe characters
MAX_TOKEN_CHARS: Final = 100  # anything longer is not one of ours; not worth hashing


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_link(contact: Contact, now: dt.datetime, lifetime: dt.timedelta) -> str:
    """Store a new link's hash for `contact` and return the token (the only copy: it goes into the mail)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    SignInLink.objects.create(
        tenant_id=contact.tenant_id, contact=contact, token_hash=hash_token(token), expires_at=now + lifetime
    )
    return token


def _usable(token: str, now: dt.datetime) -> dict[str, object] | None:
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    return {"token_hash": hash_token(token), "used_at__isnull": True, "expires_at__gt": now}


def is_link_usable(token: str, now: dt.datetime) -> bool:
    """Whether the token would sign someone in now (read only: showing the "Continue" page spends nothing)."""
    conditions = _usable(token, now)
    return conditions is not None and SignInLink.objects.filter(**conditions).exists()


def spend_link(token: str, now: dt.datetime) -> Contact | None:
    """Spend the link and return its contact; None when the token is unknown, expired or already used.

    The contact's other unused links are revoked at the same time: one sign-in ends every link in flight."""
    conditions = _usable(token, now)
    if conditions is None:
        return None
    with transaction.atomic():
        if SignInLink.objects.filter(**conditions).update(used_at=now) != 1:
            return None
        link = SignInLink.objects.select_related("contact").get(token_hash=conditions["token_hash"])
        SignInLink.objects.filter(contact_id=link.contact_id, used_at__isnull=True).update(used_at=now)
        return link.contact


def purge_old_links(before: dt.datetime) -> int:
    """Delete links that expired before `before` (they can never be used; keeping them only costs space)."""
    deleted, _ = SignInLink.objects.filter(expires_at__lt=before).delete()
    return deleted
