"""OAuth tokens for a mailbox's own submission server (postroom.outbound.relay): the SMTP client's TokenProvider."""

from __future__ import annotations

from postroom.connectors.oauth.config import has_oauth
from postroom.connectors.oauth.store import MailboxTokenSource
from postroom.mail.transport.smtp_values import SmtpSettings
from postroom.mailboxes.models import Mailbox


class MailboxSmtpTokens:
    """Callable as `smtp_values.TokenProvider`; `invalidate()` after a refused AUTH gets a fresh token once."""

    def __init__(self, mailbox_id: int) -> None:
        self.source = MailboxTokenSource(mailbox_id)

    def __call__(self, settings: SmtpSettings) -> str:
        return self.source.access_token()

    def invalidate(self) -> None:
        self.source.invalidate()


def find_smtp_token_provider(mailbox: Mailbox) -> MailboxSmtpTokens | None:
    """The mailbox's token provider when it signs in with OAuth, else None."""
    return MailboxSmtpTokens(mailbox.pk) if has_oauth(mailbox) else None
