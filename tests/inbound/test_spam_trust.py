"""The spam screen without spamd: a trusted upstream filter's header fields (and untrusted ones ignored), rspamd
through a local stub of its HTTP API, scanner configuration, and the mailbox's `spam` setting's validation."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from mailfactory import build_mail
from postroom.inbound.models import InboundMessage, InboundStatus
from postroom.inbound.routes import add_route
from postroom.mailboxes.connector_settings import SettingsInvalidError, parse_mailbox_settings
from postroom.mailboxes.models import ConnectorKind, Mailbox
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import Queue

Ingest = Callable[..., InboundMessage]
UPSTREAM_SPAM = {"X-Spam-Flag": "YES", "X-Spam-Status": "Yes, score=12.5 required=5.0 tests=BAYES_99,URIBL_BLACK"}


def make_mailbox(spam: dict[str, Any] | None) -> Mailbox:
    add_route("support@example.com", "Support")
    return Mailbox.objects.create(
        tenant=get_default_tenant(), name="Support", kind=ConnectorKind.SMTP,
        default_queue=Queue.objects.get(slug="support"), settings={} if spam is None else {"spam": spam},
    )  # fmt: skip


def screen_data(row: InboundMessage) -> dict[str, Any]:
    step = next(step for step in reversed(row.trace) if step["stage"] == "screen")
    return dict(step.get("data", {}), _reason=step["reason"])


@pytest.mark.django_db
def test_a_mailbox_that_trusts_its_upstream_filter_holds_what_it_flagged(ingest: Ingest) -> None:
    """
    GIVEN a mailbox whose spam scanner is "headers" (its upstream filter is trusted)
    WHEN mail arrives with that filter's X-Spam-Status score 12.5
    THEN it is quarantined as spam with the filter's score and rules in the trace
    """
    row = ingest(build_mail(extra_headers=UPSTREAM_SPAM), mailbox=make_mailbox({"scanner": "headers"}))

    assert (row.status, row.cause) == (InboundStatus.QUARANTINED, "spam")
    data = screen_data(row)
    assert (data["spam_scanner"], data["spam_score"], data["spam_rules"]) == ("headers", "12.5", "BAYES_99,URIBL_BLACK")


@pytest.mark.django_db
def test_an_untrusted_mailbox_ignores_the_same_fields(ingest: Ingest) -> None:
    """GIVEN a mailbox with spam scanning off (the installation default without a scanner) WHEN the same mail, with
    fields anyone could have written, arrives THEN it becomes a ticket and the screen says nothing about spam."""
    row = ingest(build_mail(extra_headers=UPSTREAM_SPAM), mailbox=make_mailbox(None))

    assert row.status == InboundStatus.PROCESSED
    assert not any(key.startswith("spam") for key in screen_data(row))


@pytest.mark.django_db
def test_an_installation_that_trusts_the_headers_applies_to_mailboxes_without_a_setting(
    ingest: Ingest, settings: Any
) -> None:
    """GIVEN POSTROOM_SPAM_SCANNER=headers WHEN mail without a mailbox setting arrives flagged THEN held as spam;
    a mailbox that says "off" overrides it."""
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, spam_scanner="headers")
    held = ingest(build_mail(extra_headers=UPSTREAM_SPAM), mailbox=make_mailbox(None))
    assert (held.status, held.cause) == (InboundStatus.QUARANTINED, "spam")

    mailbox = Mailbox.objects.get(pk=held.mailbox_id)
    mailbox.settings = {"spam": {"scanner": "off"}}
    mailbox.save()  # clears the per-process mailbox cache
    passed = ingest(build_mail(extra_headers=UPSTREAM_SPAM), mailbox=mailbox)
    assert passed.status == InboundStatus.PROCESSED


@pytest.mark.django_db
def test_a_trusting_mailbox_without_the_fields_notes_unscanned(ingest: Ingest) -> None:
    row = ingest(build_mail(), mailbox=make_mailbox({"scanner": "headers"}))
    assert row.status == InboundStatus.PROCESSED
    assert screen_data(row)["spam_outcome"] == "unscanned"


@pytest.mark.django_db
def test_a_scanner_without_its_url_is_unscanned_not_an_error(ingest: Ingest) -> None:
    """GIVEN a mailbox asking for spamd but no POSTROOM_SPAMD_URL WHEN mail arrives THEN a ticket, the trace says
    which setting is missing."""
    row = ingest(build_mail(), mailbox=make_mailbox({"scanner": "spamd"}))
    assert row.status == InboundStatus.PROCESSED
    assert "POSTROOM_SPAMD_URL" in screen_data(row)["spam_error"]


class RspamdStub(BaseHTTPRequestHandler):
    reply: ClassVar[dict[str, Any]] = {}

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        payload = json.dumps(RspamdStub.reply).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def rspamd_url(settings: Any) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), RspamdStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, rspamd_url=url, spam_scanner="rspamd")
    yield url
    server.shutdown()
    server.server_close()


@pytest.mark.django_db
def test_rspamd_score_is_judged_by_the_mailbox_thresholds(ingest: Ingest, rspamd_url: str) -> None:
    """
    GIVEN rspamd (a stub of its /checkv2) as the installation's scanner answering score 9 with action "add header"
    WHEN mail arrives THEN it is quarantined as spam (9 >= 8), rspamd's action and symbols in the trace
    """
    RspamdStub.reply = {
        "score": 9.0,
        "required_score": 15.0,
        "action": "add header",
        "symbols": {"BAYES_SPAM": {"name": "BAYES_SPAM", "score": 5.1}, "R_DKIM_NA": {"name": "R_DKIM_NA", "score": 0}},
    }
    row = ingest(build_mail(), mailbox=make_mailbox(None))

    assert (row.status, row.cause) == (InboundStatus.QUARANTINED, "spam")
    data = screen_data(row)
    assert (data["spam_scanner"], data["spam_score"], data["spam_action"]) == ("rspamd", "9", "add header")
    assert data["spam_rules"] == "BAYES_SPAM,R_DKIM_NA"


@pytest.mark.parametrize(
    ("spam", "errors"),
    [
        ({"scanner": "spamassassin"}, {"settings.spam.scanner"}),
        ({"tag": "high"}, {"settings.spam.tag"}),
        ({"tag": 9, "quarantine": 5}, {"settings.spam.quarantine"}),
        ({"quarantine": 8, "drop": 4}, {"settings.spam.drop"}),
        ({"drop": True}, {"settings.spam.drop"}),
        ({"treshold": 5}, {"settings.spam.treshold"}),
        ("spamd", {"settings.spam"}),
    ],
)
def test_bad_spam_settings_are_refused(spam: object, errors: set[str]) -> None:
    with pytest.raises(SettingsInvalidError) as refused:
        parse_mailbox_settings(ConnectorKind.SMTP, {"spam": spam})
    assert set(refused.value.errors) == errors


def test_good_spam_settings_pass() -> None:
    parse_mailbox_settings(ConnectorKind.SMTP, {"spam": {"scanner": "rspamd", "tag": 4, "quarantine": 8.5}})
    parse_mailbox_settings(ConnectorKind.SMTP, {"spam": {"scanner": "off", "drop": None}})
    parse_mailbox_settings(ConnectorKind.SMTP, {"spam": {"tag": -1.5, "quarantine": 6, "drop": 20}})
