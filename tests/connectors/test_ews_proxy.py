"""An EWS mailbox behind the operator's HTTP proxy: exchangelib's HTTPS goes through a CONNECT tunnel to the
checked address (tinyproxy from Debian), TLS verified end to end against the stand-in's CA."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from connectorkit import build_raw
from test_ews_sync import ews_mailbox, ledger

from ewsstandin import EwsStandin, serve_ews
from postroom.connectors.ews_sync import run_ews_cycle
from postroom.mail.transport.proxy import parse_proxy_list
from proxyservers import RunningProxy, needs_tinyproxy, serve_tinyproxy

pytestmark = [pytest.mark.live, needs_tinyproxy, pytest.mark.django_db]


@pytest.fixture(scope="module")
def ews(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EwsStandin]:
    yield from serve_ews(tmp_path_factory.mktemp("ews-proxy"))


@pytest.fixture(scope="module")
def http_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    yield from serve_tinyproxy(tmp_path_factory.mktemp("ews-tinyproxy"))


@pytest.fixture(autouse=True)
def _proxy_configured(settings: Any, http_proxy: RunningProxy) -> None:
    proxies = tuple(parse_proxy_list(f"corp={http_proxy.url}").values())
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, allow_private_hosts=True, proxies=proxies)


def test_an_ews_mailbox_is_read_through_its_proxy(ews: EwsStandin, http_proxy: RunningProxy) -> None:
    """GIVEN an EWS mailbox naming the HTTP proxy WHEN a cycle runs THEN its mail is committed and the proxy's log
    shows the tunnel to the Exchange stand-in."""
    login = "proxied@example.test"
    mailbox = ews_mailbox(ews, login, proxy="corp")
    ews.store.deliver(login, [build_raw("ews through the proxy")])
    assert run_ews_cycle(mailbox).created == 1
    assert len(ledger(mailbox.pk)) == 1
    assert f"CONNECT 127.0.0.1:{ews.port} HTTP/1.1" in http_proxy.log_text()
