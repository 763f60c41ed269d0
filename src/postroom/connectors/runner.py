"""The thread that reads one IMAP mailbox while its poller holds the lease: cycles, then IDLE or a polling pause.

Each mailbox has its own thread and its own connection (reused across cycles), so a server that hangs or refuses
delays nobody else; connects and reads time out after `ImapEndpoint.timeout_seconds`. A failed cycle is recorded
(health.py) and retried after a capped exponential backoff with a fresh connection.
"""

from __future__ import annotations

import logging
import poplib
import threading
from collections.abc import Callable
from typing import Final

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from postroom.connectors.conf import ConnectorConfigError, ImapFetchConfig, build_fetch_config
from postroom.connectors.dbslots import database_slot
from postroom.connectors.ews_conf import EwsFetchConfig, build_ews_config
from postroom.connectors.ews_sync import run_ews_cycle
from postroom.connectors.graph_conf import GraphFetchConfig, build_graph_config
from postroom.connectors.graph_push import wait_for_graph_notification
from postroom.connectors.graph_sync import run_graph_cycle
from postroom.connectors.health import record_cycle
from postroom.connectors.models import FolderCursor
from postroom.connectors.oauth.errors import OAuthFailedError, OAuthSignInRequiredError
from postroom.connectors.oauth.store import MailboxTokenSource
from postroom.connectors.pop3_conf import Pop3FetchConfig, build_pop3_config
from postroom.connectors.pop3_sync import run_pop3_cycle
from postroom.connectors.sync import CycleResult, LeaseLostError, sync_mailbox
from postroom.mail.transport.ews_fetch import EwsError, EwsSetupError
from postroom.mail.transport.ews_fetch import describe_error as describe_ews_error
from postroom.mail.transport.graph_values import GraphError
from postroom.mail.transport.imap_fetch import (
    IDLE_REISSUE_SECONDS,
    FolderState,
    ImapSession,
    describe_error,
    open_session,
)
from postroom.mail.transport.pop3_fetch import Pop3Error, Pop3SetupError
from postroom.mail.transport.pop3_fetch import describe_error as describe_pop3_error
from postroom.mailboxes.models import ConnectorKind, Mailbox

log = logging.getLogger(__name__)

FetchConfig = ImapFetchConfig | Pop3FetchConfig | GraphFetchConfig | EwsFetchConfig

BACKOFF_FIRST_SECONDS: Final = 1.0
BACKOFF_MAX_SECONDS: Final = 300.0  # a broken mailbox is retried at least every 5 minutes


def next_backoff(current: float, cap: float = BACKOFF_MAX_SECONDS) -> float:
    """Double the pause after each failure in a row, up to `cap`."""
    return min(cap, current * 2)


def has_unread_uids(mailbox_id: int, folder: str, state: FolderState) -> bool:
    """Whether the folder holds UIDs past its cursor (or a new UIDVALIDITY): fetch before going idle."""
    cursor = FolderCursor.objects.filter(mailbox_id=mailbox_id, folder=folder).first()
    if cursor is None or cursor.uidvalidity != state.uidvalidity:
        return True
    return state.uidnext > cursor.last_uid + 1


class MailboxRunner:
    """Reads one mailbox until `stop()`; `lease_valid` is asked before every commit (self-fencing)."""

    def __init__(
        self,
        mailbox_id: int,
        lease_valid: Callable[[], bool],
        *,
        backoff_first: float = BACKOFF_FIRST_SECONDS,
        backoff_max: float = BACKOFF_MAX_SECONDS,
    ) -> None:
        self.mailbox_id = mailbox_id
        self.lease_valid = lease_valid
        self.backoff_first = backoff_first
        self.backoff_max = backoff_max
        self.stopping = threading.Event()
        self.session: ImapSession | None = None
        self.thread = threading.Thread(target=self.run, name=f"postroom-imap-{mailbox_id}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)

    def is_alive(self) -> bool:
        return self.thread.is_alive()

    def run(self) -> None:
        backoff = self.backoff_first
        try:
            while not self.stopping.is_set():
                try:
                    with database_slot():  # a few connections for all of this poller's readers (dbslots.py)
                        config = self.run_cycle()
                    backoff = self.backoff_first
                    self.wait_for_mail(config)
                except LeaseLostError:
                    log.info("mailbox %s: lease lost, stopping", self.mailbox_id)
                    return
                except Exception as e:
                    with database_slot():
                        self.fail(e)
                    self.stopping.wait(backoff)
                    backoff = next_backoff(backoff, self.backoff_max)
                finally:
                    close_old_connections()
        finally:
            self.drop_session()
            connection.close()  # the thread ends: its database connection must not linger

    def run_cycle(self) -> FetchConfig:
        """Connect if needed, fetch every folder, record the success; the config it used.

        IMAP keeps its session between cycles (IDLE needs it); the other kinds open what they need per cycle.
        """
        mailbox = Mailbox.objects.select_related("tenant").get(pk=self.mailbox_id)
        config: FetchConfig
        if mailbox.kind == ConnectorKind.IMAP:
            config = build_fetch_config(mailbox)
            if self.session is None:
                self.session = open_session(config.endpoint, config.credentials)
            result = sync_mailbox(self.session, mailbox, config, lease_valid=self.lease_valid, stop=self.stopping)
        else:
            self.drop_session()
            config, result = self.run_sessionless_cycle(mailbox)
        if result.created:
            log.info("mailbox %s: %s new messages", self.mailbox_id, result.created)
        if not self.stopping.is_set():
            record_cycle(
                self.mailbox_id,
                timezone.now(),
                error=None,
                lag_seconds=result.lag_seconds,
                threshold=settings.POSTROOM.poller_failure_threshold,
            )
        return config

    def run_sessionless_cycle(self, mailbox: Mailbox) -> tuple[FetchConfig, CycleResult]:
        """POP3 (the maildrop as it was at login: pop3_sync.py), Microsoft Graph (graph_sync.py) and EWS
        (ews_sync.py, with the mailbox's OAuth tokens when it has an `oauth` setting)."""
        valid, stop = self.lease_valid, self.stopping
        if mailbox.kind == ConnectorKind.POP3:
            pop3 = build_pop3_config(mailbox)
            return pop3, run_pop3_cycle(mailbox, pop3, lease_valid=valid, stop=stop)
        if mailbox.kind == ConnectorKind.GRAPH:
            graph = build_graph_config(mailbox)
            return graph, run_graph_cycle(mailbox, graph, lease_valid=valid, stop=stop)
        if mailbox.kind == ConnectorKind.EWS:
            has_oauth = isinstance(mailbox.settings, dict) and bool(mailbox.settings.get("oauth"))
            ews = build_ews_config(mailbox, tokens=MailboxTokenSource(mailbox.pk) if has_oauth else None)
            return ews, run_ews_cycle(mailbox, ews, lease_valid=valid, stop=stop)
        raise ConnectorConfigError(f"a {mailbox.kind} mailbox is not read by the poller")

    def wait_for_mail(self, config: FetchConfig) -> None:
        """IDLE on the first folder when allowed and offered, else sleep `poll_seconds`; a stop ends either.

        POP3 and EWS have no push: they sleep `poll_seconds`. Graph sleeps until a change notification arrives
        (graph_push.py) or `poll_seconds` pass.
        """
        close_old_connections()  # no database connection held open through a long IDLE
        if isinstance(config, GraphFetchConfig):
            wait_for_graph_notification(self.mailbox_id, self.stopping, config.poll_seconds)
            return
        session = self.session
        if not isinstance(config, ImapFetchConfig) or session is None or not config.idle or not session.has_idle:
            self.stopping.wait(config.poll_seconds)
            return
        # One IDLE watches one folder; with several, the others are looked at every poll_seconds.
        timeout = IDLE_REISSUE_SECONDS if len(config.folders) == 1 else min(IDLE_REISSUE_SECONDS, config.poll_seconds)
        state = session.select(config.folders[0])
        with database_slot():
            unread = has_unread_uids(self.mailbox_id, config.folders[0], state)
        if unread:
            return  # mail arrived between the last fetch and this SELECT: IDLE would not announce it
        session.wait_for_mail(self.stopping, timeout)

    def fail(self, error: Exception) -> None:
        pop3 = isinstance(error, Pop3Error | Pop3SetupError | poplib.error_proto)
        detail = describe_pop3_error(error) if pop3 else describe_error(error)
        if isinstance(error, EwsError | EwsSetupError):
            detail = describe_ews_error(error)
        if isinstance(error, OAuthFailedError | GraphError | ConnectorConfigError):
            detail = str(error)  # already one plain line naming what an admin must do
        log.warning("mailbox %s: fetch cycle failed: %s", self.mailbox_id, detail)
        self.drop_session()
        # Retrying cannot bring a revoked refresh token back: admins hear of it after the first failure.
        threshold = 1 if isinstance(error, OAuthSignInRequiredError) else settings.POSTROOM.poller_failure_threshold
        try:
            record_cycle(self.mailbox_id, timezone.now(), error=detail, threshold=threshold)
        except Exception:  # the database is away too: the next cycle records again
            log.exception("mailbox %s: could not record the failure", self.mailbox_id)

    def drop_session(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None
