"""Mailboxes read through the operator's proxies: HTTP CONNECT (tinyproxy) and SOCKS5 with a password
(microsocks), one proxy per mailbox next to a direct one; a refused tunnel and an unknown proxy name are clear."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from connectorkit import build_raw, imap_mailbox

from dovecotserver import append_messages, needs_dovecot, serve_dovecot
from postroom.connectors.conf import ConnectorConfigError
from postroom.connectors.runner import MailboxRunner
from postroom.inbound.models import InboundMessage
from postroom.mail.transport.imap_fetch import ImapError
from postroom.mail.transport.proxy import parse_proxy_list
from postroom.mailboxes.connector_settings import SettingsInvalidError, parse_mailbox_settings
from proxyservers import RunningProxy, needs_microsocks, needs_tinyproxy, serve_microsocks, serve_tinyproxy

pytestmark = [
    pytest.mark.live,
    needs_dovecot,
    needs_tinyproxy,
    needs_microsocks,
    pytest.mark.django_db(transaction=True),
]

USERS = {f"{name}@example.test": f"{name}-pw" for name in ("viahttp", "viasocks", "direct", "badsocks")}


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from serve_dovecot(tmp_path_factory, USERS)


@pytest.fixture(scope="module")
def http_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    yield from serve_tinyproxy(tmp_path_factory.mktemp("tinyproxy"))


@pytest.fixture(scope="module")
def socks_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    yield from serve_microsocks(tmp_path_factory.mktemp("microsocks"), "relay", "s3cret")


@pytest.fixture(autouse=True)
def _proxies_configured(settings: Any, http_proxy: RunningProxy, socks_proxy: RunningProxy) -> None:
    wrong_password = socks_proxy.url.replace("s3cret", "wrong")
    proxies = parse_proxy_list(f"corp={http_proxy.url},dmz={socks_proxy.url},badauth={wrong_password}")
    settings.POSTROOM = dataclasses.replace(
        settings.POSTROOM, allow_private_hosts=True, proxies=tuple(proxies.values())
    )


def run_one_cycle(mailbox_id: int) -> None:
    runner = MailboxRunner(mailbox_id, lambda: True)
    try:
        runner.run_cycle()
    finally:
        runner.drop_session()


def stored(mailbox_id: int) -> int:
    return InboundMessage.objects.filter(mailbox_id=mailbox_id).count()


def test_each_mailbox_goes_through_its_own_proxy_or_none(
    dovecot: Any, http_proxy: RunningProxy, socks_proxy: RunningProxy
) -> None:
    """GIVEN one mailbox behind the HTTP proxy, one behind the SOCKS5 proxy and one direct WHEN each runs a cycle
    THEN all three store their mail, and only the first two show up in their proxy's log (TLS end to end)."""
    boxes = {}
    for user, proxy in (("viahttp", "corp"), ("viasocks", "dmz"), ("direct", "")):
        address = f"{user}@example.test"
        append_messages(dovecot, address, [build_raw(f"{user} mail")])
        boxes[user] = imap_mailbox(dovecot, address, **({"proxy": proxy} if proxy else {}))
    tunnel = f"CONNECT 127.0.0.1:{dovecot.imaps_port} HTTP/1.1"
    tunnels_before = http_proxy.log_text().count(tunnel)
    for mailbox in boxes.values():
        run_one_cycle(mailbox.pk)
    assert {user: stored(mailbox.pk) for user, mailbox in boxes.items()} == {"viahttp": 1, "viasocks": 1, "direct": 1}
    assert http_proxy.log_text().count(tunnel) == tunnels_before + 1  # one tunnel: the HTTP mailbox's only


def test_a_socks_proxy_refusing_the_password_is_a_clear_error(dovecot: Any) -> None:
    address = "badsocks@example.test"
    append_messages(dovecot, address, [build_raw("never fetched")])
    mailbox = imap_mailbox(dovecot, address, proxy="badauth")
    with pytest.raises(ImapError, match=r"proxy badauth \(socks5://127\.0\.0\.1:\d+\) refused the tunnel"):
        run_one_cycle(mailbox.pk)
    assert stored(mailbox.pk) == 0


def test_an_unknown_proxy_name_is_refused_when_saved_and_when_used(dovecot: Any) -> None:
    settings = {"host": "imap.example.org", "username": "u", "proxy": "nosuch"}
    with pytest.raises(SettingsInvalidError) as refused:
        parse_mailbox_settings("imap", settings)
    assert "no proxy named nosuch; known: badauth, corp, dmz" in refused.value.errors["settings.proxy"][0]
    mailbox = imap_mailbox(dovecot, "direct@example.test", proxy="nosuch")
    with pytest.raises(ConnectorConfigError, match="setting proxy: no proxy named nosuch"):
        run_one_cycle(mailbox.pk)


def test_the_connection_test_goes_through_the_mailboxs_proxy(dovecot: Any, http_proxy: RunningProxy) -> None:
    """GIVEN a mailbox behind the HTTP proxy WHEN an admin runs "Test connection" THEN the test passes and its
    tunnel shows in the proxy's log, TLS verified end to end."""
    from postroom.mailboxes.probe import probe_mailbox

    mailbox = imap_mailbox(dovecot, "viahttp@example.test", proxy="corp")
    tunnel = f"CONNECT 127.0.0.1:{dovecot.imaps_port} HTTP/1.1"
    before = http_proxy.log_text().count(tunnel)
    result = probe_mailbox(mailbox, record=False)
    assert result.ok, result.render_lines()
    assert http_proxy.log_text().count(tunnel) == before + 1


def test_replies_leave_through_the_mailboxs_submission_proxy(http_proxy: RunningProxy) -> None:
    """GIVEN a mailbox whose own submission server (outbound) names the HTTP proxy WHEN a reply from its address is
    submitted THEN the SMTP session runs through the proxy's tunnel and the server receives the message."""
    from connectorkit import make_mailbox

    from postroom.outbound.relay import close_pools, find_relay_settings, get_pool
    from postroom.tenants.services import get_default_tenant
    from smtpcapture import CaptureServer

    with CaptureServer() as capture:
        make_mailbox(
            "submits via proxy", host="imap.example.org", username="support@example.test",
            outbound={"host": "127.0.0.1", "port": capture.port, "tls": "none", "proxy": "corp"},
        )  # fmt: skip
        smtp = find_relay_settings(get_default_tenant(), "support@example.test")
        assert smtp.proxy is not None and smtp.proxy.name == "corp"
        raw = b"From: support@example.test\r\nTo: jane@example.org\r\nSubject: Re: help\r\n\r\nDone.\r\n"
        result = get_pool(smtp).send("support@example.test", ["jane@example.org"], raw)
        assert result.status.value == "sent", result.reply
        assert [m.rcpt_tos for m in capture.messages] == [["jane@example.org"]]
        close_pools()
    assert f"CONNECT 127.0.0.1:{capture.port} HTTP/1.1" in http_proxy.log_text()


def test_a_proxy_refusing_the_tunnel_is_named_with_its_answer(dovecot: Any, tmp_path: Any, settings: Any) -> None:
    """GIVEN an HTTP proxy that only tunnels to port 443 WHEN a mailbox on another port goes through it THEN the
    cycle fails with one line naming the proxy and its answer, and nothing is stored."""
    for proxy in serve_tinyproxy(tmp_path / "strict", extra_config="ConnectPort 443\n"):
        strict = parse_proxy_list(f"strict={proxy.url}")["strict"]
        settings.POSTROOM = dataclasses.replace(settings.POSTROOM, proxies=(*settings.POSTROOM.proxies, strict))
        mailbox = imap_mailbox(dovecot, "direct@example.test", proxy="strict")
        with pytest.raises(ImapError, match=r"proxy strict \(http://127\.0\.0\.1:\d+\) refused the tunnel .*403"):
            run_one_cycle(mailbox.pk)
        assert stored(mailbox.pk) == 0
