"""What an IMAP or POP3 reader signs in with when its mailbox uses OAuth: a token source and a SASL mechanism."""

from __future__ import annotations

from dataclasses import dataclass

from postroom.connectors.oauth.config import build_oauth_config, has_oauth
from postroom.connectors.oauth.store import MailboxTokenSource
from postroom.mail.transport.sasl_oauth import OAuthMechanism
from postroom.mailboxes.models import Mailbox


@dataclass(frozen=True, slots=True)
class TokenLogin:
    source: MailboxTokenSource
    mechanism: OAuthMechanism


def find_token_login(mailbox: Mailbox) -> TokenLogin | None:
    """None for a password mailbox; raise OAuthConfigError when its `oauth` settings cannot work."""
    if not has_oauth(mailbox):
        return None
    config = build_oauth_config(mailbox)
    return TokenLogin(MailboxTokenSource(mailbox.pk), config.mechanism)
