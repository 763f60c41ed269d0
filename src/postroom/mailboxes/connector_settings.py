"""A mailbox's settings per connector kind: parsed into typed values, checked, and the secrets they call for.

`Mailbox.settings` (JSON, nothing secret; docs/architecture/admin.md has the table):

| kind | inbound server settings (top level) |
|---|---|
| imap | host, port (993/143), tls (implicit, starttls or none; implicit), username, folders (["INBOX"]), ca_file; |
| | the poller's poll_seconds (60), batch (50), idle (true), post_action (seen), move_to (docs: connectors.md) |
| pop3 | host, port (995/110), tls, username, ca_file; the poller's poll_seconds (60), batch (50), post_action |
| | (keep or delete; keep) |
| graph | tenant_id, client_id, user |
| ews | url (https://...), username |
| smtp, import | none: mail is pushed to the listener or imported from files |

Any kind may add `outbound` (host, port, tls default starttls, username, auth_mechanism, ca_file: the submission
server of postroom.outbound.relay) and `sent_copy` (host, port, tls, username, folder, ca_file: postroom.outbound
.sent_copy). Passwords live in `Mailbox.secrets` (encrypted) under one name each (`SECRET_NAMES`), never here.
Unknown keys are refused, so a typo ("hots") is an error rather than a silently ignored setting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from postroom.mail.transport.probe_values import PROBE_TLS_MODES, ProbeTls
from postroom.mail.transport.smtp_values import AUTH_MECHANISMS, is_loopback_host
from postroom.mail.transport.tlspin import PinFormatError, normalise_pin
from postroom.mailboxes.models import ConnectorKind

Errors = dict[str, list[str]]

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
SECRET_NAMES: Final = (*INBOUND_SECRET.values(), IMAP_TOKEN_SECRET, POP3_TOKEN_SECRET, OUTBOUND_SECRET)
POST_ACTIONS: Final = ("keep", "seen", "move", "delete")  # what the poller does after the commit (connectors.md)
POP3_POST_ACTIONS: Final = ("keep", "delete")  # POP3: leave on the server, or DELE after the commit
MAX_POLL_SECONDS: Final = 24 * 3600
MAX_BATCH: Final = 1000  # the poller's limit: one commit holds at most this many messages

_HOST: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?\.?|\[?[0-9A-Fa-f:.]+\]?")
# sender_auth: what the screen stage does with a possible spoof (docs/architecture/sender-authentication.md)
SENDER_AUTH_MODES: Final = ("off", "tag", "quarantine", "reject")
DEFAULT_SENDER_AUTH: Final = "tag"
_SHARED: Final = frozenset({"outbound", "sent_copy", "sender_auth"})
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
        }
    ),
    ConnectorKind.POP3: frozenset(
        {"host", "port", "tls", "username", "ca_file", "pin_sha256", "poll_seconds", "batch", "post_action"}
    ),
    ConnectorKind.GRAPH: frozenset({"tenant_id", "client_id", "user"}),
    ConnectorKind.EWS: frozenset({"url", "username"}),
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


@dataclass(frozen=True, slots=True)
class MailboxSettings:
    """A mailbox's parsed settings: its inbound server (IMAP and POP3; None for other kinds) and optional extras."""

    kind: str
    inbound: ServerSettings | None
    outbound: ServerSettings | None
    sent_copy: ServerSettings | None
    secret_names: tuple[str, ...]  # the secrets these settings read, in a stable order


class _Section:
    """Reads one JSON object of settings, collecting every problem under `path` instead of stopping at the first."""

    def __init__(self, raw: object, path: str, allowed: frozenset[str], errors: Errors) -> None:
        self.path = path
        self.errors = errors
        self.values: Mapping[str, object] = raw if isinstance(raw, Mapping) else {}
        if not isinstance(raw, Mapping):
            self.fail("", "must be an object")
        for key in sorted(set(self.values) - allowed):
            self.fail(str(key), f"unknown setting (known: {', '.join(sorted(allowed)) or 'none'})")

    def fail(self, key: str, message: str) -> None:
        self.errors.setdefault(f"{self.path}.{key}" if key else self.path, []).append(message)

    def text(self, key: str, *, required: bool = False, default: str = "", max_length: int = 320) -> str:
        value = self.values.get(key)
        if value is None or value == "":
            if required:
                self.fail(key, "is required")
            return default
        if not isinstance(value, str):
            self.fail(key, "must be text")
            return default
        if len(value) > max_length:
            self.fail(key, f"must be at most {max_length} characters")
        return value.strip()

    def host(self, key: str = "host") -> str:
        value = self.text(key, required=True, max_length=253)
        if value and not _HOST.fullmatch(value):
            self.fail(key, "must be a host name or an IP address (no scheme, port or path)")
        return value

    def tls(self, default: ProbeTls) -> ProbeTls:
        value = self.values.get("tls", default) or default
        for mode in PROBE_TLS_MODES:
            if value == mode:
                return mode
        self.fail("tls", "must be implicit, starttls or none")
        return default

    def port(self, defaults: Mapping[str, int], tls: str) -> int:
        value = self.values.get("port")
        if value is None or value == "":
            return defaults[tls]
        if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
            self.fail("port", "must be a whole number")
            return defaults[tls]
        port = int(value)
        if not 0 < port < 65536:
            self.fail("port", "must be between 1 and 65535")
        return port

    def number(self, key: str, low: int, high: int) -> None:
        value = self.values.get(key)
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
            self.fail(key, "must be a whole number")
        elif not low <= int(value) <= high:
            self.fail(key, f"must be between {low} and {high}")

    def flag(self, key: str) -> None:
        if key in self.values and not isinstance(self.values[key], bool):
            self.fail(key, "must be true or false")

    def ca_file(self) -> str | None:
        value = self.text("ca_file", max_length=4096)
        if value and not value.startswith("/"):
            self.fail("ca_file", "must be an absolute path on the Postroom server (a PEM file of CA certificates)")
        return value or None

    def pins(self) -> tuple[str, ...]:
        value = self.values.get("pin_sha256") or []
        pins = [value] if isinstance(value, str) else value
        if not isinstance(pins, list) or not all(isinstance(pin, str) for pin in pins):
            self.fail("pin_sha256", "must be a pin or a list of pins (sha256/<base64>)")
            return ()
        try:
            return tuple(normalise_pin(pin) for pin in pins)
        except PinFormatError as e:
            self.fail("pin_sha256", str(e))
            return ()

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.values.get(key, default) or default
        if value not in choices:
            self.fail(key, f"must be one of {', '.join(choices)}")
            return default
        return str(value)

    def text_list(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self.values.get(key)
        if value is None:
            return default
        if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
            self.fail(key, "must be a list of names")
            return default
        return tuple(item.strip() for item in value) or default


def parse_mailbox_settings(kind: str, raw: object) -> MailboxSettings:
    """Check `Mailbox.settings` for a connector kind; raise SettingsInvalidError listing every problem."""
    errors: Errors = {}
    if kind not in ConnectorKind.values:
        raise SettingsInvalidError({"kind": [f"must be one of {', '.join(ConnectorKind.values)}"]})
    section = _Section(raw, "settings", _INBOUND_KEYS[kind] | _SHARED, errors)
    inbound = _parse_inbound(kind, section)
    section.choice("sender_auth", SENDER_AUTH_MODES, DEFAULT_SENDER_AUTH)
    outbound = sent_copy = None
    if section.values.get("outbound") is not None:
        outbound = _parse_outbound(_Section(section.values["outbound"], "settings.outbound", _OUTBOUND_KEYS, errors))
    if section.values.get("sent_copy") is not None:
        sent_copy = _parse_sent_copy(_Section(section.values["sent_copy"], "settings.sent_copy", _SENT_KEYS, errors))
    if errors:
        raise SettingsInvalidError(errors)
    names = [INBOUND_SECRET[ConnectorKind(kind)]] if kind in INBOUND_SECRET else []
    names += [OUTBOUND_SECRET] if outbound else []
    names += [SENT_COPY_SECRET] if sent_copy else []
    return MailboxSettings(kind, inbound, outbound, sent_copy, tuple(dict.fromkeys(names)))


def _parse_inbound(kind: str, section: _Section) -> ServerSettings | None:
    if kind in {ConnectorKind.GRAPH, ConnectorKind.EWS}:
        if kind == ConnectorKind.GRAPH:
            for key in ("tenant_id", "client_id", "user"):
                section.text(key, required=True)
        else:
            url = section.text("url", required=True, max_length=2000)
            if url and not url.lower().startswith("https://"):
                section.fail("url", "must be an https:// address (EWS without TLS is refused)")
            section.text("username", required=True)
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
    )


def _check_poller_settings(section: _Section) -> None:
    """The IMAP poller's own settings (postroom.connectors.conf reads them; docs/architecture/connectors.md)."""
    section.number("poll_seconds", 1, MAX_POLL_SECONDS)
    section.number("batch", 1, MAX_BATCH)
    section.flag("idle")
    action = section.choice("post_action", POST_ACTIONS, "seen")
    move_to = section.text("move_to", max_length=1000)
    if action == "move" and not move_to:
        section.fail("move_to", "post_action move needs the folder to move to")


def _check_pop3_poller_settings(section: _Section) -> None:
    """The POP3 poller's settings (postroom.connectors.pop3_conf): no folders, flags or push, so keep or delete."""
    section.number("poll_seconds", 1, MAX_POLL_SECONDS)
    section.number("batch", 1, MAX_BATCH)
    section.choice("post_action", POP3_POST_ACTIONS, "keep")


_OUTBOUND_KEYS: Final = frozenset({"host", "port", "tls", "username", "auth_mechanism", "ca_file"})
_SENT_KEYS: Final = frozenset({"host", "port", "tls", "username", "folder", "ca_file"})


def _parse_outbound(section: _Section) -> ServerSettings:
    tls = section.tls("starttls")
    host = section.host()
    _check_plaintext(section, host, tls)
    username = section.text("username")
    mechanism = section.choice("auth_mechanism", AUTH_MECHANISMS, "auto")
    if mechanism != "auto" and not username:
        section.fail("auth_mechanism", f"{mechanism} needs a username")
    return ServerSettings(
        host=host,
        port=section.port(SMTP_PORTS, tls),
        tls=tls,
        username=username,
        ca_file=section.ca_file(),
        auth_mechanism=mechanism,
    )


def _parse_sent_copy(section: _Section) -> ServerSettings:
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


def _check_plaintext(section: _Section, host: str, tls: str) -> None:
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
