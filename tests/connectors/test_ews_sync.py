"""The EWS connector against the local EWS stand-in (tests/ewsstandin.py) over verified TLS: paging, incremental
sync, post-actions after the commit, a crash between commit and post-action, shared and impersonated mailboxes,
throttling, and plainly worded failures."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from connectorkit import build_raw

from ewsstandin import EwsStandin, serve_ews
from postroom.connectors.ews_sync import STATE_KEY, run_ews_cycle
from postroom.connectors.health import get_health, record_cycle
from postroom.connectors.models import FolderCursor
from postroom.inbound.models import InboundMessage
from postroom.inbound.services import process_inbound
from postroom.mail.transport.ews_fetch import (
    EwsCredentials,
    EwsEndpoint,
    EwsError,
    EwsSession,
    EwsSetupError,
    ItemRef,
    describe_error,
    open_session,
)
from postroom.mailboxes.models import ConnectorKind, Mailbox
from postroom.tenants.services import get_default_tenant
from postroom.tickets.services import ensure_default_queue

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def ews(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EwsStandin]:
    yield from serve_ews(tmp_path_factory.mktemp("ews"))


@pytest.fixture(autouse=True)
def _private_hosts_allowed(settings: Any) -> None:
    """The stand-in is on loopback, which the SSRF guard refuses unless the operator allows it."""
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, allow_private_hosts=True)


def ews_mailbox(server: EwsStandin, login: str, password: str = "", **extra: Any) -> Mailbox:
    """An active EWS mailbox reading as `login` (basic auth over TLS, trusting the stand-in's CA)."""
    if password == "":
        password = f"{login}-pw"
        server.add_user(login, password)
    tenant = get_default_tenant()
    settings = {
        "url": server.url,
        "username": login,
        "auth_type": "basic",
        "ca_file": str(server.ca_file),
        **extra,
    }
    return Mailbox.objects.create(
        tenant=tenant,
        name=f"ews {login} {extra.get('primary_smtp_address', '')}",
        address=str(extra.get("primary_smtp_address") or login),
        kind=ConnectorKind.EWS,
        settings=settings,
        secrets={"ews_password": password},
        default_queue=ensure_default_queue(tenant),
    )


def ledger(mailbox_id: int) -> list[InboundMessage]:
    return list(InboundMessage.objects.filter(mailbox_id=mailbox_id).order_by("pk"))


def item_ids(server: EwsStandin, address: str, folder: str = "inbox") -> set[str]:
    found = server.store.find_folder(address, distinguished=folder)
    assert found is not None
    return set(found.items)


def test_sync_across_pages_commits_every_item_once_then_marks_it_read(ews: EwsStandin) -> None:
    """GIVEN 5 messages in the inbox and a batch of 2 WHEN one cycle runs THEN 3+ SyncFolderItems pages, 5 ledger rows
    keyed ews:<mailbox>:inbox:<item id> that become tickets, every item marked read after its page's commit, and the
    last SyncState saved; WHEN another cycle runs THEN nothing is fetched again."""
    login = "pages@example.test"
    mailbox = ews_mailbox(ews, login, batch=2)
    ids = ews.store.deliver(login, [build_raw(f"ews page {i}") for i in range(5)])
    result = run_ews_cycle(mailbox)
    rows = ledger(mailbox.pk)
    assert [r.source_key for r in rows] == [f"ews:{mailbox.pk}:inbox:{item_id}" for item_id in ids]
    assert result.created == 5 and result.handled == 5 and result.lag_seconds is not None
    mine = [r for r in ews.requests if r.login == login]
    syncs = [r for r in mine if r.operation == "SyncFolderItems"]
    assert len(syncs) >= 3  # 5 creates at 2 a page, then the read-flag changes of our own post-actions
    assert sorted(item for _, item, read in ews.updates if read and item in ids) == sorted(ids)
    assert all(process_inbound(r.pk) == "processed" for r in rows)
    cursor = FolderCursor.objects.get(mailbox_id=mailbox.pk, folder="inbox")
    assert cursor.state[STATE_KEY]
    before = len(ews.requests)
    again = run_ews_cycle(mailbox)
    assert again.created == 0 and len(ledger(mailbox.pk)) == 5
    assert not [r for r in ews.requests[before:] if r.operation == "GetItem"]


def test_second_cycle_reads_only_items_that_arrived_since(ews: EwsStandin) -> None:
    """GIVEN a cycle that read 2 messages WHEN 3 more arrive and a cycle runs THEN only those 3 are fetched (GetItem
    asks for 3 ids) and committed; the read-flag changes of the first cycle fetch nothing."""
    login = "incremental@example.test"
    mailbox = ews_mailbox(ews, login)
    ews.store.deliver(login, [build_raw(f"ews first {i}") for i in range(2)])
    assert run_ews_cycle(mailbox).created == 2
    before = len(ews.requests)
    later = ews.store.deliver(login, [build_raw(f"ews later {i}") for i in range(3)])
    assert run_ews_cycle(mailbox).created == 3
    fetches = [r for r in ews.requests[before:] if r.operation == "GetItem"]
    assert [r.items for r in fetches] == [3]
    assert {r.source_key.rsplit(":", 1)[1] for r in ledger(mailbox.pk)[2:]} == set(later)


class CrashingSession(EwsSession):
    """A session whose post-action fails once, as a crash between the commit and the post-action would."""

    crashes = 1

    def apply_post_action(self, refs: Any, action: Any, move_to: str = "") -> None:
        if CrashingSession.crashes:
            CrashingSession.crashes -= 1
            raise RuntimeError("simulated crash after the commit")
        super().apply_post_action(refs, action, move_to)


def crashing_opener(endpoint: EwsEndpoint, credentials: EwsCredentials) -> EwsSession:
    session = open_session(endpoint, credentials)
    return CrashingSession(session.account, session.endpoint)


@pytest.mark.parametrize("post_action", ["seen", "move", "delete"])
def test_a_crash_between_commit_and_post_action_loses_and_doubles_nothing(ews: EwsStandin, post_action: str) -> None:
    """GIVEN 3 messages WHEN the cycle commits them and crashes before the post-action THEN the rows are committed,
    the items untouched on the server and the SyncState not saved; WHEN the next cycle runs THEN no second row, and
    the post-action is applied to each item once."""
    login = f"crash-{post_action}@example.test"
    extra: dict[str, Any] = {"post_action": post_action}
    if post_action == "move":
        ews.store.add_folder(login, "Done")
        extra["move_to"] = "inbox/Done"
    mailbox = ews_mailbox(ews, login, **extra)
    ids = ews.store.deliver(login, [build_raw(f"ews crash {post_action} {i}") for i in range(3)])
    CrashingSession.crashes = 1
    with pytest.raises(RuntimeError):
        run_ews_cycle(mailbox, opener=crashing_opener)
    assert len(ledger(mailbox.pk)) == 3
    assert item_ids(ews, login) == set(ids)
    assert STATE_KEY not in FolderCursor.objects.get(mailbox_id=mailbox.pk, folder="inbox").state
    assert run_ews_cycle(mailbox).created == 0
    assert sorted(r.source_key.rsplit(":", 1)[1] for r in ledger(mailbox.pk)) == sorted(ids)
    if post_action == "seen":
        assert sorted(item for _, item, _ in ews.updates if item in ids) == sorted(ids)
    elif post_action == "move":
        assert sorted(item for _, item, folder in ews.moves if item in ids) == sorted(ids)
        assert ews.store.names_in(login, "Done") == [f"ews crash move {i}" for i in range(3)]
    else:
        assert sorted(item for _, item, kind in ews.deletes if item in ids and kind == "MoveToDeletedItems") == sorted(
            ids
        )
    assert not item_ids(ews, login) & set(ids) or post_action == "seen"


def test_impersonation_reads_the_target_mailbox_and_a_refused_one_fails_in_plain_words(ews: EwsStandin) -> None:
    """GIVEN a service account allowed to impersonate shared@ WHEN its mailbox with impersonation runs THEN it reads
    shared@'s inbox with the ExchangeImpersonation header; GIVEN a mailbox it may not impersonate THEN the cycle
    fails with one line naming ErrorImpersonateUserDenied and the role to grant."""
    service = "svc-imp@example.test"
    ews.add_user(service, "svc-pw")
    ews.impersonation[service] = {"shared-imp@example.test"}
    ids = ews.store.deliver("shared-imp@example.test", [build_raw("ews for the shared mailbox")])
    mailbox = ews_mailbox(ews, service, "svc-pw", impersonation=True, primary_smtp_address="shared-imp@example.test")
    assert run_ews_cycle(mailbox).created == 1
    assert ledger(mailbox.pk)[0].source_key == f"ews:{mailbox.pk}:inbox:{ids[0]}"
    syncs = [r for r in ews.requests_of("SyncFolderItems") if r.login == service]
    assert syncs and all(r.impersonating == "shared-imp@example.test" for r in syncs)
    refused = ews_mailbox(ews, service, "svc-pw", impersonation=True, primary_smtp_address="ceo@example.test")
    with pytest.raises(EwsSetupError) as caught:
        run_ews_cycle(refused)
    message = describe_error(caught.value)
    assert "may not impersonate ceo@example.test" in message and "ErrorImpersonateUserDenied" in message
    assert "\n" not in message and "svc-pw" not in message


def test_a_shared_mailbox_opens_as_a_delegate_with_full_access_only(ews: EwsStandin) -> None:
    """GIVEN a user with full access to team@ WHEN its mailbox names team@ without impersonation THEN team@'s inbox is
    read (folder ids name the mailbox); GIVEN no full access THEN a plain ErrorAccessDenied line."""
    user = "agent@example.test"
    ews.add_user(user, "agent-pw")
    ews.full_access[user] = {"team@example.test"}
    ews.store.deliver("team@example.test", [build_raw("ews team 1"), build_raw("ews team 2")])
    mailbox = ews_mailbox(ews, user, "agent-pw", primary_smtp_address="team@example.test")
    assert run_ews_cycle(mailbox).created == 2
    assert all(r.impersonating == "" for r in ews.requests if r.login == user)
    other = ews_mailbox(ews, user, "agent-pw", primary_smtp_address="board@example.test")
    with pytest.raises(EwsSetupError, match=r"may not open the mailbox board@example\.test"):
        run_ews_cycle(other)


def test_server_busy_is_honoured_with_the_requested_back_off(ews: EwsStandin) -> None:
    """GIVEN the server answers the first SyncFolderItems with ErrorServerBusy and BackOffMilliseconds=400 WHEN a cycle
    runs THEN the same request is sent again no sooner than 400 ms later (the server's clock) and the cycle ends with
    the message committed."""
    login = "busy@example.test"
    mailbox = ews_mailbox(ews, login)
    ews.store.deliver(login, [build_raw("ews busy")])
    ews.throttle(400, operation="SyncFolderItems")
    assert run_ews_cycle(mailbox).created == 1
    syncs = [r for r in ews.requests_of("SyncFolderItems") if r.login == login]
    assert [r.status for r in syncs[:2]] == [500, 200]
    assert syncs[1].at - syncs[0].at >= 0.4


def test_a_back_off_beyond_the_cap_fails_the_cycle_at_once_with_a_plain_line(ews: EwsStandin) -> None:
    """GIVEN ErrorServerBusy asking for an hour WHEN a cycle runs THEN it does not wait: it fails with one line saying
    the server throttles and how long it asked for (the poller retries later)."""
    login = "throttled@example.test"
    mailbox = ews_mailbox(ews, login)
    ews.throttle(3_600_000, operation="SyncFolderItems")
    with pytest.raises(EwsError) as caught:
        run_ews_cycle(mailbox)
    assert "throttling" in str(caught.value) and "3600 s" in str(caught.value)


def test_a_wrong_password_is_reported_as_a_refused_login(ews: EwsStandin) -> None:
    """GIVEN a wrong password WHEN a cycle runs THEN HTTP 401 becomes one plain line naming the login (not the
    password), with no retry loop; the health record keeps that line."""
    login = "wrongpw@example.test"
    ews.add_user(login, "right-pw")
    mailbox = ews_mailbox(ews, login, "not-the-pw")
    with pytest.raises(EwsSetupError) as caught:
        run_ews_cycle(mailbox)
    message = describe_error(caught.value)
    assert message.startswith(f"the server refused the login of {login} (HTTP 401)")
    assert "not-the-pw" not in message
    assert len([r for r in ews.requests if r.status == 401 and r.at]) >= 1
    record_cycle(mailbox.pk, mailbox.created_at, error=message, threshold=3)
    health = get_health(mailbox.pk)
    assert health is not None and health.last_error == message


def test_an_untrusted_certificate_and_a_closed_port_are_worded_plainly(ews: EwsStandin) -> None:
    """GIVEN no CA bundle for the stand-in's private CA THEN the certificate is refused in plain words (nothing sent);
    GIVEN a closed port THEN 'unreachable'."""
    login = "tls@example.test"
    mailbox = ews_mailbox(ews, login, ca_file="")
    before = len(ews.requests)
    with pytest.raises(EwsSetupError, match=r"certificate of .* is not trusted .*checked against the system store"):
        run_ews_cycle(mailbox)
    assert len(ews.requests) == before
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    mailbox.settings = {**mailbox.settings, "url": f"https://127.0.0.1:{closed}/EWS/Exchange.asmx"}
    mailbox.save(update_fields=["settings"])
    with pytest.raises(EwsError, match="is unreachable: connection refused"):
        run_ews_cycle(mailbox)


def test_a_refused_sync_state_restarts_the_folder_without_duplicates(ews: EwsStandin) -> None:
    """GIVEN a stored SyncState the server no longer accepts (ErrorInvalidSyncStateData) WHEN a cycle runs THEN the
    folder is synced from the start, the ledger keeps each message once and a valid state is saved."""
    login = "resync@example.test"
    mailbox = ews_mailbox(ews, login)
    ews.store.deliver(login, [build_raw("ews resync 1")])
    run_ews_cycle(mailbox)
    FolderCursor.objects.filter(mailbox_id=mailbox.pk).update(state={STATE_KEY: "H4sIAAAAAAAEAGNgYGBgBAAAAP//"})
    ews.store.deliver(login, [build_raw("ews resync 2")])
    assert run_ews_cycle(mailbox).created == 1
    assert len(ledger(mailbox.pk)) == 2
    assert FolderCursor.objects.get(mailbox_id=mailbox.pk).state[STATE_KEY] != "H4sIAAAAAAAEAGNgYGBgBAAAAP//"


def test_a_subfolder_is_read_and_a_bearer_token_logs_in(ews: EwsStandin) -> None:
    """GIVEN auth_type oauth with a token the server knows and folders inbox/Support WHEN a cycle runs THEN the
    subfolder is found by FindFolder and read; GIVEN a token it does not know THEN a plain 401 line."""
    login = "oauth@example.test"
    ews.add_user(login, "unused-pw")
    ews.tokens["good-token"] = login
    ews.store.add_folder(login, "Support")
    ews.store.deliver(login, [build_raw("ews support 1")], folder="Support")
    mailbox = ews_mailbox(ews, login, "unused-pw", auth_type="oauth", folders=["inbox/Support"], post_action="keep")
    mailbox.secrets = {"ews_access_token": "good-token"}
    mailbox.save(update_fields=["secrets"])
    assert run_ews_cycle(mailbox).created == 1
    assert ledger(mailbox.pk)[0].source_key.startswith(f"ews:{mailbox.pk}:inbox/Support:")
    mailbox.secrets = {"ews_access_token": "stale-token"}
    mailbox.save(update_fields=["secrets"])
    with pytest.raises(EwsSetupError, match="refused the access token"):
        run_ews_cycle(mailbox)


def test_an_item_gone_before_the_post_action_is_no_error(ews: EwsStandin) -> None:
    """GIVEN an item a person deleted after it was fetched WHEN the post-action runs THEN the others are acted on."""
    login = "gone@example.test"
    ews.add_user(login, "gone-pw")
    ids = ews.store.deliver(login, [build_raw("ews gone 1"), build_raw("ews gone 2")])
    endpoint = EwsEndpoint(
        url=ews.url, username=login, mailbox=login, auth_type="basic", ca_file=str(ews.ca_file), allow_private=True
    )
    session = open_session(endpoint, EwsCredentials(password="gone-pw"))
    try:
        page = session.sync_page("inbox", None, 10)
        fetched = session.fetch("inbox", page.created)
        inbox = ews.store.find_folder(login, distinguished="inbox")
        assert inbox is not None
        del inbox.items[ids[0]]
        session.apply_post_action([item.ref for item in fetched] + [ItemRef("AAMkADnone", "CQAAAA")], "seen")
    finally:
        session.close()
    assert [item for _, item, _ in ews.updates if item in ids] == [ids[1]]


def test_the_process_proxy_variables_do_not_reroute_a_mailbox(ews: EwsStandin, monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN HTTPS_PROXY pointing at a closed port in the process environment WHEN a cycle runs THEN it still goes
    straight to the checked address (proxies are chosen per mailbox, never by the environment)."""
    login = "noproxy@example.test"
    mailbox = ews_mailbox(ews, login)
    ews.store.deliver(login, [build_raw("ews no proxy")])
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "")
    assert run_ews_cycle(mailbox).created == 1
