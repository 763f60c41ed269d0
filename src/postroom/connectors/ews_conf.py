"""An EWS mailbox's fetch settings, read from `Mailbox.settings` and `Mailbox.secrets` into one typed value.

The keys are the IMAP connector's where they apply (conf.py); docs/architecture/connector-ews.md explains them:

| setting | default | meaning |
|---|---|---|
| url | required | the on-premises EWS endpoint, https://mail.example.org/EWS/Exchange.asmx |
| username | required | the login (DOMAIN\\user or user@domain) |
| primary_smtp_address | the mailbox's address | the mailbox read: the login's own, a shared one, an impersonated one |
| impersonation | false | open it with ExchangeImpersonation (ApplicationImpersonation role), not as a delegate |
| auth_type | "ntlm" | ntlm, basic (both with the secret ews_password) or oauth (a bearer token) |
| ca_file | none | a PEM bundle added to the system store (never instead of verification) |
| proxy | none | the name of an operator's proxy (POSTROOM_PROXIES) the HTTPS connection tunnels through |
| folders | ["inbox"] | folder paths: a distinguished folder id, then subfolder names ("inbox/Support") |
| poll_seconds | 60 | seconds between cycles |
| batch | 50 | changes asked per SyncFolderItems call and committed together (EWS allows 512 at most) |
| post_action | "seen" | after the commit: keep, seen (IsRead), move (to `move_to`), delete (to Deleted Items) |
| move_to | "" | the folder path for post_action "move" |

Secrets: `ews_password`, or for auth_type oauth a TokenSource passed in by the caller (the OAuth service), or
`ews_access_token` (a pasted token that cannot be refreshed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from django.conf import settings

from postroom.connectors.conf import (
    DEFAULT_BATCH,
    DEFAULT_POLL_SECONDS,
    MIN_POLL_SECONDS,
    ConnectorConfigError,
    _int,
    read_proxy,
)
from postroom.mail.transport.ews_fetch import (
    EWS_AUTH_TYPES,
    EWS_POST_ACTIONS,
    WELL_KNOWN_FOLDERS,
    EwsAuth,
    EwsCredentials,
    EwsEndpoint,
    EwsPostAction,
)
from postroom.mail.transport.token_source import StaticToken, TokenSource
from postroom.mailboxes.models import Mailbox

MAX_EWS_BATCH: Final = 512  # SyncFolderItems MaxChangesReturned: 1 to 512 (EWS reference)
DEFAULT_EWS_POST_ACTION: Final[EwsPostAction] = "seen"
PASSWORD_SECRET: Final = "ews_password"  # noqa: S105 (a key name, not a password)
TOKEN_SECRET: Final = "ews_access_token"  # noqa: S105 (a key name, not a token)


@dataclass(frozen=True, slots=True)
class EwsFetchConfig:
    mailbox_id: int
    endpoint: EwsEndpoint
    credentials: EwsCredentials
    folders: tuple[str, ...]
    poll_seconds: int
    batch: int
    post_action: EwsPostAction
    move_to: str


def _choice(raw: Mapping[str, object], key: str, choices: tuple[str, ...], default: str) -> str:
    value = raw.get(key) or default
    if value not in choices:
        raise ConnectorConfigError(f"setting {key} of an EWS mailbox must be one of {', '.join(choices)}")
    return str(value)


def _folder_path(value: object, key: str) -> str:
    if not isinstance(value, str) or not value.strip().strip("/"):
        raise ConnectorConfigError(f"setting {key} must be a folder path such as inbox or inbox/Support")
    path = "/".join(part.strip() for part in value.strip().strip("/").split("/"))
    if path.split("/")[0].lower() not in WELL_KNOWN_FOLDERS:
        raise ConnectorConfigError(f"setting {key}: {path} must start with one of {', '.join(WELL_KNOWN_FOLDERS)}")
    return path


def _folders(raw: Mapping[str, object]) -> tuple[str, ...]:
    value = raw.get("folders") or ["inbox"]
    if not isinstance(value, list):
        raise ConnectorConfigError("setting folders must be a list of folder paths")
    return tuple(dict.fromkeys(_folder_path(item, "folders") for item in value))


def _auth(raw: Mapping[str, object]) -> EwsAuth:
    value = _choice(raw, "auth_type", EWS_AUTH_TYPES, "ntlm")
    return next(auth for auth in EWS_AUTH_TYPES if auth == value)


def _post_action(raw: Mapping[str, object]) -> EwsPostAction:
    value = _choice(raw, "post_action", EWS_POST_ACTIONS, DEFAULT_EWS_POST_ACTION)
    return next(action for action in EWS_POST_ACTIONS if action == value)


def build_ews_config(mailbox: Mailbox, tokens: TokenSource | None = None) -> EwsFetchConfig:
    """The typed settings of an EWS mailbox; raise ConnectorConfigError naming the first bad one."""
    raw = mailbox.settings if isinstance(mailbox.settings, Mapping) else {}
    secrets = mailbox.secrets if isinstance(mailbox.secrets, Mapping) else {}
    url = str(raw.get("url") or "").strip()
    username = str(raw.get("username") or "").strip()
    if not url.lower().startswith("https://"):
        raise ConnectorConfigError("setting url must be the https:// address of the EWS endpoint")
    if not username:
        raise ConnectorConfigError("setting username is required")
    target = str(raw.get("primary_smtp_address") or mailbox.address or username).strip()
    if "@" not in target:
        raise ConnectorConfigError("setting primary_smtp_address must be the email address of the mailbox read")
    auth = _auth(raw)
    post_action = _post_action(raw)
    folders = _folders(raw)
    move_to = _folder_path(raw.get("move_to"), "move_to") if post_action == "move" else ""
    if move_to.lower() in {folder.lower() for folder in folders}:
        raise ConnectorConfigError("setting move_to must not be one of the folders read (mail would come back)")
    password = str(secrets.get(PASSWORD_SECRET) or "")
    if auth == "oauth":
        token = str(secrets.get(TOKEN_SECRET) or "")
        tokens = tokens or (StaticToken(token) if token else None)
        if tokens is None:
            raise ConnectorConfigError(f"auth_type oauth needs the OAuth service or the secret {TOKEN_SECRET}")
    elif not password:
        raise ConnectorConfigError(f"no secret {PASSWORD_SECRET} is set")
    impersonation = raw.get("impersonation", False)
    if not isinstance(impersonation, bool):
        raise ConnectorConfigError("setting impersonation must be true or false")
    endpoint = EwsEndpoint(
        url=url,
        username=username,
        mailbox=target,
        auth_type=auth,
        access="impersonation" if impersonation else "delegate",
        ca_file=str(raw.get("ca_file") or "").strip() or None,
        allow_private=settings.POSTROOM.allow_private_hosts,
        proxy=read_proxy(raw),
    )
    return EwsFetchConfig(
        mailbox_id=mailbox.pk,
        endpoint=endpoint,
        credentials=EwsCredentials(password=password, tokens=tokens if auth == "oauth" else None),
        folders=folders,
        poll_seconds=_int(raw, "poll_seconds", DEFAULT_POLL_SECONDS, MIN_POLL_SECONDS, 24 * 3600),
        batch=_int(raw, "batch", DEFAULT_BATCH, 1, MAX_EWS_BATCH),
        post_action=post_action,
        move_to=move_to,
    )
