"""The mailbox settings form: the connector's server, the outbound SMTP server and the Sent copy as plain fields,
turned into `Mailbox.settings` and secret changes for postroom.mailboxes.services.save_mailbox.

Passwords are write-only: the form never shows one, only whether it is set; an empty password field keeps the
stored one, the "remove" box deletes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from django import forms

from postroom.mail.transport.smtp_values import AUTH_MECHANISMS
from postroom.mailboxes.connector_settings import INBOUND_SECRET, OUTBOUND_SECRET, SENT_COPY_SECRET
from postroom.mailboxes.models import ConnectorKind
from postroom.tickets.models import Queue

TLS_CHOICES: Final = [
    ("implicit", "TLS from the start (993, 995, 465)"),
    ("starttls", "STARTTLS (143, 110, 587)"),
    ("none", "none (loopback only)"),
]
# Form field -> settings key, per section; the services' error keys ("settings.outbound.host") map back through it.
INBOUND_FIELDS: Final = {
    "in_host": "host",
    "in_port": "port",
    "in_tls": "tls",
    "in_username": "username",
    "in_folders": "folders",
    "in_ca_file": "ca_file",
    "graph_tenant_id": "tenant_id",
    "graph_client_id": "client_id",
    "graph_user": "user",
    "ews_url": "url",
    "ews_username": "username",
}
OUTBOUND_FIELDS: Final = {
    "out_host": "host",
    "out_port": "port",
    "out_tls": "tls",
    "out_username": "username",
    "out_auth_mechanism": "auth_mechanism",
    "out_ca_file": "ca_file",
}
SENT_FIELDS: Final = {
    "sent_host": "host",
    "sent_port": "port",
    "sent_tls": "tls",
    "sent_username": "username",
    "sent_folder": "folder",
    "sent_ca_file": "ca_file",
}
FORM_MANAGED_KEYS: Final = frozenset({*INBOUND_FIELDS.values(), "outbound", "sent_copy"})
_KIND_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    ConnectorKind.IMAP: ("in_host", "in_port", "in_tls", "in_username", "in_folders", "in_ca_file"),
    ConnectorKind.POP3: ("in_host", "in_port", "in_tls", "in_username", "in_ca_file"),
    ConnectorKind.GRAPH: ("graph_tenant_id", "graph_client_id", "graph_user"),
    ConnectorKind.EWS: ("ews_url", "ews_username"),
}


def _text(required: bool = False, **kwargs: Any) -> forms.CharField:
    return forms.CharField(required=required, **kwargs)


class MailboxForm(forms.Form):
    name = forms.CharField(max_length=200)
    address = forms.EmailField(required=False, help_text="The address this mailbox receives.")
    kind = forms.ChoiceField(choices=ConnectorKind.choices, label="Connector")
    default_queue = forms.ModelChoiceField(
        queryset=Queue.objects.none(), to_field_name="slug", help_text="Where its mail lands when no route matches."
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    in_host = _text(label="Server")
    in_port = forms.IntegerField(required=False, min_value=1, max_value=65535, label="Port")
    in_tls = forms.ChoiceField(choices=TLS_CHOICES, initial="implicit", required=False, label="Encryption")
    in_username = _text(label="User name")
    in_folders = _text(label="Folders", help_text="Comma-separated; INBOX when empty.")
    in_ca_file = _text(label="CA file", help_text="A PEM file on the server, added to the system trust store.")
    in_password = _text(widget=forms.PasswordInput(render_value=False), label="Password (or client secret)")
    in_password_remove = forms.BooleanField(required=False, label="remove the stored one")
    graph_tenant_id = _text(label="Directory (tenant) id")
    graph_client_id = _text(label="Application (client) id")
    graph_user = _text(label="Mailbox user")
    ews_url = _text(label="EWS URL")
    ews_username = _text(label="User name")

    out_enabled = forms.BooleanField(required=False, label="Send replies through this mailbox's own SMTP server")
    out_host = _text(label="Server")
    out_port = forms.IntegerField(required=False, min_value=1, max_value=65535, label="Port")
    out_tls = forms.ChoiceField(choices=TLS_CHOICES, initial="starttls", required=False, label="Encryption")
    out_username = _text(label="User name")
    out_auth_mechanism = forms.ChoiceField(
        choices=[(m, m) for m in AUTH_MECHANISMS], initial="auto", required=False, label="AUTH"
    )
    out_ca_file = _text(label="CA file")
    out_password = _text(widget=forms.PasswordInput(render_value=False), label="Password")
    out_password_remove = forms.BooleanField(required=False, label="remove the stored one")

    sent_enabled = forms.BooleanField(required=False, label="Copy sent replies to an IMAP folder")
    sent_host = _text(label="Server")
    sent_port = forms.IntegerField(required=False, min_value=1, max_value=65535, label="Port")
    sent_tls = forms.ChoiceField(choices=TLS_CHOICES, initial="starttls", required=False, label="Encryption")
    sent_username = _text(label="User name")
    sent_folder = _text(label="Folder", help_text="Sent when empty.")
    sent_ca_file = _text(label="CA file")
    sent_password = _text(
        widget=forms.PasswordInput(render_value=False),
        label="IMAP password",
        help_text="Shared with the inbound IMAP password.",
    )

    def __init__(self, *args: Any, tenant_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["default_queue"].queryset = Queue.objects.filter(tenant_id=tenant_id).order_by("name")  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        shared = kind == ConnectorKind.IMAP and data.get("in_password") and data.get("sent_password")
        if shared and data["in_password"] != data["sent_password"]:
            self.add_error("sent_password", "the inbound IMAP and the Sent copy share one password: enter it once")
        return data

    def build_settings(self, existing: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """`Mailbox.settings` from the cleaned fields: empty fields are left out (their defaults apply). Keys this
        form has no field for (poller tuning, the sender-authentication mode, set through the API) are kept from
        `existing`, so saving the form never resets them."""
        data = self.cleaned_data
        kept = {key: value for key, value in (existing or {}).items() if key not in FORM_MANAGED_KEYS}
        kind = data.get("kind", "")
        settings: dict[str, Any] = _section(data, _KIND_FIELDS.get(kind, ()), INBOUND_FIELDS)
        if data.get("out_enabled"):
            settings["outbound"] = _section(data, tuple(OUTBOUND_FIELDS), OUTBOUND_FIELDS)
        if data.get("sent_enabled"):
            settings["sent_copy"] = _section(data, tuple(SENT_FIELDS), SENT_FIELDS)
        return {**kept, **settings}

    def build_secret_changes(self) -> dict[str, str | None]:
        data = self.cleaned_data
        changes: dict[str, str | None] = {}
        inbound_secret = INBOUND_SECRET.get(data.get("kind", ""))
        if inbound_secret and data.get("in_password_remove"):
            changes[inbound_secret] = None
        elif inbound_secret and data.get("in_password"):
            changes[inbound_secret] = data["in_password"]
        if data.get("out_password_remove"):
            changes[OUTBOUND_SECRET] = None
        elif data.get("out_password"):
            changes[OUTBOUND_SECRET] = data["out_password"]
        if data.get("sent_password"):
            changes[SENT_COPY_SECRET] = data["sent_password"]
        return changes


def _section(data: Mapping[str, Any], names: tuple[str, ...], keys: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        value = data.get(name)
        if value in (None, ""):
            continue
        if name == "in_folders":
            value = [folder.strip() for folder in str(value).split(",") if folder.strip()]
        out[keys[name]] = value
    return out


def build_initial(kind: str, settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """Form values from stored settings (the reverse of MailboxForm.build_settings)."""
    settings = settings if isinstance(settings, Mapping) else {}
    initial: dict[str, Any] = {}
    for name in _KIND_FIELDS.get(kind, ()):
        key = INBOUND_FIELDS[name]
        value = settings.get(key)
        if value not in (None, ""):
            initial[name] = ", ".join(map(str, value)) if isinstance(value, list) else value
    sections = (("out_enabled", "outbound", OUTBOUND_FIELDS), ("sent_enabled", "sent_copy", SENT_FIELDS))
    for flag, section, fields in sections:
        values = settings.get(section)
        if isinstance(values, Mapping):
            initial[flag] = True
            initial.update({name: values[key] for name, key in fields.items() if values.get(key) not in (None, "")})
    return initial


def error_aliases(kind: str) -> dict[str, str]:
    """Service error keys ("settings.outbound.host") -> form field names ("out_host") for a connector kind."""
    aliases = {f"settings.{INBOUND_FIELDS[name]}": name for name in _KIND_FIELDS.get(kind, ())}
    aliases.update({f"settings.outbound.{key}": name for name, key in OUTBOUND_FIELDS.items()})
    aliases.update({f"settings.sent_copy.{key}": name for name, key in SENT_FIELDS.items()})
    aliases.update({f"secrets.{name}": "in_password" for name in INBOUND_SECRET.values()})
    return aliases
