"""Forwarded mail and embedded replies: find them in a body, unwrap them, read the original's headers.

`unwrap_text`/`unwrap_html` find the reply, forward or quote embedded in a body; `quote_text`/`quote_html`
split a body into the new and the quoted part; `detect_forward` decides whether a parsed message forwards
another one and returns what is known of the original.
"""

from postroom.mail.forwards.dates import parse_written_date
from postroom.mail.forwards.detect import detect_forward, parse_author
from postroom.mail.forwards.markup import quote_html, unwrap_html
from postroom.mail.forwards.patterns import parse_reply_line
from postroom.mail.forwards.text import quote_text, unwrap_text
from postroom.mail.forwards.values import ForwardInfo, Unwrapped

__all__ = [
    "ForwardInfo",
    "Unwrapped",
    "detect_forward",
    "parse_author",
    "parse_reply_line",
    "parse_written_date",
    "quote_html",
    "quote_text",
    "unwrap_html",
    "unwrap_text",
]
