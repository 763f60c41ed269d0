"""Every POSTROOM_* environment variable, parsed and typed in one place (documented in docs/configuration.md)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import unquote, urlsplit

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
    trusted_authserv_ids: tuple[str, ...] = ()  # Authentication-Results ids whose results count (RFC 8601 §5)
    dns_timeout_seconds: int = 3  # each DNS lookup of sender authentication (SPF, DKIM, DMARC, ARC)

    @property
    def is_embedded(self) -> bool:
        return self.mode == EMBEDDED


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
        trusted_authserv_ids=parse_name_list(get("TRUSTED_AUTHSERV_IDS")),
        dns_timeout_seconds=parse_int("POSTROOM_DNS_TIMEOUT_SECONDS", get("DNS_TIMEOUT_SECONDS", "3"), minimum=1),
    )
