"""The three parts of an inbound reply: what the sender wrote now, the quoted history, the signature."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ReplyParts:
    """A reply split for display and storage; each part trimmed, "" when absent."""

    new_text: str  # what the sender wrote now (trimmed, no trailing blank lines)
    quoted_text: str  # the quoted history, attribution line ("On ... wrote:") included
    signature: str  # the sender's signature block ("-- ", "Sent from my iPhone", "Best regards,\nName")
