"""Errors raised by the mail core, split by whose fault they are (the sender's or ours)."""


class MailError(Exception):
    """Base class of every error the mail core raises on purpose."""


class ParseError(MailError):
    """The bytes are not a message we can take in (the parser itself never raises; callers may)."""


class TransientError(MailError):
    """Worth retrying later: a server or resource was unavailable."""


class PermanentError(MailError):
    """Retrying will not help: the configuration or the peer refuses for good."""


class SenderError(MailError):
    """The sender's fault (malformed or refused mail): logged at INFO, never an alert."""
