"""An EWS mailbox's settings: defaults, refusals worded per setting, and a session's HTTP layer kept to itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from exchangelib.protocol import CachingProtocol

from postroom.connectors.conf import ConnectorConfigError
from postroom.connectors.ews_conf import build_ews_config
from postroom.mail.transport.ews_fetch import EwsCredentials, EwsEndpoint, EwsSetupError, open_session
from postroom.mail.transport.token_source import StaticToken
from postroom.mailboxes.connector_settings import SettingsInvalidError, parse_mailbox_settings
from postroom.mailboxes.models import ConnectorKind, Mailbox
from testpki import make_ca, write_pem

URL = "https://mail.example.org/EWS/Exchange.asmx"


def unsaved(settings: dict[str, Any], secrets: dict[str, str] | None = None, address: str = "") -> Mailbox:
    return Mailbox(
        pk=7,
        kind=ConnectorKind.EWS,
        address=address,
        settings=settings,
        secrets={"ews_password": "pw"} if secrets is None else secrets,
    )


def test_defaults_read_the_inbox_as_a_delegate_with_ntlm_and_mark_read() -> None:
    """GIVEN only url and username THEN NTLM, delegate access to the login's mailbox, inbox, batch 50, seen."""
    config = build_ews_config(unsaved({"url": URL, "username": "svc@example.org"}))
    assert config.endpoint.auth_type == "ntlm" and config.endpoint.access == "delegate"
    assert config.endpoint.mailbox == "svc@example.org"
    assert config.folders == ("inbox",) and config.batch == 50 and config.post_action == "seen"
    assert config.poll_seconds == 60 and config.move_to == ""


def test_impersonation_of_a_shared_mailbox_with_folders_and_move() -> None:
    config = build_ews_config(
        unsaved(
            {
                "url": URL,
                "username": "CONTOSO\\svc-postroom",
                "primary_smtp_address": "support@example.org",
                "impersonation": True,
                "auth_type": "basic",
                "folders": ["Inbox", "inbox/Support/"],
                "post_action": "move",
                "move_to": "inbox/Done",
                "batch": 512,
            }
        )
    )
    assert config.endpoint.access == "impersonation" and config.endpoint.mailbox == "support@example.org"
    assert config.folders == ("Inbox", "inbox/Support") and config.move_to == "inbox/Done" and config.batch == 512


@pytest.mark.parametrize(
    ("settings", "secrets", "message"),
    [
        ({"url": "http://mail.example.org/EWS/Exchange.asmx", "username": "u@x.org"}, None, "url must be the https"),
        ({"url": URL}, None, "username is required"),
        ({"url": URL, "username": "DOMAIN\\svc"}, None, "primary_smtp_address must be the email address"),
        ({"url": URL, "username": "u@x.org", "auth_type": "kerberos"}, None, "auth_type of an EWS mailbox"),
        ({"url": URL, "username": "u@x.org", "folders": ["Support"]}, None, "must start with one of inbox"),
        ({"url": URL, "username": "u@x.org", "post_action": "move"}, None, "move_to must be a folder path"),
        ({"url": URL, "username": "u@x.org", "post_action": "move", "move_to": "inbox"}, None, "must not be one of"),
        ({"url": URL, "username": "u@x.org", "batch": 513}, None, "batch must be between 1 and 512"),
        ({"url": URL, "username": "u@x.org", "impersonation": "yes"}, None, "impersonation must be true or false"),
        ({"url": URL, "username": "u@x.org"}, {}, "no secret ews_password"),
        ({"url": URL, "username": "u@x.org", "auth_type": "oauth"}, {}, "needs the OAuth service"),
    ],
)
def test_bad_settings_name_the_setting(settings: dict[str, Any], secrets: dict[str, str] | None, message: str) -> None:
    with pytest.raises(ConnectorConfigError, match=message):
        build_ews_config(unsaved(settings, secrets))


def test_oauth_takes_the_token_source_it_is_given() -> None:
    tokens = StaticToken("t")
    config = build_ews_config(unsaved({"url": URL, "username": "u@x.org", "auth_type": "oauth"}, {}), tokens=tokens)
    assert config.credentials.tokens is tokens and config.credentials.password == ""


def test_the_settings_form_checks_the_ews_keys() -> None:
    """GIVEN the admin's settings THEN known keys pass and each bad one is listed under its name."""
    parsed = parse_mailbox_settings(
        "ews", {"url": URL, "username": "svc", "impersonation": True, "folders": ["inbox"], "post_action": "keep"}
    )
    assert parsed.secret_names == ("ews_password",)
    with pytest.raises(SettingsInvalidError) as caught:
        parse_mailbox_settings(
            "ews",
            {"url": URL, "username": "svc", "impersonation": "no", "auth_type": "x", "post_action": "move", "hots": 1},
        )
    assert set(caught.value.errors) == {
        "settings.impersonation",
        "settings.auth_type",
        "settings.move_to",
        "settings.hots",
    }


def test_a_session_keeps_its_http_layer_out_of_exchangelibs_process_wide_cache(tmp_path: Path) -> None:
    """GIVEN two sessions to the same endpoint with different CA bundles THEN each has its own adapter class carrying
    its own TLS context, and neither is left in exchangelib's shared protocol cache (no global state changed)."""
    ca_file = str(write_pem(tmp_path / "ca.pem", make_ca("Other CA")[1]))
    first = open_session(
        EwsEndpoint(
            url="https://127.0.0.1/EWS/Exchange.asmx",
            username="a@x.org",
            mailbox="a@x.org",
            ca_file=ca_file,
            allow_private=True,
        ),
        EwsCredentials(password="pw"),
    )
    second = open_session(
        EwsEndpoint(
            url="https://127.0.0.1/EWS/Exchange.asmx", username="a@x.org", mailbox="b@x.org", allow_private=True
        ),
        EwsCredentials(password="pw"),
    )
    first_adapter = first.account.protocol.HTTP_ADAPTER_CLS
    second_adapter = second.account.protocol.HTTP_ADAPTER_CLS
    assert first_adapter is not second_adapter and first_adapter.tls_context is not second_adapter.tls_context
    assert first_adapter.pinned_addresses == ("127.0.0.1",)
    cached = [protocol for protocol, _ in CachingProtocol._protocol_cache.values()]
    assert first.account.protocol not in cached and second.account.protocol not in cached
    assert not any(key[0] == "https://127.0.0.1/EWS/Exchange.asmx" for key in CachingProtocol._protocol_cache)


def test_a_private_host_is_refused_unless_the_operator_allows_it() -> None:
    with pytest.raises(EwsSetupError, match=r"refused to connect: 10\.1\.2\.3 is a private address"):
        open_session(
            EwsEndpoint(url="https://10.1.2.3/EWS/Exchange.asmx", username="a@x.org", mailbox="a@x.org"),
            EwsCredentials(password="pw"),
        )
