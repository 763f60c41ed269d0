"""Find the sender's signature at the end of a reply: "-- " blocks, "Sent from my iPhone", sign-offs, contact cards."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

MAX_DELIMITED_LINES: Final = 30  # non-empty lines after "-- " (RFC 3676 4.3 sets no limit; long blocks are not sigs)
MAX_SIGNATURE_LINES: Final = 10  # non-empty lines after a sign-off or device line (talon's bruteforce uses 11)
MAX_SIGNATURE_LINE_CHARS: Final = 100  # talon's bruteforce: signature lines are short
MAX_CONTACT_LINES: Final = 8  # a contact card: name, title, company, phone, mail, web
MAX_DEVICE_LINE_CHARS: Final = 80
MAX_DEVICE_WORDS: Final = 9

_LINKS: Final = re.compile(
    r"\[([^\]\n]{0,200})\]\([^)\n]{0,500}\)|<?https?://[^\s>)]{0,500}>?|\(https?://[^)\s]{0,500}\)"
)
_DELIMITER: Final = re.compile(r"^[-_=~*#+—–•·ᐧ]{2,}$|^ᐧ$")  # noqa: RUF001 - multilingual patterns: the look-alike characters are meant
_LOOSE_DELIMITERS: Final = frozenset({"--", "---"})
_DEVICE: Final = re.compile(
    r"^(?:sent\s+(?:from|via|with|by|using)\s.+|(?:envoyé|envoye)\s+(?:de|depuis|avec)\s.+"
    r"|von\s+meinem\s.{1,60}\s(?:gesendet|versendet)|gesendet\s+(?:von|mit|vom)\s.+"
    r"|diese\s+nachricht\s+wurde\s+von\s.{1,80}\s+gesendet|enviado\s+(?:desde|do|de|con|com)\s.+"
    r"|inviato\s+(?:da|dal|con)\s.+|(?:verzonden|verstuurd)\s+(?:vanaf|met|van)\s.+|skickat\s+från\s.+"
    r"|från\s+min\s.+|sendt\s+fra\s.+|wysłane\s+z\s.+|wysłano\s+z\s.+|отправлено\s+с\s.+"  # noqa: RUF001 - multilingual patterns: the look-alike characters are meant
    r"|lähetetty\s.+|odesláno\s+z\s.+|get\s+outlook\s+for\s.+|from\s+my\s.{1,30}|\w+\s+from\s+mobile"
    r"|(?:sent\s+)?via\s+(?:mobile|my\s+\w+)|.{1,20}から送信|从我的.{1,20}发送|從我的.{1,20}傳送|發自我的.{1,20})$",
    re.I,
)
_CLOSINGS: Final = (
    r"best\s+regards|kind\s+regards|warm\s+regards|warmest\s+regards|many\s+thanks|thanks\s+again"
    r"|thanks\s+in\s+advance|thanks\s+a\s+lot|thank\s+you|regards|best\s+wishes|all\s+the\s+best|best|cheers|thanks"
    r"|thx|sincerely|yours\s+sincerely|yours\s+truly|yours|respectfully|cordially|take\s+care|br"
    r"|mit\s+freundlichen\s+gr(?:ü|ue|u)(?:ß|ss)en|mit\s+lieben\s+gr(?:ü|ue)(?:ß|ss)en|freundliche\s+gr(?:ü|ue)(?:ß|ss)e"
    r"|viele\s+gr(?:ü|ue)(?:ß|ss)e|beste\s+gr(?:ü|ue)(?:ß|ss)e|liebe\s+gr(?:ü|ue)(?:ß|ss)e|sch(?:ö|oe)ne\s+gr(?:ü|ue)(?:ß|ss)e"
    r"|gr(?:ü|ue)(?:ß|ss)e|gru(?:ß|ss)|lg|vg|mfg|danke|vielen\s+dank|bien\s+cordialement|cordialement"
    r"|bien\s+à\s+vous|salutations|merci|amicalement|un\s+saludo|saludos\s+cordiales|saludos|atentamente|gracias"
    r"|atenciosamente|abraços|obrigad[oa]|cumprimentos|cordiali\s+saluti|distinti\s+saluti|saluti|grazie"
    r"|met\s+vriendelijke\s+groet(?:en)?|vriendelijke\s+groet(?:en)?|groeten|groet|bedankt"
    r"|med\s+vänliga\s+hälsningar|vänliga\s+hälsningar|hälsningar|mvh|med\s+venlig\s+hilsen|venlig\s+hilsen"
    r"|med\s+vennlig\s+hilsen|hilsen|pozdrawiam|z\s+poważaniem|с\s+уважением|спасибо|ystävällisin\s+terveisin"  # noqa: RUF001 - multilingual patterns: the look-alike characters are meant
    r"|terveisin|üdvözlettel|s\s+pozdravem|saygılarımla|よろしくお願いします|よろしくお願いいたします|此致|谢谢|謝謝"  # noqa: RUF001 - multilingual patterns: the look-alike characters are meant
)
_CLOSING: Final = re.compile(
    rf"^(?i:{_CLOSINGS})(?:\s*[,.!:;]+\s*|\s+)?(?:[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){{0,2}})?\s*[,.!]?$"
)
_DASH_NAME: Final = re.compile(r"^[-–—~]\s?[^\W\d_][\w.']*(?:\s[\w.']+){0,2}\.?$")  # noqa: RUF001 - multilingual patterns: the look-alike characters are meant
_LIST_ITEM: Final = re.compile(r"^[-–—*•+]\s?\w")  # noqa: RUF001 - multilingual patterns: the look-alike characters are meant
_NAME_LINE: Final = re.compile(r"^[^\W\d_][\w.'-]*(?:\s+[^\W\d_][\w.'-]*){0,3}$")
_SENTENCE_END: Final = re.compile(r"[a-z]{4,}[.?!:]$")
_CONTACT: Final = re.compile(
    r"[\w.+-]+@[\w-]+\.[\w.-]+|https?://|www\.|(?:\+|\()?\d[\d ().-]{6,}\d"
    r"|^(?:#\w+#)?(?:tel|phone|mobile|mobil|cell|fax|skype|web|t|f|m|p)\s*[.:]",
    re.I,
)


def clean_line(line: str) -> str:
    """A line with links reduced to their text and decoration (brackets, quote marks) stripped."""
    text = _LINKS.sub(lambda match: match.group(1) or "", line) if ("http" in line or "](" in line) else line
    return text.strip().strip("()<>[]\"'").strip()


def is_delimiter_line(line: str) -> bool:
    """True for "-- ", "--", "___", "===" and similar rule lines that open a signature or a footer."""
    stripped = line.strip()
    return len(stripped) <= 120 and _DELIMITER.match(stripped) is not None


def is_device_line(line: str) -> bool:
    """True for a mobile client's signature line: "Sent from my iPhone", "Von meinem iPhone gesendet"."""
    if len(line) > 400:
        return False
    text = clean_line(line).rstrip(".!")
    if not text or len(text) > MAX_DEVICE_LINE_CHARS or "," in text or len(text.split()) > MAX_DEVICE_WORDS:
        return False
    return _DEVICE.match(text) is not None


def is_closing_line(line: str) -> bool:
    """True for a sign-off line such as "Best regards,", "Thanks!", "Regards, Roman", "Mit freundlichen Grüßen"."""
    stripped = line.strip()
    return 0 < len(stripped) <= 60 and _CLOSING.match(stripped) is not None


def _is_contact_line(line: str) -> bool:
    return _CONTACT.search(line) is not None


def _counts_after(lines: Sequence[str]) -> list[int]:
    """For each index, how many non-empty lines follow it."""
    counts = [0] * (len(lines) + 1)
    for index in range(len(lines) - 1, -1, -1):
        counts[index] = counts[index + 1] + (1 if lines[index].strip() else 0)
    return counts[:-1] if lines else []


def _tail_fits(lines: Sequence[str], start: int, *, max_lines: int, max_chars: int, prose_ok: bool) -> bool:
    """Lines after `start` look like a signature: few, short, device lines free, no sentences unless allowed."""
    body = 0
    for line in lines[start + 1 :]:
        stripped = line.strip()
        if not stripped or is_device_line(stripped) or is_delimiter_line(stripped):
            continue
        body += 1
        if body > max_lines or len(stripped) > max_chars:
            return False
        if not prose_ok and (_SENTENCE_END.search(stripped) or len(stripped.split()) > 6 or stripped.endswith("?")):
            return False
    return True


def _blank_before(lines: Sequence[str], index: int) -> bool:
    return index == 0 or not lines[index - 1].strip()


def _previous_text(lines: Sequence[str], index: int) -> str:
    for back in range(index - 1, -1, -1):
        if lines[back].strip():
            return lines[back].strip()
    return ""


def _starts_signature(lines: Sequence[str], index: int, after: int) -> int | None:  # noqa: PLR0911 - one return per rule of a decision list
    """Where a signature starting at `index` begins (a name above a device line moves it up), or None."""
    line = lines[index].strip()
    if is_delimiter_line(line):
        if line in _LOOSE_DELIMITERS:
            ok = after <= MAX_DELIMITED_LINES
            return index if ok and _tail_fits(lines, index, max_lines=30, max_chars=200, prose_ok=True) else None
        if (not _blank_before(lines, index) and not line.startswith("_")) or after > MAX_SIGNATURE_LINES + 5:
            return None
        return index if _tail_fits(lines, index, max_lines=15, max_chars=120, prose_ok=True) else None
    if is_device_line(line):
        if not _tail_fits(lines, index, max_lines=MAX_SIGNATURE_LINES, max_chars=120, prose_ok=True):
            return None
        above = index - 1
        if above >= 1 and _NAME_LINE.match(lines[above].strip()) and _blank_before(lines, above):
            return above
        return index
    if is_closing_line(line):
        fits = _tail_fits(lines, index, max_lines=MAX_SIGNATURE_LINES, max_chars=80, prose_ok=False)
        return index if after <= MAX_SIGNATURE_LINES and fits else None
    if _DASH_NAME.match(line) and after <= 6 and not _LIST_ITEM.match(_previous_text(lines, index)):
        tail = [rest.strip() for rest in lines[index + 1 :] if rest.strip()]
        if any(_LIST_ITEM.match(rest) and not is_delimiter_line(rest) for rest in tail):
            return None
        return index if _tail_fits(lines, index, max_lines=6, max_chars=120, prose_ok=True) else None
    return _starts_contact_card(lines, index, after)


def _starts_contact_card(lines: Sequence[str], index: int, after: int) -> int | None:
    """A last paragraph of short lines, two of them phone, mail or web: the sender's contact card."""
    if after + 1 > MAX_CONTACT_LINES or not _blank_before(lines, index):
        return None
    tail = [line.strip() for line in lines[index:] if line.strip()]
    if any(len(line) > 80 for line in tail) or tail[0].endswith(("?", ":")) or len(tail[0]) > 50:
        return None
    paragraph_end = next((i for i in range(index, len(lines)) if not lines[i].strip()), len(lines))
    if any(line.strip() for line in lines[paragraph_end:]):
        return None  # the card is the final paragraph
    return index if sum(1 for line in tail if _is_contact_line(line)) >= 2 else None


def find_signature_start(lines: Sequence[str], first_allowed: int = 1) -> int | None:
    """Index of the first line of a trailing signature in `lines`, never before `first_allowed`; None if none."""
    if not lines:
        return None
    counts = _counts_after(lines)
    for index in range(max(first_allowed, 0), len(lines)):
        if not lines[index].strip() or counts[index] > MAX_DELIMITED_LINES:
            continue
        start = _starts_signature(lines, index, counts[index])
        if start is not None and start >= first_allowed:
            return start
    return None


def is_signature_block(lines: Sequence[str]) -> bool:
    """True when the whole of `lines` is a signature (e.g. the "Regards, Roman" after a quote)."""
    filled = [index for index, line in enumerate(lines) if line.strip()]
    if not filled:
        return True
    first = filled[0]
    return find_signature_start(lines, first) == first
