"""App-only access tokens for Graph: the OAuth 2.0 client-credentials grant of the Microsoft identity platform.

`POST {login_url}/{tenant}/oauth2/v2.0/token` with client_id, client_secret, scope `https://graph.microsoft.com/
.default` and grant_type client_credentials (RFC 6749 section 4.4) answers `{"access_token", "expires_in", ...}`.
The token is kept until a minute before it expires or until `invalidate()` (a 401 from Graph). A TokenSource; the
project's OAuth token service (refresh, storage, health) can stand in for it without touching the Graph client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final
from urllib.parse import quote

import httpx

from postroom.mail.transport.graph_values import DEFAULT_LOGIN_URL, GRAPH_SCOPE, GraphAuthError, GraphConnectionError

EARLY_REFRESH_SECONDS: Final = 60.0  # TokenSource promises a token valid for at least a minute more
TIMEOUT_SECONDS: Final = 30.0


class ClientCredentialsToken:
    """Fetches and caches one application's token for one directory tenant."""

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        login_url: str = DEFAULT_LOGIN_URL,
        scope: str = GRAPH_SCOPE,
        clock: Callable[[], float] = time.monotonic,
        verify: str | bool = True,
        proxy: str | None = None,
    ) -> None:
        self.proxy = proxy
        self.token_url = f"{login_url.rstrip('/')}/{quote(tenant_id, safe='')}/oauth2/v2.0/token"
        self.form = {
            "client_id": client_id,
            "client_secret": client_secret,
            "scope": scope,
            "grant_type": "client_credentials",
        }
        self.clock = clock
        self.verify = verify
        self.lock = threading.Lock()
        self.token = ""
        self.expires = 0.0

    def access_token(self) -> str:
        with self.lock:
            if not self.token or self.clock() >= self.expires - EARLY_REFRESH_SECONDS:
                self.token, self.expires = self._fetch()
            return self.token

    def invalidate(self) -> None:
        with self.lock:
            self.token = ""

    def _fetch(self) -> tuple[str, float]:
        started = self.clock()
        try:
            response = httpx.post(
                self.token_url, data=self.form, timeout=TIMEOUT_SECONDS, verify=self.verify, proxy=self.proxy
            )
        except httpx.HTTPError as e:
            raise GraphConnectionError(f"cannot reach the sign-in service at {self.token_url}: {e}") from e
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        token = body.get("access_token")
        if response.is_success and isinstance(token, str) and token:
            lifetime = body.get("expires_in", 3600)
            seconds = float(lifetime) if isinstance(lifetime, int | float | str) and str(lifetime).isdigit() else 3600
            return token, started + seconds
        code = str(body.get("error") or response.status_code)
        description = str(body.get("error_description") or response.reason_phrase).splitlines()[0][:200]
        raise GraphAuthError(f"the sign-in service refused the app's credentials ({code}): {description}")
