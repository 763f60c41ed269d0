"""What unwrapping a reply or forward yields: the embedded message's header values and the text around it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from postroom.mail.values import Address

UnwrapKind = Literal["reply", "forward", "quote"]


@dataclass(frozen=True, slots=True)
class Unwrapped:
    """An embedded message found in a body; header values are as written (None when absent).

    `kind` is "quote" for a quoted block without an intro line or headers ("> ..." lines only).
    """

    kind: UnwrapKind
    from_: str | None
    to: str | None
    cc: str | None
    date: str | None
    subject: str | None
    text_top: str  # what the forwarder/replier wrote above
    text: str  # the embedded message's body, unquoted
    text_bottom: str  # what follows the embedded message (text below a quote)
    html_top: str | None = None
    html: str | None = None
    html_bottom: str | None = None
    reply_to: str | None = None
    bcc: str | None = None
    intro: str | None = None  # the line that introduced it ("On ... wrote:", "---- Forwarded message ----")


@dataclass(frozen=True, slots=True)
class ForwardInfo:
    """The original message of a forward: who wrote it, when, about what, and its text."""

    from_: Address | None
    date: dt.datetime | None  # aware when the written date could be read
    date_text: str | None  # the date as the forwarding client wrote it
    subject: str | None
    text: str
