"""Which SMTP server sends a queue's mail: the mailbox that owns the From address, else the installation relay.

A mailbox configures its own submission server in `settings["outbound"]` ({host, port, tls, username,
auth_mechanism, ca_file}) with the password in `secrets["smtp_password"]`; otherwise POSTROOM_OUTBOUND_SMTP_URL
is used. One pool of connections per server per process is kept (postroom.mail.transport.smtp.SmtpPool).
"""

from __future__ import annotations

import threading
from typing import Final
from urllib.parse import parse_qs, unquote, urlsplit

from django.conf import settings

from postroom.mail.transport.smtp import SmtpPool, SmtpSettings, TlsMode, TokenProvider
from postroom.mailboxes.models import Mailbox
from postroom.tenants.models import Tenant

POOL_SIZE: Final = 4
_SCHEME_TLS: Final = {"smtp": TlsMode.NONE, "smtp+starttls": TlsMode.STARTTLS, "smtps": TlsMode.IMPLICIT}
_DEFAULT_PORT: Final = {TlsMode.NONE: 25, TlsMode.STARTTLS: 587, TlsMode.IMPLICIT: 465}


class RelayNotConfiguredError(RuntimeError):
    """No server can send this mail; the delivery waits (deferred) until one is configured."""


def parse_relay_url(url: str) -> SmtpSettings:
    """`smtp+starttls://user:pass@host:587?ca_file=/etc/ca.pem&auth=login` into settings."""
    parts = urlsplit(url)
    tls = _SCHEME_TLS[parts.scheme]
    query = parse_qs(parts.query)
    auth = query.get("auth", ["auto"])[0]
    return SmtpSettings(
        host=parts.hostname or "",
        port=parts.port or _DEFAULT_PORT[tls],
        tls=tls,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        auth_mechanism=auth if auth in {"auto", "plain", "login", "xoauth2"} else "auto",  # type: ignore[arg-type]
        ca_file=query.get("ca_file", [None])[0],
    )


def _mailbox_settings(mailbox: Mailbox) -> SmtpSettings | None:
    outbound = mailbox.settings.get("outbound") if isinstance(mailbox.settings, dict) else None
    if not outbound:
        return None
    tls = TlsMode(outbound.get("tls", TlsMode.STARTTLS))
    smtp = SmtpSettings(
        host=str(outbound["host"]),
        port=int(outbound.get("port") or _DEFAULT_PORT[tls]),
        tls=tls,
        username=str(outbound.get("username", "")),
        password=str(mailbox.secrets.get("smtp_password", "")) if mailbox.secrets else "",
        auth_mechanism=outbound.get("auth_mechanism", "auto"),
        ca_file=outbound.get("ca_file"),
        proxy=next((p for p in settings.POSTROOM.proxies if p.name == outbound.get("proxy")), None),
    )
    if smtp.auth_mechanism in {"xoauth2", "oauthbearer"}:
        # The mailbox's OAuth tokens (docs/architecture/oauth.md); a layering exception declared in pyproject.toml.
        from postroom.connectors.oauth.smtp import find_smtp_token_provider

        provider = find_smtp_token_provider(mailbox)
        if provider is not None:
            with _pools_lock:
                _token_providers.setdefault(smtp, provider)
    return smtp


def find_relay_settings(tenant: Tenant, from_address: str) -> SmtpSettings:
    mailbox = (
        Mailbox.objects.filter(tenant=tenant, address__iexact=from_address, is_active=True).order_by("id").first()
        if from_address
        else None
    )
    own = _mailbox_settings(mailbox) if mailbox is not None else None
    if own is not None:
        return own
    url = settings.POSTROOM.outbound_smtp_url
    if not url:
        raise RelayNotConfiguredError("no outbound SMTP server: set POSTROOM_OUTBOUND_SMTP_URL or a mailbox's outbound")
    return parse_relay_url(url)


_pools: dict[SmtpSettings, SmtpPool] = {}
_token_providers: dict[SmtpSettings, TokenProvider] = {}  # OAuth mailboxes' settings -> their tokens
_pools_lock = threading.Lock()


def get_pool(smtp: SmtpSettings) -> SmtpPool:
    with _pools_lock:
        pool = _pools.get(smtp)
        if pool is None:
            pool = _pools[smtp] = SmtpPool(smtp, size=POOL_SIZE, token_provider=_token_providers.get(smtp))
        return pool


def close_pools() -> None:
    with _pools_lock:
        for pool in _pools.values():
            pool.close()
        _pools.clear()
        _token_providers.clear()
