"""The HTTP layer under exchangelib for one EWS mailbox: verified TLS, pinned addresses, bounded back-off, tokens.

exchangelib builds its `requests` sessions from class attributes of its `Protocol` (`HTTP_ADAPTER_CLS`, `TIMEOUT`)
and caches one Protocol per (endpoint, credentials) for the whole process. A per-mailbox CA bundle and the SSRF
guard's checked addresses cannot go through that cache or through a process-wide adapter class without leaking into
other mailboxes, so each session gets its own Protocol subclass (built here, never registered in exchangelib's cache)
whose adapter class carries that mailbox's TLS context and addresses. Nothing global is patched.

- TLS: always `CERT_REQUIRED` with the context of `build_tls_context` (system store plus the optional CA bundle,
  host name checked, TLS 1.2+); `verify=False` on a session cannot turn it off, because the adapter ignores it.
- Addresses: the connection goes to the addresses the SSRF guard checked (netguard), while SNI and the certificate
  check use the host name of the URL, so a second DNS answer cannot move the connection elsewhere; the process's
  proxy variables and .netrc are ignored (`trust_env` off); a mailbox's own proxy (POSTROOM_PROXIES, setting
  `proxy`) is asked for a tunnel to those checked addresses instead, TLS still end to end.
- Throttling: Exchange answers ErrorServerBusy with BackOffMilliseconds (EWS throttling in Exchange, "Back off"
  guidance); exchangelib's fault-tolerant policy sleeps that long before the next request. `BoundedBackoff` caps a
  single wait at `max_wait` seconds (beyond it the cycle fails and the poller retries later), and treats HTTP 401 as
  a login failure at once: exchangelib's fault-tolerant policy would otherwise retry 401s as throttling for an hour.
"""

from __future__ import annotations

import random
import ssl
from collections.abc import Sequence
from typing import Any, ClassVar

import requests
import requests.adapters
from exchangelib.errors import UnauthorizedError
from exchangelib.protocol import FaultTolerance, Protocol
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

from postroom.mail.transport.proxy import ProxySettings, ProxyTunnelError, open_tunnel
from postroom.mail.transport.token_source import TokenSource

PROXY_TIMEOUT_SECONDS = 60.0  # a tunnel's connect timeout when urllib3 gives none


class BoundedBackoff(FaultTolerance):  # type: ignore[misc]  # exchangelib is untyped
    """Honour the server's requested back-off up to `max_wait` seconds per wait; a 401 is a login failure at once."""

    def raise_response_errors(self, response: requests.Response) -> None:
        if response.status_code == 401:
            raise UnauthorizedError("the server refused the login (HTTP 401)")
        super().raise_response_errors(response)


class BearerAuth(requests.auth.AuthBase):
    """`Authorization: Bearer` (RFC 6750) from a TokenSource, asked on every request so a refreshed token is used."""

    def __init__(self, tokens: TokenSource) -> None:
        self.tokens = tokens

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.tokens.access_token()}"
        return request


class _PinnedMixin:
    """A urllib3 connection that dials the checked addresses in order instead of resolving its host again."""

    pinned_addresses: ClassVar[tuple[str, ...]] = ()
    tunnel_proxy: ClassVar[ProxySettings | None] = None  # not `proxy`: urllib3 connections have one of their own
    _dns_host: str
    port: int
    timeout: Any

    def _new_conn(self) -> Any:
        last: NewConnectionError | None = None
        for address in self.pinned_addresses:
            self._dns_host = address  # urllib3 dials _dns_host; SNI and the certificate check use `host`
            try:
                if self.tunnel_proxy is not None:  # a tunnel to the checked address; urllib3 wraps TLS as usual
                    timeout = self.timeout if isinstance(self.timeout, int | float) else PROXY_TIMEOUT_SECONDS
                    return open_tunnel(self.tunnel_proxy, address, self.port, timeout)
                return super()._new_conn()  # type: ignore[misc]
            except ProxyTunnelError as e:
                last = NewConnectionError(self, str(e))  # type: ignore[arg-type]
            except NewConnectionError as e:
                last = e
        if last is None:
            raise NewConnectionError(self, "no checked address to connect to")  # type: ignore[arg-type]
        raise last


class GuardedAdapter(requests.adapters.HTTPAdapter):
    """An adapter whose pools always verify with `tls_context` and connect to `pinned_addresses` only."""

    tls_context: ClassVar[ssl.SSLContext | None] = None
    pinned_addresses: ClassVar[tuple[str, ...]] = ()
    proxy: ClassVar[ProxySettings | None] = None

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        pinned = {"pinned_addresses": type(self).pinned_addresses, "tunnel_proxy": type(self).proxy}
        https_connection = type("PinnedHTTPSConnection", (_PinnedMixin, HTTPSConnection), pinned)
        http_connection = type("PinnedHTTPConnection", (_PinnedMixin, HTTPConnection), pinned)
        self.poolmanager.pool_classes_by_scheme = {
            "https": type("PinnedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_connection}),
            "http": type("PinnedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_connection}),
        }

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, True, cert)
        for key in ("ca_certs", "ca_cert_dir"):
            pool_kwargs.pop(key, None)
        context = type(self).tls_context
        if context is not None:
            pool_kwargs["ssl_context"] = context
        pool_kwargs["cert_reqs"] = "CERT_REQUIRED"
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        """Always verify, against the context only (requests would otherwise add its own bundle or honour False)."""
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None


def build_protocol_class(
    context: ssl.SSLContext | None,
    addresses: Sequence[str],
    timeout_seconds: float,
    tokens: TokenSource | None = None,
    *,
    proxy: ProxySettings | None = None,
) -> type[Protocol]:
    """A Protocol subclass for one session: its adapters verify with `context` and dial `addresses` only.

    With `tokens`, every session sends the TokenSource's bearer token (exchangelib's own OAuth classes fetch tokens
    themselves, from Microsoft's endpoints only; ours come from the OAuth service).
    """
    adapter = type(
        "PostroomEwsAdapter",
        (GuardedAdapter,),
        {"tls_context": context, "pinned_addresses": tuple(addresses), "proxy": proxy},
    )
    attributes: dict[str, object] = {
        "HTTP_ADAPTER_CLS": adapter,
        "TIMEOUT": timeout_seconds,
        "RETRY_WAIT": 10,
        "raw_session": classmethod(_raw_session_without_environment),
    }
    if tokens is not None:
        attributes["create_session"] = _bearer_session_factory(tokens)
    return type("PostroomEwsProtocol", (Protocol,), attributes)


def _raw_session_without_environment(cls: Any, prefix: str, *args: Any, **kwargs: Any) -> requests.Session:
    """exchangelib's session with `trust_env` off: an HTTPS_PROXY or .netrc of the process must not reroute it past
    the pinned addresses or add credentials (proxies are chosen per mailbox, never by the environment)."""
    session: requests.Session = Protocol.raw_session.__func__(cls, prefix, *args, **kwargs)
    session.trust_env = False
    return session


def _bearer_session_factory(tokens: TokenSource) -> Any:
    def create_session(self: Any) -> requests.Session:
        session = self.raw_session(self.service_endpoint)
        session.auth = BearerAuth(tokens)
        session.session_id = random.randint(10000, 99999)  # noqa: S311 (exchangelib's debug id, not a secret)
        session.usage_count = 0
        return session  # type: ignore[no-any-return]

    return create_session


def instantiate_protocol(protocol_class: type[Protocol], config: Any) -> Protocol:
    """A new protocol object outside exchangelib's process-wide cache (its metaclass would share it by endpoint)."""
    return type.__call__(protocol_class, config=config)
