"""Why a mailbox has no OAuth access token: each error is one plain line an admin can act on, never a secret."""

from __future__ import annotations

from postroom.mail.errors import MailError, PermanentError, TransientError


def consent_path(mailbox_id: int) -> str:
    """The console page where an admin signs the mailbox in (web/oauth_views.py)."""
    return f"/admin/mailboxes/{mailbox_id}/oauth/"


class OAuthFailedError(MailError):
    """Any of the below: its message is the mailbox's last error as it stands (one line, no secret)."""


class OAuthConfigError(OAuthFailedError, PermanentError, ValueError):
    """The mailbox's `oauth` settings cannot work (unknown provider, no client id, a grant the provider lacks)."""


class OAuthSignInRequiredError(OAuthFailedError, PermanentError):
    """No usable refresh token: never signed in, or the provider revoked or expired it (RFC 6749 invalid_grant)."""


class OAuthRefusedError(OAuthFailedError, PermanentError):
    """The token endpoint refused the client itself (invalid_client, unauthorized_client, invalid_scope...)."""


class OAuthUnavailableError(OAuthFailedError, TransientError):
    """The token endpoint did not answer usefully (network, timeout, HTTP 5xx): the next cycle tries again."""


def revoked_error(mailbox_id: int, detail: str = "") -> OAuthSignInRequiredError:
    said = f" ({detail})" if detail else ""
    return OAuthSignInRequiredError(
        f"OAuth refresh token was revoked or expired{said}: an admin must sign in again at {consent_path(mailbox_id)}"
    )


def not_signed_in_error(mailbox_id: int) -> OAuthSignInRequiredError:
    return OAuthSignInRequiredError(
        f"OAuth is set up but nobody signed in yet: an admin must sign in at {consent_path(mailbox_id)}"
    )
