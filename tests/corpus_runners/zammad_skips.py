"""Zammad parser expectations we judge wrong, per (mail, field), each with the reason."""

from __future__ import annotations

from typing import Final

_MAIL_GEM_UTF7: Final = "Zammad leaves the UTF-7 (+APw-) undecoded; we decode the declared charset"
_NO_CONTENT_TYPE: Final = (
    "the part has no Content-Type: RFC 2045 5.2 makes it text/plain, so it is our body; Zammad attaches it as 'file'"
)

SKIPS: Final[dict[tuple[str, str], str]] = {
    ("mail018", "subject"): _MAIL_GEM_UTF7,
    ("mail018", "body"): _MAIL_GEM_UTF7,
    ("mail021", "body"): "one stray Latin-1 byte in UTF-8: Zammad reads the whole part as Windows-1250 mojibake",
    ("mail025", "body"): "an inline `begin 644` block: we decode it into an attachment and drop it from the text",
    ("mail027", "subject"): "the encoded word holds a CRLF; a subject has no line breaks, so we drop it",
    ("mail044", "from_email"): "`Claudia.Shu@yahoo.com.`: we drop the trailing dot of the domain (repair)",
    ("mail046", "from"): "6 raw GB2312 bytes without a label: Zammad guesses Windows-1250, we Windows-1252; both wrong",
    ("mail046", "from_display_name"): "same raw GB2312 display name as `from`",
    ("mail054", "body"): "a header line lost its folding white space; Zammad loses the body, we repair the fold",
    ("mail073", "attachments"): "RFC 2231 name in us-ascii holding %F6: Zammad shows U+FFFD, we recover `Wölbung`",
    ("mail076", "from_email"): '`"Millions Lottery Spain transfer"@example.com>`: we drop the stray `>`',
    ("mail076", "from_display_name"): "no display name there; Zammad copies the broken address into the name",
    ("mail087", "from_email"): "`Test test@example.com`: we read name `Test` and address `test@example.com`",
    ("mail087", "from_display_name"): "see from_email",
    ("mail087", "attachments"): _NO_CONTENT_TYPE,
    ("mail087", "body"): _NO_CONTENT_TYPE,
    ("mail092", "from"): "the mail gem moves the comment behind the address when it re-renders; we keep the order",
    ("mail096", "message_id"): "no Message-ID in the mail: Zammad makes one up, we report None",
    ("mail097", "message_id"): "no Message-ID in the mail: Zammad makes one up, we report None",
}
