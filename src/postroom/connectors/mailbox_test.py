"""The "Test connection" action for any mailbox: the servers' test (postroom.mailboxes.probe), signed in with the
mailbox's OAuth access token when it uses OAuth (fetched or refreshed first, like the reader does)."""

from __future__ import annotations

from postroom.connectors.oauth.errors import OAuthFailedError
from postroom.connectors.oauth.login import find_token_login
from postroom.mailboxes.models import ConnectorKind, Mailbox
from postroom.mailboxes.probe import MailboxTestResult, probe_mailbox


def run_connection_test(mailbox: Mailbox, *, record: bool = True) -> MailboxTestResult:
    """Test every server of the mailbox; an OAuth mailbox whose token cannot be had reports why, in one line."""
    if mailbox.kind != ConnectorKind.IMAP:
        return probe_mailbox(mailbox, record=record)
    try:
        login = find_token_login(mailbox)
        token = login.source.access_token() if login is not None else ""
    except OAuthFailedError as e:
        return probe_mailbox(mailbox, record=record, sign_in_error=str(e))
    return probe_mailbox(mailbox, record=record, inbound_token=token)
