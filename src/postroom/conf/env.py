"""Every POSTROOM_* environment variable, parsed and typed in one place (documented in docs/configuration.md)."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from postroom.mail.attachpolicy.values import ACTIONS, FAMILIES, STRIP
from postroom.mail.automation import DEFAULT_RATE_WINDOW, RateWindow, parse_rate_window
from postroom.mail.transport.proxy import ProxyConfigError, ProxySettings, parse_proxy_list

EMBEDDED: Final = "embedded"
DISTRIBUTED: Final = "distributed"


class ConfigError(ValueError):
    """A POSTROOM_* variable holds a value we cannot use; the message names the variable."""


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    """Where the database is: a SQLite file or a PostgreSQL server."""

    engine: str  # "sqlite" or "postgresql"
    name: str
    user: str = ""
    password: str = ""
    host: str = ""
    port: str = ""


@dataclass(frozen=True, slots=True)
class PostroomSettings:
    """The operator-facing configuration of one Postroom installation."""

    mode: str
    home: Path
    debug: bool
    secret_key: str
    allowed_hosts: tuple[str, ...]
    database: DatabaseConfig
    db_conn_max_age: int
    broker_url: str
    task_queue: str
    blob_dir: Path
    web_host: str
    web_port: int
    api_rate_limit: int  # API requests per minute per token or signed-in user; 0: no limit
    smtp_host: str
    smtp_port: int
    smtp_lmtp: bool
    max_message_bytes: int
    ticket_prefix: str
    max_attempts: int
    sweep_after_seconds: int
    log_level: str
    log_json: bool
    embedded_workers: int
    outbound_smtp_url: str
    mail_domain: str
    allow_private_hosts: bool = False  # connection tests may reach loopback and private networks (SSRF guard)
    quarantine_retention_days: int = 30  # quarantined mail nobody decided on is deleted after this many days
    reply_attachment_max_bytes: int = 10 * 1024 * 1024  # one file an agent attaches to a reply or note
    reply_attachments_max_total_bytes: int = 20 * 1024 * 1024  # all files of one reply together
    portal_link_minutes: int = 15  # a requester portal sign-in link works this long, once
    portal_session_hours: int = 8  # a portal sign-in lasts this long, then the requester asks for a new link
    portal_links_per_address: int = 5  # sign-in links per address and hour (mail-bombing guard)
    portal_links_per_client: int = 20  # sign-in requests per client IP (IPv6: /64) and hour
    portal_public_url: str = ""  # origin the links in sign-in mail point to; empty: the request's checked Host
    portal_upload_max_bytes: int = 10 * 1024 * 1024  # one file a requester attaches to a portal reply
    portal_uploads_max_total_bytes: int = 20 * 1024 * 1024  # all files of one portal reply together
    poller_heartbeat_seconds: int = 5  # `postroom poll`: leases renewed this often; a dead poller's taken over within 2
    poller_failure_threshold: int = 3  # failed cycles in a row before a mailbox is unhealthy and admins are alerted
    poller_db_connections: int = 8  # a poller's reader threads use at most this many database connections at once
    proxies: tuple[ProxySettings, ...] = ()  # POSTROOM_PROXIES: outbound proxies mailboxes may name (setting proxy)
    trusted_authserv_ids: tuple[str, ...] = ()  # Authentication-Results ids whose results count (RFC 8601 §5)
    dns_timeout_seconds: int = 3  # each DNS lookup of sender authentication (SPF, DKIM, DMARC, ARC)
    bounce_hold_days: int = 30  # a hard bounce marks the address undeliverable this long (or until it writes in)
    verp: bool = True  # outbound mail leaves with a tagged return path (support+rb-<token>@...) to link bounces
    # Attachment policy defaults (postroom.mail.attachpolicy); a mailbox's "attachments" setting overrides them
    attachment_max_bytes: int = 25 * 1024 * 1024  # one part
    attachment_max_count: int = 100  # parts per message
    attachment_blocked: tuple[str, ...] = ("executable", "macro_document")  # type families
    attachment_action: str = "strip"  # strip blocked parts (a note replaces each) or quarantine the message
    spamd_url: str = ""  # spamd://host:783 or spamd:///path/to/socket (SpamAssassin); empty: no spamd
    rspamd_url: str = ""  # http://host:11333 (rspamd's normal worker); empty: no rspamd
    spam_scanner: str = "off"  # the scanner for mailboxes that name none: off, spamd, rspamd or headers
    spam_timeout_seconds: int = 10  # connect and each read of one scan; past it the message goes on unscanned
    spam_scan_max_bytes: int = 500 * 1024  # only the first this many bytes are scanned (spamc's default limit)
    sender_rate_limit: RateWindow | None = DEFAULT_RATE_WINDOW  # per sender and tenant; None: no limit
    own_message_id_domains: tuple[str, ...] = ()  # Message-ID domains only we use: such mail coming in is a loop

    @property
    def is_embedded(self) -> bool:
        return self.mode == EMBEDDED

    @property
    def installation_id(self) -> str:
        """Our loop header's value (postroom.mail.automation.LOOP_HEADER): derived from the secret key, so every
        process of one installation writes the same id and another installation a different one."""
        digest = hmac.new(self.secret_key.encode(), b"postroom installation id", hashlib.sha256).hexdigest()
        return f"postroom-{digest[:16]}"


def parse_proxies(name: str, raw: str) -> tuple[ProxySettings, ...]:
    try:
        return tuple(parse_proxy_list(raw).values())
    except ProxyConfigError as e:
        raise ConfigError(f"{name}: {e}") from None


def parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use true or false)")


def parse_int(name: str, raw: str, *, minimum: int = 0) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} must be at least {minimum}")
    return value


def parse_name_list(raw: str) -> tuple[str, ...]:
    """A comma-separated list of names, lower-cased, blanks dropped (POSTROOM_TRUSTED_AUTHSERV_IDS)."""
    return tuple(dict.fromkeys(name.strip().lower() for name in raw.split(",") if name.strip()))


def parse_sender_rate_limit(name: str, raw: str) -> RateWindow | None:
    """`20/120m`: at most 20 messages from one sender in 120 minutes; `off` or `0`: no limit."""
    try:
        return parse_rate_window(raw)
    except ValueError as e:
        raise ConfigError(f"{name}: {e} (or off)") from None


def parse_database_url(name: str, raw: str, home: Path) -> DatabaseConfig:
    """`sqlite:///path/db.sqlite3` (relative to POSTROOM_HOME when not absolute) or `postgresql://u:p@h:port/db`."""
    if not raw:
        return DatabaseConfig(engine="sqlite", name=str(home / "postroom.sqlite3"))
    parts = urlsplit(raw)
    if parts.scheme == "sqlite":
        path = Path(unquote(parts.path.removeprefix("/"))) if parts.path else Path("postroom.sqlite3")
        if not path.is_absolute():
            path = home / path
        return DatabaseConfig(engine="sqlite", name=str(path))
    if parts.scheme in {"postgres", "postgresql"}:
        return DatabaseConfig(
            engine="postgresql",
            name=unquote(parts.path.lstrip("/")) or "postroom",
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            host=parts.hostname or "",
            port=str(parts.port or ""),
        )
    raise ConfigError(f"{name}={raw!r}: use sqlite:///path or postgresql://user:password@host:port/name")


OUTBOUND_SCHEMES: Final = frozenset({"smtp", "smtp+starttls", "smtps"})


def parse_outbound_url(name: str, raw: str) -> str:
    """Validate the relay URL early (`smtp+starttls://user:pass@host:587`, `smtps://host:465`, `smtp://127.0.0.1:25`)."""
    if not raw:
        return ""
    parts = urlsplit(raw)
    if parts.scheme not in OUTBOUND_SCHEMES or not parts.hostname:
        raise ConfigError(f"{name}: use smtp+starttls://user:password@host:587, smtps://host:465 or smtp://host:port")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as e:
        raise ConfigError(f"{name}: bad port") from e
    return raw


def parse_public_url(name: str, raw: str) -> str:
    """`https://help.example.com` (optionally with a path prefix): an absolute http(s) URL without query or
    fragment, kept without its trailing slash; empty stays empty."""
    value = raw.strip()
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"{name}={raw!r}: use an absolute URL such as https://help.example.com")
    return value.rstrip("/")


def read_secret_key(home: Path, raw: str) -> str:
    """The configured key, else one generated once and kept in POSTROOM_HOME (embedded convenience)."""
    if raw:
        return raw
    key_file = home / "secret.key"
    if key_file.exists():
        return key_file.read_text().strip()
    home.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def load_settings(environ: Mapping[str, str] | None = None) -> PostroomSettings:
    """Read and validate every POSTROOM_* variable; raise ConfigError naming the first bad one."""
    env = os.environ if environ is None else environ

    def get(key: str, default: str = "") -> str:
        return env.get(f"POSTROOM_{key}", default)

    home = Path(get("HOME", "./var")).expanduser().resolve()
    mode = get("MODE", EMBEDDED).strip().lower()
    if mode not in {EMBEDDED, DISTRIBUTED}:
        raise ConfigError(f"POSTROOM_MODE={mode!r}: use {EMBEDDED} or {DISTRIBUTED}")
    blob_raw = get("BLOB_DIR")
    return PostroomSettings(
        mode=mode,
        home=home,
        debug=parse_bool("POSTROOM_DEBUG", get("DEBUG", "false")),
        secret_key=read_secret_key(home, get("SECRET_KEY")),
        allowed_hosts=tuple(h.strip() for h in get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h),
        database=parse_database_url("POSTROOM_DATABASE_URL", get("DATABASE_URL"), home),
        db_conn_max_age=parse_int("POSTROOM_DB_CONN_MAX_AGE", get("DB_CONN_MAX_AGE", "60")),
        broker_url=get("BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//"),
        task_queue=get("TASK_QUEUE", "postroom"),
        blob_dir=Path(blob_raw).expanduser().resolve() if blob_raw else home / "blobs",
        web_host=get("WEB_HOST", "127.0.0.1"),
        web_port=parse_int("POSTROOM_WEB_PORT", get("WEB_PORT", "8025")),
        api_rate_limit=parse_int("POSTROOM_API_RATE_LIMIT", get("API_RATE_LIMIT", "600")),
        smtp_host=get("SMTP_HOST", "127.0.0.1"),
        smtp_port=parse_int("POSTROOM_SMTP_PORT", get("SMTP_PORT", "2525")),
        smtp_lmtp=parse_bool("POSTROOM_SMTP_LMTP", get("SMTP_LMTP", "false")),
        max_message_bytes=parse_int(
            "POSTROOM_MAX_MESSAGE_BYTES", get("MAX_MESSAGE_BYTES", str(50 * 1024 * 1024)), minimum=1024
        ),
        ticket_prefix=get("TICKET_PREFIX", "PR"),
        max_attempts=parse_int("POSTROOM_MAX_ATTEMPTS", get("MAX_ATTEMPTS", "5"), minimum=1),
        sweep_after_seconds=parse_int("POSTROOM_SWEEP_AFTER_SECONDS", get("SWEEP_AFTER_SECONDS", "60"), minimum=1),
        log_level=get("LOG_LEVEL", "INFO").upper(),
        log_json=parse_bool("POSTROOM_LOG_JSON", get("LOG_JSON", "false")),
        embedded_workers=parse_int("POSTROOM_EMBEDDED_WORKERS", get("EMBEDDED_WORKERS", "1"), minimum=1),
        outbound_smtp_url=parse_outbound_url("POSTROOM_OUTBOUND_SMTP_URL", get("OUTBOUND_SMTP_URL")),
        mail_domain=get("MAIL_DOMAIN", "postroom.localhost").strip().lower(),
        allow_private_hosts=parse_bool("POSTROOM_ALLOW_PRIVATE_HOSTS", get("ALLOW_PRIVATE_HOSTS", "false")),
        quarantine_retention_days=parse_int(
            "POSTROOM_QUARANTINE_RETENTION_DAYS", get("QUARANTINE_RETENTION_DAYS", "30"), minimum=1
        ),
        reply_attachment_max_bytes=parse_int(
            "POSTROOM_REPLY_ATTACHMENT_MAX_BYTES", get("REPLY_ATTACHMENT_MAX_BYTES", str(10 * 1024 * 1024)), minimum=1
        ),
        reply_attachments_max_total_bytes=parse_int(
            "POSTROOM_REPLY_ATTACHMENTS_MAX_TOTAL_BYTES",
            get("REPLY_ATTACHMENTS_MAX_TOTAL_BYTES", str(20 * 1024 * 1024)),
            minimum=1,
        ),
        portal_link_minutes=parse_int("POSTROOM_PORTAL_LINK_MINUTES", get("PORTAL_LINK_MINUTES", "15"), minimum=1),
        portal_session_hours=parse_int("POSTROOM_PORTAL_SESSION_HOURS", get("PORTAL_SESSION_HOURS", "8"), minimum=1),
        portal_links_per_address=parse_int(
            "POSTROOM_PORTAL_LINKS_PER_ADDRESS", get("PORTAL_LINKS_PER_ADDRESS", "5"), minimum=1
        ),
        portal_links_per_client=parse_int(
            "POSTROOM_PORTAL_LINKS_PER_CLIENT", get("PORTAL_LINKS_PER_CLIENT", "20"), minimum=1
        ),
        portal_public_url=parse_public_url("POSTROOM_PORTAL_PUBLIC_URL", get("PORTAL_PUBLIC_URL")),
        portal_upload_max_bytes=parse_int(
            "POSTROOM_PORTAL_UPLOAD_MAX_BYTES", get("PORTAL_UPLOAD_MAX_BYTES", str(10 * 1024 * 1024)), minimum=1
        ),
        portal_uploads_max_total_bytes=parse_int(
            "POSTROOM_PORTAL_UPLOADS_MAX_TOTAL_BYTES",
            get("PORTAL_UPLOADS_MAX_TOTAL_BYTES", str(20 * 1024 * 1024)),
            minimum=1,
        ),
        poller_heartbeat_seconds=parse_int(
            "POSTROOM_POLLER_HEARTBEAT_SECONDS", get("POLLER_HEARTBEAT_SECONDS", "5"), minimum=1
        ),
        poller_failure_threshold=parse_int(
            "POSTROOM_POLLER_FAILURE_THRESHOLD", get("POLLER_FAILURE_THRESHOLD", "3"), minimum=1
        ),
        poller_db_connections=parse_int("POSTROOM_POLLER_DB_CONNECTIONS", get("POLLER_DB_CONNECTIONS", "8"), minimum=1),
        proxies=parse_proxies("POSTROOM_PROXIES", get("PROXIES")),
        trusted_authserv_ids=parse_name_list(get("TRUSTED_AUTHSERV_IDS")),
        dns_timeout_seconds=parse_int("POSTROOM_DNS_TIMEOUT_SECONDS", get("DNS_TIMEOUT_SECONDS", "3"), minimum=1),
        bounce_hold_days=parse_int("POSTROOM_BOUNCE_HOLD_DAYS", get("BOUNCE_HOLD_DAYS", "30"), minimum=1),
        verp=parse_bool("POSTROOM_VERP", get("VERP", "true")),
        **parse_attachment_settings(get),
        **parse_spam_settings(get),
        sender_rate_limit=parse_sender_rate_limit(
            "POSTROOM_SENDER_RATE_LIMIT", get("SENDER_RATE_LIMIT", str(DEFAULT_RATE_WINDOW))
        ),
        own_message_id_domains=parse_name_list(get("OWN_MESSAGE_ID_DOMAINS")),
    )


SPAM_SCANNERS: Final = ("off", "spamd", "rspamd", "headers")


def parse_spam_settings(get: Callable[[str, str], str]) -> dict[str, Any]:
    """POSTROOM_SPAMD_URL, POSTROOM_RSPAMD_URL, POSTROOM_SPAM_SCANNER (default: spamd when its URL is set, else
    rspamd when its URL is set, else off), POSTROOM_SPAM_TIMEOUT_SECONDS, POSTROOM_SPAM_SCAN_MAX_BYTES."""
    spamd, rspamd = get("SPAMD_URL", "").strip(), get("RSPAMD_URL", "").strip()
    if spamd and (urlsplit(spamd).scheme != "spamd" or not (urlsplit(spamd).netloc or urlsplit(spamd).path)):
        raise ConfigError(f"POSTROOM_SPAMD_URL={spamd!r}: use spamd://host:783 or spamd:///path/to/socket")
    if rspamd and (urlsplit(rspamd).scheme not in {"http", "https"} or not urlsplit(rspamd).hostname):
        raise ConfigError(f"POSTROOM_RSPAMD_URL={rspamd!r}: use http://host:11333")
    default = "spamd" if spamd else "rspamd" if rspamd else "off"
    scanner = get("SPAM_SCANNER", "").strip().lower() or default
    if scanner not in SPAM_SCANNERS:
        raise ConfigError(f"POSTROOM_SPAM_SCANNER={scanner!r}: use {', '.join(SPAM_SCANNERS)}")
    return {
        "spamd_url": spamd,
        "rspamd_url": rspamd,
        "spam_scanner": scanner,
        "spam_timeout_seconds": parse_int(
            "POSTROOM_SPAM_TIMEOUT_SECONDS", get("SPAM_TIMEOUT_SECONDS", "10"), minimum=1
        ),
        "spam_scan_max_bytes": parse_int(
            "POSTROOM_SPAM_SCAN_MAX_BYTES", get("SPAM_SCAN_MAX_BYTES", str(500 * 1024)), minimum=1024
        ),
    }


def parse_attachment_settings(get: Callable[[str, str], str]) -> dict[str, Any]:
    """POSTROOM_ATTACHMENT_MAX_BYTES, _MAX_COUNT, _BLOCKED (comma-separated families) and _ACTION."""
    blocked = parse_name_list(get("ATTACHMENT_BLOCKED", "executable,macro_document"))
    unknown = [name for name in blocked if name not in FAMILIES]
    if unknown:
        raise ConfigError(f"POSTROOM_ATTACHMENT_BLOCKED: unknown {', '.join(unknown)} (use {', '.join(FAMILIES)})")
    action = get("ATTACHMENT_ACTION", STRIP).strip().lower()
    if action not in ACTIONS:
        raise ConfigError(f"POSTROOM_ATTACHMENT_ACTION={action!r}: use {' or '.join(ACTIONS)}")
    return {
        "attachment_max_bytes": parse_int(
            "POSTROOM_ATTACHMENT_MAX_BYTES", get("ATTACHMENT_MAX_BYTES", str(25 * 1024 * 1024)), minimum=1
        ),
        "attachment_max_count": parse_int(
            "POSTROOM_ATTACHMENT_MAX_COUNT", get("ATTACHMENT_MAX_COUNT", "100"), minimum=1
        ),
        "attachment_blocked": blocked,
        "attachment_action": action,
    }
