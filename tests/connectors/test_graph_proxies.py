"""A Graph mailbox behind the operator's proxy: the token request and every Graph call go through it (tinyproxy
for HTTP, microsocks for SOCKS5), while a mailbox without one connects directly."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from connectorkit import build_raw

from graphstandin import GraphStandIn, make_graph_mailbox
from postroom.connectors.graph_conf import build_graph_config
from postroom.connectors.graph_sync import run_graph_cycle
from postroom.mail.transport.graph_values import GraphError
from postroom.mail.transport.proxy import parse_proxy_list
from proxyservers import RunningProxy, needs_microsocks, needs_tinyproxy, serve_microsocks, serve_tinyproxy

pytestmark = [pytest.mark.live, needs_tinyproxy, needs_microsocks, pytest.mark.django_db]

USER = "proxied@contoso.onmicrosoft.com"


@pytest.fixture(scope="module")
def http_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    yield from serve_tinyproxy(tmp_path_factory.mktemp("graph-tinyproxy"))


@pytest.fixture(scope="module")
def socks_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    yield from serve_microsocks(tmp_path_factory.mktemp("graph-microsocks"), "relay", "s3cret")


@pytest.fixture(autouse=True)
def _proxies_configured(settings: Any, http_proxy: RunningProxy, socks_proxy: RunningProxy) -> None:
    listed = f"corp={http_proxy.url},dmz={socks_proxy.url},badauth={socks_proxy.url.replace('s3cret', 'wrong')}"
    proxies = tuple(parse_proxy_list(listed).values())
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, allow_private_hosts=True, proxies=proxies)


@pytest.fixture
def graph() -> Iterator[GraphStandIn]:
    with GraphStandIn() as standin:
        standin.add_mailbox(USER)
        yield standin


def test_graph_mail_is_read_through_an_http_proxy(graph: GraphStandIn, http_proxy: RunningProxy) -> None:
    """GIVEN a Graph mailbox naming the HTTP proxy WHEN a cycle runs THEN the mail is committed and the proxy's log
    shows the token request and the delta query."""
    graph.deliver(USER, build_raw("via the corporate proxy"))
    mailbox = make_graph_mailbox(graph, USER, proxy="corp")
    assert run_graph_cycle(mailbox, build_graph_config(mailbox)).created == 1
    log = http_proxy.log_text()
    assert "/oauth2/v2.0/token" in log and "/messages/delta" in log


def test_graph_mail_is_read_through_a_socks_proxy_and_a_wrong_password_is_clear(graph: GraphStandIn) -> None:
    graph.deliver(USER, build_raw("via the socks gateway"))
    mailbox = make_graph_mailbox(graph, USER, proxy="dmz")
    assert run_graph_cycle(mailbox, build_graph_config(mailbox)).created == 1
    refused = make_graph_mailbox(graph, USER, proxy="badauth")
    with pytest.raises(GraphError, match="cannot reach"):
        run_graph_cycle(refused, build_graph_config(refused))
