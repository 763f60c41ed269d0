"""Create, check and revoke personal access tokens (postroom.accounts.models.ApiToken)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Final

from django.contrib.auth.models import User
from django.utils import timezone

from postroom.accounts.models import ApiToken, TokenScope

TOKEN_PREFIX: Final = "pr_"  # noqa: S105 - a public marker, not a secret
PREFIX_BYTES: Final = 5  # 10 hex digits (never "_", which separates the parts): the public part finding the row
SECRET_BYTES: Final = 32  # 256 bits: not guessable, so a fast hash (SHA-256) is enough to store it
LAST_USED_RESOLUTION: Final = dt.timedelta(minutes=5)  # avoid a write on every request


@dataclass(frozen=True, slots=True)
class IssuedToken:
    row: ApiToken
    token: str  # shown once; only its hash is stored


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    user: User, name: str, scope: str = TokenScope.READ, expires_at: dt.datetime | None = None
) -> IssuedToken:
    if scope not in TokenScope.values:
        raise ValueError(f"unknown scope {scope!r}: use read or write")
    prefix = secrets.token_hex(PREFIX_BYTES)
    token = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    row = ApiToken.objects.create(
        user=user, name=name[:100], prefix=prefix, token_hash=_hash(token), scope=scope, expires_at=expires_at
    )
    return IssuedToken(row, token)


def find_valid_token(token: str) -> ApiToken | None:
    """The token's row when it is genuine, not revoked, not expired and its user active; else None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    prefix, _, secret = token[len(TOKEN_PREFIX) :].partition("_")
    if not prefix or not secret:
        return None
    row = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if row is None or not hmac.compare_digest(row.token_hash, _hash(token)):
        return None
    now = timezone.now()
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now) or not row.user.is_active:
        return None
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row


def revoke_token(token_id: int) -> bool:
    return bool(ApiToken.objects.filter(pk=token_id, revoked_at__isnull=True).update(revoked_at=timezone.now()))
