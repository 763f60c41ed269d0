"""A mailbox's settings per connector kind: parsed into typed values, checked, and the secrets they call for.

`Mailbox.settings` (JSON, nothing secret; docs/architecture/admin.md has the table):

| kind | inbound server settings (top level) |
|---|---|
| imap | host, port (993/143), tls (implicit, starttls or none; implicit), username, folders (["INBOX"]), ca_file; |
| | the poller's poll_seconds (60), batch (50), idle (true), post_action (seen), move_to (docs: connectors.md) |
| pop3 | host, port (995/110), tls, username, ca_file; the poller's poll_seconds (60), batch (50), post_action |
| | (keep or delete; keep) |
| graph | tenant_id, client_id, user; folders (["Inbox"]), poll_seconds, batch, post_action (read), move_to, |
| | notification_url, send_via (smtp or graph), graph_url, login_url (docs: connector-graph.md) |
| ews | url (https://.../EWS/Exchange.asmx), username, primary_smtp_address, impersonation (false), auth_type |
| | (ntlm, basic or oauth; ntlm), ca_file, folders (["inbox"]), poll_seconds, batch, post_action, move_to |
| | (docs: connector-ews.md) |
| smtp, import | none: mail is pushed to the listener or imported from files |

Any kind may add `outbound` (host, port, tls default starttls, username, auth_mechanism, ca_file, proxy: the submission
server of postroom.outbound.relay) and `sent_copy` (host, port, tls, username, folder, ca_file: postroom.outbound
.sent_copy). Passwords live in `Mailbox.secrets` (encrypted) under one name each (`SECRET_NAMES`), never here.
Any kind may add `oauth` (provider, client_id, grant, tenant, scopes, mechanism, endpoint overrides:
docs/architecture/oauth.md); it replaces the inbound password (and the SMTP one when `outbound.auth_mechanism` is
xoauth2 or oauthbearer) with `oauth_client_secret` and the tokens the connector keeps.
Unknown keys are refused, so a typo ("hots") is an error rather than a silently ignored setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from postroom.mail.transport.probe_values import ProbeTls
from postroom.mail.transport.smtp_values import AUTH_MECHANISMS, is_loopback_host
from postroom.mailboxes.models import ConnectorKind
from postroom.mailboxes.screening_settings import (
    ATTACHMENT_KEYS,
    AUTOMATION_KEYS,
    SPAM_KEYS,
    check_attachments,
    check_automation,
    check_spam,
)
from postroom.mailboxes.settings_section import Errors, SettingsSection

# Default ports per TLS mode: IMAP RFC 8314 / 9051, POP3 RFC 8314 / 1939, submission RFC 8314 / 6409.
IMAP_PORTS: Final = {"implicit": 993, "starttls": 143, "none": 143}
POP3_PORTS: Final = {"implicit": 995, "starttls": 110, "none": 110}
SMTP_PORTS: Final = {"implicit": 465, "starttls": 587, "none": 25}

# The secret each part of the settings reads (Mailbox.secrets keys). Inbound IMAP and the Sent copy share the IMAP
# password: they are normally the same account.
INBOUND_SECRET: Final[dict[str, str]] = {
    ConnectorKind.IMAP: "imap_password",
    ConnectorKind.POP3: "pop3_password",
    ConnectorKind.GRAPH: "graph_client_secret",
    ConnectorKind.EWS: "ews_password",
}
IMAP_TOKEN_SECRET: Final = "imap_access_token"  # noqa: S105 (a key name) - XOAUTH2 instead of the password
OUTBOUND_SECRET: Final = "smtp_password"  # noqa: S105 (a key name, not a password)
SENT_COPY_SECRET: Final = "imap_password"  # noqa: S105 (a key name, not a password)
POP3_TOKEN_SECRET: Final = "pop3_access_token"  # noqa: S105 (a key name) - XOAUTH2 instead of the password
EWS_TOKEN_SECRET: Final = "ews_access_token"  # noqa: S105 (a key name) - a pasted bearer token for auth_type oauth
EWS_AUTH_TYPES: Final = ("ntlm", "basic", "oauth")
EWS_KEYS: Final = (
    *("url", "username", "primary_smtp_address", "impersonation", "auth_type", "ca_file", "folders"),
    *("poll_seconds", "batch", "post_action", "move_to", "proxy"),
)
# OAuth (settings "oauth"; postroom.connectors.oauth): the client secret, and the tokens the connector keeps itself.
OAUTH_CLIENT_SECRET: Final = "oauth_client_secret"  # noqa: S105 (a key name, not a secret)
OAUTH_REFRESH_TOKEN: Final = "oauth_refresh_token"  # noqa: S105 (a key name, not a token)
OAUTH_ACCESS_TOKEN: Final = "oauth_access_token"  # noqa: S105 (a key name, not a token)
SECRET_NAMES: Final = (
    *INBOUND_SECRET.values(),
    IMAP_TOKEN_SECRET,
    POP3_TOKEN_SECRET,
    EWS_TOKEN_SECRET,
    OUTBOUND_SECRET,
    OAUTH_CLIENT_SECRET,
    OAUTH_REFRESH_TOKEN,
    OAUTH_ACCESS_TOKEN,
)
POST_ACTIONS: Final = ("keep", "seen", "move", "delete")  # what the poller does after the commit (connectors.md)
POP3_POST_ACTIONS: Final = ("keep", "delete")  # POP3: leave on the server, or DELE after the commit
MAX_POLL_SECONDS: Final = 24 * 3600
MAX_BATCH: Final = 1000  # the poller's limit: one commit holds at most this many messages

# sender_auth: what the screen stage does with a possible spoof (docs/architecture/sender-authentication.md)
SENDER_AUTH_MODES: Final = ("off", "tag", "quarantine", "reject")
DEFAULT_SENDER_AUTH: Final = "tag"
_SHARED: Final = frozenset({"outbound", "sent_copy", "sender_auth", "spam", "attachments", "automation"})
# automation: the automation screen's per-mailbox options (docs/architecture/automatic-mail.md)
_INBOUND_KEYS: Final[dict[str, frozenset[str]]] = {
    ConnectorKind.IMAP: frozenset(
        {
            "host",
            "port",
            "tls",
            "username",
            "folders",
            "ca_file",
            "poll_seconds",
            "batch",
            "idle",
            "post_action",
            "move_to",
            "pin_sha256",
            "proxy",
        }
    ),
    ConnectorKind.POP3: frozenset(
        {"host", "port", "tls", "username", "ca_file", "pin_sha256", "proxy", "poll_seconds", "batch", "post_action"}
    ),
    ConnectorKind.GRAPH: frozenset(  # postroom.connectors.graph_conf reads them (docs/architecture/connector-graph.md)
        {"tenant_id", "client_id", "user", "folders", "poll_seconds", "batch", "post_action", "move_to"}
        | {"notification_url", "send_via", "graph_url", "login_url", "proxy"}
    ),
    ConnectorKind.EWS: frozenset(EWS_KEYS),
    ConnectorKind.SMTP: frozenset(),
    ConnectorKind.IMPORT: frozenset(),
}


class SettingsInvalidError(ValueError):
    """The settings cannot work; `errors` maps each setting ("settings.port", "settings.outbound.host") to why."""

    def __init__(self, errors: Errors) -> None:
        super().__init__("; ".join(f"{key}: {' '.join(messages)}" for key, messages in errors.items()))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """One server the mailbox talks to (IMAP, POP3 or SMTP), defaults applied."""

    host: str
    port: int
    tls: ProbeTls
    username: str
    ca_file: str | None = None
    folders: tuple[str, ...] = ()  # IMAP inbound: the folders read
    folder: str = ""  # Sent copy: the folder appended to
    auth_mechanism: str = "auto"  # SMTP
    pins: tuple[str, ...] = ()  # public-key pins (mail/transport/tlspin.py); IMAP and POP3 inbound
    proxy: str = ""  # the name of an operator's proxy (POSTROOM_PROXIES); IMAP and POP3 inbound


@dataclass(frozen=True, slots=True)
class MailboxSettings:
    """A mailbox's parsed settings: its inbound server (IMAP and POP3; None for other kinds) and optional extras."""

    kind: str
    inbound: ServerSettings | None
    outbound: ServerSettings | None
    sent_copy: ServerSettings | None
    secret_names: tuple[str, ...]  # the secrets these settings read, in a stable order


def _subsection(section: SettingsSection, key: str, allowed: frozenset[str]) -> SettingsSection:
    """An object inside the settings ("outbound", "spam", ...), reporting its problems as settings.<key>.<field>."""
    return SettingsSection(section.values[key], f"{section.path}.{key}", allowed, section.errors)


def parse_mailbox_settings(kind: str, raw: object) -> MailboxSettings:
    """Check `Mailbox.settings` for a connector kind; raise SettingsInvalidError listing every problem."""
    errors: Errors = {}
    if kind not in ConnectorKind.values:
        raise SettingsInvalidError({"kind": [f"must be one of {', '.join(ConnectorKind.values)}"]})
    section = SettingsSection(raw, "settings", _INBOUND_KEYS[kind] | _SHARED | {"oauth"}, errors)
    inbound = _parse_inbound(kind, section)
    section.choice("sender_auth", SENDER_AUTH_MODES, DEFAULT_SENDER_AUTH)
    oauth_grant = None
    if section.values.get("oauth") is not None:
        oauth_grant = _check_oauth(_subsection(section, "oauth", _OAUTH_KEYS))
    if section.values.get("spam") is not None:
        check_spam(_subsection(section, "spam", SPAM_KEYS))
    if section.values.get("automation") is not None:
        check_automation(_subsection(section, "automation", AUTOMATION_KEYS))
    if section.values.get("attachments") is not None:
        check_attachments(_subsection(section, "attachments", ATTACHMENT_KEYS))
    outbound = sent_copy = None
    if section.values.get("outbound") is not None:
        outbound = _parse_outbound(_subsection(section, "outbound", _OUTBOUND_KEYS))
    if section.values.get("sent_copy") is not None:
        sent_copy = _parse_sent_copy(_subsection(section, "sent_copy", _SENT_KEYS))
    if errors:
        raise SettingsInvalidError(errors)
    names = [INBOUND_SECRET[ConnectorKind(kind)]] if kind in INBOUND_SECRET else []
    names += [OUTBOUND_SECRET] if outbound else []
    names += [SENT_COPY_SECRET] if sent_copy else []
    if oauth_grant is not None:  # OAuth replaces the inbound password, and the SMTP one when AUTH uses the token
        oauth_smtp = outbound is not None and outbound.auth_mechanism in OAUTH_MECHANISMS
        dropped = {INBOUND_SECRET.get(ConnectorKind(kind)), *([OUTBOUND_SECRET] if oauth_smtp else [])}
        names = [name for name in names if name not in dropped or (name == SENT_COPY_SECRET and sent_copy)]
        names += [OAUTH_CLIENT_SECRET] + ([OAUTH_REFRESH_TOKEN] if oauth_grant == "authorization_code" else [])
    return MailboxSettings(kind, inbound, outbound, sent_copy, tuple(dict.fromkeys(names)))


def _parse_inbound(kind: str, section: SettingsSection) -> ServerSettings | None:
    if kind in {ConnectorKind.GRAPH, ConnectorKind.EWS}:
        if kind == ConnectorKind.GRAPH:
            for key in ("tenant_id", "client_id", "user"):
                section.text(key, required=True)
            section.proxy()
            _check_graph_settings(section)
        else:
            url = section.text("url", required=True, max_length=2000)
            if url and not url.lower().startswith("https://"):
                section.fail("url", "must be an https:// address (EWS without TLS is refused)")
            section.text("username", required=True)
            _check_ews_settings(section)
        return None
    if kind not in {ConnectorKind.IMAP, ConnectorKind.POP3}:
        return None
    tls = section.tls("implicit")
    host = section.host()
    _check_plaintext(section, host, tls)
    if kind == ConnectorKind.IMAP:
        _check_poller_settings(section)
    else:
        _check_pop3_poller_settings(section)
    return ServerSettings(
        host=host,
        port=section.port(IMAP_PORTS if kind == ConnectorKind.IMAP else POP3_PORTS, tls),
        tls=tls,
        username=section.text("username", required=True),
        ca_file=section.ca_file(),
        folders=section.text_list("folders", ("INBOX",)) if kind == ConnectorKind.IMAP else (),
        pins=section.pins(),
        proxy=section.proxy(),
    )


def _check_poller_settings(section: SettingsSection) -> None:
    """The IMAP poller's own settings (postroom.connectors.conf reads them; docs/architecture/connectors.md)."""
    section.number("poll_seconds", 1, MAX_POLL_SECONDS)
    section.number("batch", 1, MAX_BATCH)
    section.flag("idle")
    action = section.choice("post_action", POST_ACTIONS, "seen")
    move_to = section.text("move_to", max_length=1000)
    if action == "move" and not move_to:
        section.fail("move_to", "post_action move needs the folder to move to")


def _check_ews_settings(section: SettingsSection) -> None:
    """The EWS connector's settings beside url and username (postroom.connectors.ews_conf reads them)."""
    section.proxy()
    address = section.text("primary_smtp_address")
    if address and "@" not in address:
        section.fail("primary_smtp_address", "must be the email address of the mailbox read")
    section.flag("impersonation")
    section.choice("auth_type", EWS_AUTH_TYPES, "ntlm")
    section.ca_file()
    folders = section.text_list("folders", ("inbox",))
    section.number("poll_seconds", 1, MAX_POLL_SECONDS)
    section.number("batch", 1, 512)  # SyncFolderItems MaxChangesReturned
    action = section.choice("post_action", POST_ACTIONS, "seen")
    move_to = section.text("move_to", max_length=1000)
    if action == "move" and not move_to:
        section.fail("move_to", "post_action move needs the folder to move to (such as inbox/Done)")
    if move_to and move_to.strip("/").lower() in {folder.strip("/").lower() for folder in folders}:
        section.fail("move_to", "must not be one of the folders read")


def _check_graph_settings(section: SettingsSection) -> None:
    """The Graph connector's settings (postroom.connectors.graph_conf checks the URLs' hosts when it connects)."""
    section.text_list("folders", ("Inbox",))
    section.number("poll_seconds", 1, MAX_POLL_SECONDS)
    section.number("batch", 1, MAX_BATCH)
    action = section.choice("post_action", ("keep", "read", "move"), "read")
    if action == "move" and not section.text("move_to", max_length=1000):
        section.fail("move_to", "post_action move needs the folder to move to")
    section.choice("send_via", ("smtp", "graph"), "smtp")
    for key in ("notification_url", "graph_url", "login_url"):
        url = section.text(key, max_length=2000)
        if url and not url.lower().startswith("https://") and not is_loopback_host(urlsplit(url).hostname or ""):
            section.fail(key, "must be an https:// address")


def _check_pop3_poller_settings(section: SettingsSection) -> None:
    """The POP3 poller's settings (postroom.connectors.pop3_conf): no folders, flags or push, so keep or delete."""
    section.number("poll_seconds", 1, MAX_POLL_SECONDS)
    section.number("batch", 1, MAX_BATCH)
    section.choice("post_action", POP3_POST_ACTIONS, "keep")


# postroom.connectors.oauth.config reads these (docs/architecture/oauth.md has the table).
OAUTH_PROVIDERS: Final = ("microsoft", "google", "oidc")
OAUTH_GRANTS: Final = ("authorization_code", "client_credentials")
OAUTH_MECHANISMS: Final = ("xoauth2", "oauthbearer")
_OAUTH_KEYS: Final = frozenset(
    {"provider", "client_id", "grant", "tenant", "scopes", "mechanism", "authorize_url", "token_url"}
    | {"discovery_url", "issuer", "redirect_uri", "ca_file"}
)


def _check_oauth(section: SettingsSection) -> str:
    """The `oauth` object; the grant it uses."""
    provider = section.choice("provider", OAUTH_PROVIDERS, "")
    if "provider" not in section.values:
        section.fail("provider", "is required")
    section.text("client_id", required=True, max_length=500)
    grant = section.choice("grant", OAUTH_GRANTS, "authorization_code")
    if provider == "google" and grant == "client_credentials":
        section.fail("grant", "Google has no client-credentials grant for mail: use authorization_code")
    tenant = section.text("tenant", max_length=200)
    if provider == "microsoft" and grant == "client_credentials" and tenant in {"", "common", "organizations"}:
        section.fail("tenant", "client_credentials needs the directory (tenant id or domain)")
    scopes = section.values.get("scopes")
    if scopes is not None and not isinstance(scopes, str):
        section.text_list("scopes", ())
    section.choice("mechanism", OAUTH_MECHANISMS, "xoauth2")
    for key in ("authorize_url", "token_url", "discovery_url", "issuer", "redirect_uri"):
        url = section.text(key, max_length=2000)
        host = urlsplit(url).hostname or ""
        if url and not (url.startswith("https://") or (url.startswith("http://") and is_loopback_host(host))):
            section.fail(key, "must be an https:// address (http:// only to this machine, for tests)")
    has_endpoint = any(section.values.get(key) for key in ("token_url", "discovery_url", "issuer"))
    if provider == "oidc" and not has_endpoint:
        section.fail("issuer", "provider oidc needs issuer, discovery_url or token_url")
    section.ca_file()
    return grant


_OUTBOUND_KEYS: Final = frozenset({"host", "port", "tls", "username", "auth_mechanism", "ca_file", "proxy"})
_SENT_KEYS: Final = frozenset({"host", "port", "tls", "username", "folder", "ca_file"})


def _parse_outbound(section: SettingsSection) -> ServerSettings:
    tls = section.tls("starttls")
    host = section.host()
    _check_plaintext(section, host, tls)
    username = section.text("username")
    mechanism = section.choice("auth_mechanism", AUTH_MECHANISMS, "auto")
    if mechanism != "auto" and not username:
        section.fail("auth_mechanism", f"{mechanism} needs a username")
    proxy = section.proxy()
    return ServerSettings(
        host=host,
        port=section.port(SMTP_PORTS, tls),
        tls=tls,
        username=username,
        ca_file=section.ca_file(),
        auth_mechanism=mechanism,
        proxy=proxy,
    )


def _parse_sent_copy(section: SettingsSection) -> ServerSettings:
    tls = section.tls("starttls")
    host = section.host()
    _check_plaintext(section, host, tls)
    return ServerSettings(
        host=host,
        port=section.port(IMAP_PORTS, tls),
        tls=tls,
        username=section.text("username", required=True),
        ca_file=section.ca_file(),
        folder=section.text("folder", default="Sent"),
    )


def _check_plaintext(section: SettingsSection, host: str, tls: str) -> None:
    if tls == "none" and host and not is_loopback_host(host):
        section.fail("tls", "'none' (no TLS) is only allowed to a loopback host: use implicit or starttls")


def describe_secrets(names: tuple[str, ...], secrets: object) -> dict[str, str]:
    """Each secret the settings read, as "set" or "not set", and any other known one that is set: what the API and
    console show instead of values."""
    stored = secrets if isinstance(secrets, Mapping) else {}
    extra = [name for name in SECRET_NAMES if name not in names and stored.get(name)]  # e.g. an access token
    return {name: "set" if stored.get(name) else "not set" for name in (*names, *extra)}


def find_secret_names(kind: str, raw: object) -> tuple[str, ...]:
    """The secrets a mailbox's stored settings read; when they no longer parse, every name it could use."""
    try:
        return parse_mailbox_settings(kind, raw).secret_names
    except SettingsInvalidError:
        return SECRET_NAMES
