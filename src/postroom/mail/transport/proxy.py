"""Outbound connections through an HTTP CONNECT (RFC 9110 section 9.3.6) or SOCKS5 (RFC 1928, RFC 1929) proxy.

Proxies are the operator's: they are named in POSTROOM_PROXIES (`corp=http://proxy.lan:3128,dmz=socks5://u:p@gw:1080`)
and a mailbox picks one by name (setting `proxy`). A tenant admin therefore cannot point Postroom at an arbitrary
host as a "proxy", and the proxy's credentials never sit in a mailbox's settings.

The proxy is a socket factory passed to the one place mailbox clients open sockets (`netguard.connect_first`), not
a global monkeypatch: each mailbox goes through its own proxy or none. The target is still resolved and checked
by the SSRF guard on the Postroom host, and the proxy is asked for that checked address (no remote DNS), so
the guard holds through the proxy. TLS is end to end: the proxy only sees the encrypted stream.

The SOCKS4 and SOCKS5 handshakes (user/password, RFC 1929) come from python-socks. HTTP CONNECT is written here:
python-socks reads the proxy's answer with one recv() and drops whatever came with it, and SMTP, POP3 and IMAP
without implicit TLS have the server speak first, so its greeting could be swallowed (seen in a test run against
tinyproxy: the SMTP client then waited for a 220 that never came). We read the answer up to its blank line only.
"""

from __future__ import annotations

import base64
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import quote, unquote, urlsplit

from python_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError, ProxyType
from python_socks.sync import Proxy

SCHEMES: Final[dict[str, ProxyType]] = {
    "http": ProxyType.HTTP,
    "socks5": ProxyType.SOCKS5,
    "socks4": ProxyType.SOCKS4,
}
DEFAULT_PORTS: Final = {"http": 3128, "socks5": 1080, "socks4": 1080}


class ProxyConfigError(ValueError):
    """A proxy URL (POSTROOM_PROXIES) or a mailbox's proxy name that cannot work."""


class ProxyTunnelError(OSError):
    """The proxy refused or could not reach the target; the message says which, in one line."""


@dataclass(frozen=True, slots=True)
class ProxySettings:
    name: str
    scheme: str
    host: str
    port: int
    username: str = ""
    password: str = field(default="", repr=False)

    def url(self) -> str:
        """As an HTTP client takes it (httpx `proxy=`): scheme, credentials (quoted) and address."""
        auth = ""
        if self.username:
            auth = quote(self.username, safe="") + (f":{quote(self.password, safe='')}" if self.password else "") + "@"
        return f"{self.scheme}://{auth}{self.host}:{self.port}"

    def describe(self) -> str:
        """For messages and the connection test: never the password."""
        return f"proxy {self.name} ({self.scheme}://{self.host}:{self.port})"


def parse_proxy_url(name: str, url: str) -> ProxySettings:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ProxyConfigError(f"proxy {name}: scheme must be one of {', '.join(SCHEMES)}, not {scheme or 'none'}")
    if not parts.hostname:
        raise ProxyConfigError(f"proxy {name}: the URL has no host")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError as e:
        raise ProxyConfigError(f"proxy {name}: bad port ({e})") from e
    return ProxySettings(
        name=name,
        scheme=scheme,
        host=parts.hostname,
        port=port,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
    )


def parse_proxy_list(value: str) -> dict[str, ProxySettings]:
    """`name=url,name=url` (POSTROOM_PROXIES) -> proxies by name."""
    proxies: dict[str, ProxySettings] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        name, sep, url = item.partition("=")
        name = name.strip()
        if not sep or not name or not url.strip():
            raise ProxyConfigError(f"proxy entry {item.split('@')[-1]!r} must look like name=scheme://host:port")
        if name in proxies:
            raise ProxyConfigError(f"proxy {name} is named twice")
        proxies[name] = parse_proxy_url(name, url)
    return proxies


def find_proxy(proxies: Mapping[str, ProxySettings], name: str) -> ProxySettings | None:
    """The mailbox's proxy by name ("" for a direct connection)."""
    if not name:
        return None
    try:
        return proxies[name]
    except KeyError:
        known = ", ".join(sorted(proxies)) or "none are configured (POSTROOM_PROXIES)"
        raise ProxyConfigError(f"no proxy named {name}; known: {known}") from None


MAX_CONNECT_ANSWER_BYTES: Final = 16 * 1024  # a proxy's CONNECT answer is a status line and a few headers


def open_tunnel(proxy: ProxySettings, address: str, port: int, timeout: float) -> socket.socket:
    """A connected socket to `address:port` through `proxy` (the handshake done, nothing else said)."""
    if proxy.scheme == "http":
        return _http_connect(proxy, address, port, timeout)
    tunnel = Proxy(
        proxy_type=SCHEMES[proxy.scheme],
        host=proxy.host,
        port=proxy.port,
        username=proxy.username or None,
        password=proxy.password or None,
        rdns=False,
    )
    try:
        sock: socket.socket = tunnel.connect(dest_host=address, dest_port=port, timeout=timeout)
    except ProxyTimeoutError as e:
        raise ProxyTunnelError(f"{proxy.describe()} did not answer in time") from e
    except ProxyConnectionError as e:
        raise ProxyTunnelError(f"cannot reach {proxy.describe()}: {e}") from e
    except ProxyError as e:
        raise ProxyTunnelError(f"{proxy.describe()} refused the tunnel to {address} port {port}: {e}") from e
    sock.settimeout(timeout)
    return sock


def _http_connect(proxy: ProxySettings, address: str, port: int, timeout: float) -> socket.socket:
    """RFC 9110 section 9.3.6 CONNECT, with Basic credentials when the proxy URL has some (RFC 7617)."""
    try:
        sock = socket.create_connection((proxy.host, proxy.port), timeout)
    except TimeoutError as e:
        raise ProxyTunnelError(f"{proxy.describe()} did not answer in time") from e
    except OSError as e:
        raise ProxyTunnelError(f"cannot reach {proxy.describe()}: {e}") from e
    try:
        authority = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
        if proxy.username:
            credentials = base64.b64encode(f"{proxy.username}:{proxy.password}".encode()).decode("ascii")
            lines.append(f"Proxy-Authorization: Basic {credentials}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        status = _read_connect_answer(sock, proxy)
    except BaseException:
        sock.close()
        raise
    if not status.startswith(("HTTP/1.1 200", "HTTP/1.0 200")):
        sock.close()
        raise ProxyTunnelError(
            f"{proxy.describe()} refused the tunnel to {address} port {port}: {status[:200] or 'no answer'}"
        )
    return sock


def _read_connect_answer(sock: socket.socket, proxy: ProxySettings) -> str:
    """The proxy's answer up to its blank line, a byte at a time, so nothing the server says after it is lost."""
    answer = bytearray()
    try:
        while not answer.endswith(b"\r\n\r\n") and not answer.endswith(b"\n\n"):
            byte = sock.recv(1)
            if not byte:
                break
            answer += byte
            if len(answer) > MAX_CONNECT_ANSWER_BYTES:
                raise ProxyTunnelError(f"{proxy.describe()} sent an answer of over 16 KB to CONNECT")
    except TimeoutError as e:
        raise ProxyTunnelError(f"{proxy.describe()} did not answer in time") from e
    return answer.decode("latin-1").split("\n", 1)[0].strip()
