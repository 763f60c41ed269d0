"""API authentication: a personal access token (`Authorization: Bearer pr_…`) or the console's session."""

from __future__ import annotations

from typing import Final

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja.security import HttpBearer

from postroom.accounts.models import ApiToken, TokenScope
from postroom.accounts.tokens import find_valid_token

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


class TokenAuth(HttpBearer):
    """A token acts as its user (same role and queues); a read-scoped token may not change anything."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        row = find_valid_token(token)
        if row is None:
            return None
        if request.method not in SAFE_METHODS and row.scope != TokenScope.WRITE:
            raise PermissionDenied("this token may only read")
        request.user = row.user
        return row
