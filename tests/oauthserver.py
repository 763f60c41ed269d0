"""An OAuth 2.0 authorization server for tests, on loopback: authorize, token, introspection and discovery.

Served by a threaded `http.server`, like the introspection endpoint of ../shared/reference/services.md section 1b,
and grown into a small but strict provider:

- `GET /authorize` (RFC 6749 section 4.1.1, PKCE S256 of RFC 7636) issues a one-time code for `consent_user` and
  redirects back with it and the state;
- `POST /token` takes grant_type authorization_code (checks the code, redirect_uri and code_verifier),
  refresh_token (rotates: every refresh issues a new refresh token and revokes the old one) and client_credentials
  (issued for the client's `app_user`); clients authenticate with client_secret_post or, public, not at all;
  errors are RFC 6749 section 5.2 JSON (`invalid_grant`, `invalid_client`);
- `POST /introspect` (RFC 7662) answers what Dovecot's oauth2 passdb asks: `active` and `username`; a token is
  active until it expires or is revoked;
- `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0) names those endpoints.

Tests issue, expire and revoke tokens directly (`issue_refresh_token`, `expire_access_tokens`, `revoke`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qs, urlencode, urlsplit

HOST: Final = "127.0.0.1"
ACCESS_LIFETIME_SECONDS: Final = 3600


@dataclass
class Client:
    client_id: str
    secret: str = ""  # empty: a public client (PKCE only)
    app_user: str = ""  # whose mailbox a client-credentials token opens


@dataclass
class Issued:
    user: str
    client_id: str
    expires_at: float = 0.0  # access tokens only
    revoked: bool = False


@dataclass
class PendingCode:
    user: str
    client_id: str
    redirect_uri: str
    challenge: str


@dataclass
class OAuthState:
    clients: dict[str, Client] = field(default_factory=dict)
    access: dict[str, Issued] = field(default_factory=dict)
    refresh: dict[str, Issued] = field(default_factory=dict)
    codes: dict[str, PendingCode] = field(default_factory=dict)
    consent_user: str = ""
    access_lifetime: int = ACCESS_LIFETIME_SECONDS
    token_requests: list[str] = field(default_factory=list)  # grant_type of each POST /token
    introspections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def s256(verifier: str) -> str:
    """RFC 7636 section 4.2: BASE64URL(SHA256(ASCII(code_verifier))) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _reply(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        return {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/.well-known/openid-configuration":
            base = self.server.base_url
            self._reply(
                200,
                {
                    "issuer": base,
                    "authorization_endpoint": f"{base}/authorize",
                    "token_endpoint": f"{base}/token",
                    "introspection_endpoint": f"{base}/introspect",
                    "code_challenge_methods_supported": ["S256"],
                },
            )
        elif parts.path == "/authorize":
            self._authorize({k: v[0] for k, v in parse_qs(parts.query).items()})
        else:
            self._reply(404, {"error": "not_found"})

    def do_POST(self) -> None:
        if self.path == "/token":
            self._token(self._form())
        elif self.path == "/introspect":
            self._introspect(self._form())
        else:
            self._reply(404, {"error": "not_found"})

    def _authorize(self, query: dict[str, str]) -> None:
        state = self.server.state
        client = state.clients.get(query.get("client_id", ""))
        if client is None or query.get("response_type") != "code" or query.get("code_challenge_method") != "S256":
            self._reply(400, {"error": "invalid_request"})
            return
        code = secrets.token_urlsafe(24)
        with state.lock:
            state.codes[code] = PendingCode(
                state.consent_user, client.client_id, query.get("redirect_uri", ""), query.get("code_challenge", "")
            )
        target = query.get("redirect_uri", "") + "?" + urlencode({"code": code, "state": query.get("state", "")})
        self.send_response(302)
        self.send_header("Location", target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _token(self, form: dict[str, str]) -> None:
        state = self.server.state
        grant_type = form.get("grant_type", "")
        with state.lock:
            state.token_requests.append(grant_type)
            client = state.clients.get(form.get("client_id", ""))
            if client is None or form.get("client_secret", "") != client.secret:
                self._reply(401, {"error": "invalid_client", "error_description": "unknown client or wrong secret"})
                return
            if grant_type == "authorization_code":
                pending = state.codes.pop(form.get("code", ""), None)
                if (
                    pending is None
                    or pending.client_id != client.client_id
                    or pending.redirect_uri != form.get("redirect_uri")
                    or pending.challenge != s256(form.get("code_verifier", ""))
                ):
                    self._reply(400, {"error": "invalid_grant", "error_description": "bad code or code_verifier"})
                    return
                self._reply(200, self.server.issue(pending.user, client.client_id, with_refresh=True))
            elif grant_type == "refresh_token":
                old = state.refresh.get(form.get("refresh_token", ""))
                if old is None or old.revoked or old.client_id != client.client_id:
                    self._reply(400, {"error": "invalid_grant", "error_description": "refresh token revoked"})
                    return
                old.revoked = True  # rotation: the old refresh token never works again
                self._reply(200, self.server.issue(old.user, client.client_id, with_refresh=True))
            elif grant_type == "client_credentials":
                if not client.secret or not client.app_user:
                    self._reply(400, {"error": "unauthorized_client"})
                    return
                self._reply(200, self.server.issue(client.app_user, client.client_id, with_refresh=False))
            else:
                self._reply(400, {"error": "unsupported_grant_type"})

    def _introspect(self, form: dict[str, str]) -> None:
        state = self.server.state
        token = form.get("token", "")
        auth = self.headers.get("Authorization", "")
        if not token and auth.startswith("Bearer "):
            token = auth[7:]
        with state.lock:
            state.introspections += 1
            issued = state.access.get(token)
            active = issued is not None and not issued.revoked and issued.expires_at > time.time()
        if active and issued is not None:
            self._reply(200, {"active": True, "username": issued.user, "client_id": issued.client_id})
        else:
            self._reply(200, {"active": False})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__((HOST, 0), _Handler)
        self.state = OAuthState()

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}"

    def issue(self, user: str, client_id: str, *, with_refresh: bool) -> dict[str, Any]:
        """New tokens (caller holds the state lock): the token response body of RFC 6749 section 5.1."""
        access = "at-" + secrets.token_urlsafe(24)
        lifetime = self.state.access_lifetime
        self.state.access[access] = Issued(user, client_id, time.time() + lifetime)
        body: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": lifetime}
        if with_refresh:
            refresh = "rt-" + secrets.token_urlsafe(24)
            self.state.refresh[refresh] = Issued(user, client_id)
            body["refresh_token"] = refresh
        return body


class OAuthTestServer:
    """The running server; use as a context manager (or through `serve_oauth`)."""

    def __init__(self) -> None:
        self._server = _Server()
        self._thread = threading.Thread(target=self._server.serve_forever, name="oauth-test-server", daemon=True)

    @property
    def state(self) -> OAuthState:
        return self._server.state

    @property
    def base_url(self) -> str:
        return self._server.base_url

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    @property
    def authorize_url(self) -> str:
        return f"{self.base_url}/authorize"

    @property
    def introspection_url(self) -> str:
        return f"{self.base_url}/introspect"

    def add_client(self, client_id: str, secret: str = "", app_user: str = "") -> None:
        with self.state.lock:
            self.state.clients[client_id] = Client(client_id, secret, app_user)

    def issue_refresh_token(self, user: str, client_id: str) -> str:
        """As if `user` had signed in: a refresh token only (its first use yields the access token)."""
        with self.state.lock:
            token = "rt-" + secrets.token_urlsafe(24)
            self.state.refresh[token] = Issued(user, client_id)
            return token

    def issue_access_token(self, user: str, client_id: str, lifetime: float) -> str:
        with self.state.lock:
            token = "at-" + secrets.token_urlsafe(24)
            self.state.access[token] = Issued(user, client_id, time.time() + lifetime)
            return token

    def is_refresh_token_active(self, token: str) -> bool:
        issued = self.state.refresh.get(token)
        return issued is not None and not issued.revoked

    def is_access_token_active(self, token: str) -> bool:
        issued = self.state.access.get(token)
        return issued is not None and not issued.revoked and issued.expires_at > time.time()

    def expire_access_tokens(self) -> None:
        with self.state.lock:
            for issued in self.state.access.values():
                issued.expires_at = 0.0

    def revoke(self, token: str) -> None:
        """Revoke a refresh or access token (an admin withdrew the app's consent)."""
        with self.state.lock:
            for table in (self.state.refresh, self.state.access):
                if token in table:
                    table[token].revoked = True

    def revoke_all(self, user: str) -> None:
        with self.state.lock:
            for table in (self.state.refresh, self.state.access):
                for issued in table.values():
                    if issued.user == user:
                        issued.revoked = True

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def __enter__(self) -> OAuthTestServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_oauth() -> Iterator[OAuthTestServer]:
    """The body of a fixture: `yield from serve_oauth()`."""
    with OAuthTestServer() as server:
        yield server
