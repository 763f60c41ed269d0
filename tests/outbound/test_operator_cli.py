"""`postroom keys` and `postroom outbox`: operators rotate keys and look after outbound mail."""

from __future__ import annotations

import pytest

from mailfactory import build_mail
from postroom.cli import main
from postroom.inbound.services import process_inbound, receive_message
from postroom.outbound.models import Delivery, DeliveryStatus
from postroom.outbound.services import ReplyDraft, send_reply
from smtpcapture import CaptureServer


@pytest.mark.django_db
def test_keys_rotate_and_retire(capsys: pytest.CaptureFixture[str]) -> None:
    """GIVEN a fresh tenant WHEN keys are rotated then the first retired THEN listing shows signing and retired."""
    assert main(["keys", "list"]) == 0
    first = capsys.readouterr().out.split()[0]
    assert main(["keys", "rotate"]) == 0
    assert main(["keys", "retire", first]) == 0
    out = capsys.readouterr().out
    assert f"{first}\tretired" in out and "\tsigning" in out
    assert main(["keys", "retire", "nope"]) == 1
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.django_db
def test_outbox_list_and_retry_after_the_relay_is_fixed(
    agent: object, outbox: CaptureServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    GIVEN a reply the relay refused permanently (550)
    WHEN the operator lists failed mail, fixes the relay and retries it
    THEN the listing names it with the server's reply, and the retry sends it
    """
    result = receive_message(build_mail(), source_kind="test", enqueue=False)
    process_inbound(result.inbound_id)
    from postroom.tickets.models import Ticket

    ticket = Ticket.objects.get()
    outbox.handler.reply = "550 5.7.1 Relaying denied"
    send_reply(ticket.pk, agent, ReplyDraft(text="Hello"))  # type: ignore[arg-type]
    assert main(["outbox", "send"]) == 0
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert main(["outbox", "list", "--status", "failed"]) == 0
    assert "Relaying denied" in capsys.readouterr().out

    outbox.handler.reply = "250 OK"
    assert main(["outbox", "retry", str(delivery.pk)]) == 0
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and len(outbox.messages) == 1
    assert main(["outbox", "retry", "999999"]) == 1
