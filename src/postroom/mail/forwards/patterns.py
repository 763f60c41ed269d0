"""The words mail clients write above a quoted or forwarded message, and the header names of a forward block.

Collected from Gmail, Outlook, Apple Mail, Thunderbird, Mail.ru, Yahoo and iOS Mail in their localised versions;
the shapes (an "On <date>, <author> wrote:" line, a dashed "Forwarded message" rule, a "From:/Sent:/To:/Subject:"
block) follow quotequail (MIT, closeio/quotequail), whose test corpus `tests/corpus_runners` checks them against.
"""

from __future__ import annotations

import re
from typing import Final, Literal

IntroKind = Literal["reply", "forward"]

# "On <date>, <author> wrote:" in its languages. Two groups: (date, author); one group: date and author together,
# split by `split_date_author`. Anchored to the whole (stripped) line.
_REPLY_LINES: Final = (
    r"On (.*) wrote\s?:",  # English (Gmail, Apple Mail, Thunderbird)
    r"Am (.*) schrieb (.*):",  # German
    r"Le (.*) a écrit\s?:",  # French
    r"El (.*) escribió\s?:",  # Spanish
    r"Em (.*) escreveu\s?:",  # Portuguese
    r"Il (.*) ha scritto\s?:",  # Italian
    r"Op (.*) schreef (.*):",  # Dutch
    r"Den (.*) skrev (.*):",  # Swedish, Danish, Norwegian
    r"W dniu (.*) pisze\s?:",  # Polish
    r"(.*) написал(?:\(а\)|а)?\s?:",  # noqa: RUF001 - Russian: the Cyrillic letter is meant
    r"([0-9]{4}/[0-9]{1,2}/[0-9]{1,2}) (.* <.*@.*>)",  # older Gmail: "2009/5/12 Name <a@b>"
)
REPLY_LINE_RES: Final = tuple(re.compile(rf"^{pattern}$") for pattern in _REPLY_LINES)

# Titles of the separator a client writes above a forwarded (or, in Outlook, an answered) message.
_FORWARD_TITLES: Final = (
    "Begin forwarded message",  # Apple Mail
    "Anfang der weitergeleiteten (?:E-Mail|Nachricht)",
    "Début du message réexpédié",
    "Inicio del mensaje reenviado",
    "Inizio messaggio inoltrato",
    "Begin doorgestuurd bericht",
    "Forwarded message",  # Gmail, Evolution, Thunderbird
    "Forwarded e-?mail",
    "Weitergeleitete Nachricht",
    "Mensaje reenviado",
    "Messaggio inoltrato",
    "Mensagem encaminhada",
    "Doorgestuurd bericht",
    "Vidarebefordrat meddelande",
    "Videresendt meddelelse",
    "Videresendt melding",
    "Message transféré",
    "Wiadomość przekazana",
    "Пересылаемое сообщение",  # Mail.ru
    "Пересланное сообщение",
    "転送されたメッセージ",
    "转发的邮件",
    "Original message",  # Outlook (also above replies), Thunderbird
    "Ursprüngliche Nachricht",
    "Original-Nachricht",
    "Message d'origine",
    "Mensaje original",
    "Messaggio originale",
    "Mensagem original",
    "Oorspronkelijk bericht",
    "Originalmeddelande",
    "Исходное сообщение",
    "原始邮件",
    "元のメッセージ",
)
_TITLES: Final = "|".join(_FORWARD_TITLES)
FORWARD_RULE: Final = "_" * 32  # Outlook's rule above a forward; also the line `htmllines` puts for a border
_FORWARD_LINES: Final = (
    r"_{20,}",
    rf"-{{2,}}\s?(?:{_TITLES})\s?-{{2,}}",
    rf"(?:{_TITLES})\s?:",
)
INTRO_ENDINGS: Final = (":", "：", "-", "_", ">")  # noqa: RUF001 - full-width colon is meant
FORWARD_LINE_RES: Final = tuple(re.compile(rf"^{pattern}$", re.IGNORECASE) for pattern in _FORWARD_LINES)
# titles that say "forward" outright, as opposed to Outlook's "Original Message" which also heads replies
EXPLICIT_FORWARD_RE: Final = re.compile(
    r"forward|weitergeleitet|réexpédié|transféré|reenviado|inoltrato|encaminhada|doorgestuurd|vidarebefordrat"
    r"|videresendt|przekazana|пересыла|переслан|転送|转发",
    re.IGNORECASE,
)

# "Name: value" on one line; "*From:* x" is how HTML bold survives a conversion to text.
HEADER_LINE_RE: Final = re.compile(r"^\s*\*?([-\w]+(?: [-\w]+){0,3})\s*[:：]\*?(.*)$")  # noqa: RUF001 - full-width colon is meant
HeaderName = Literal["from", "to", "cc", "bcc", "reply-to", "date", "subject"]
HEADER_NAMES: Final[dict[str, HeaderName]] = {
    **dict.fromkeys(
        ("from", "von", "de", "da", "van", "från", "fra", "od", "от", "от кого", "发件人", "差出人"), "from"
    ),
    **dict.fromkeys(
        ("to", "an", "para", "à", "a", "pour", "aan", "till", "til", "do", "кому", "收件人", "宛先"), "to"
    ),
    **dict.fromkeys(("cc", "kopie", "kopia", "copie", "copia", "kopi", "копия", "抄送", "dw"), "cc"),
    **dict.fromkeys(("bcc", "cco", "blindkopie", "bcc"), "bcc"),
    **dict.fromkeys(("reply-to", "antwort an", "répondre à", "responder a", "rispondi a"), "reply-to"),
    **dict.fromkeys(
        (
            "date", "sent", "received", "datum", "gesendet", "envoyé", "envoyé le", "enviado", "enviado el",
            "enviados", "enviada", "enviada em", "fecha", "data", "inviato", "verzonden", "skickat", "sendt",
            "wysłano", "дата", "отправлено", "发送时间", "日期", "送信日時", "日付",
        ),
        "date",
    ),
    **dict.fromkeys(
        (
            "subject", "betreff", "asunto", "objet", "sujet", "oggetto", "assunto", "onderwerp", "ämne", "emne",
            "temat", "тема", "主题", "主旨", "件名",
        ),
        "subject",
    ),
}  # fmt: skip

MAX_REPLY_LINE_CHARS: Final = 1000  # an intro line is short; longer text is not one (keeps the regexes linear)
# "Monday, March 7, 2016 10:19 AM, John Doe": the date ends with a time (and maybe AM/PM) before ", author"
_DATE_THEN_AUTHOR: Final = re.compile(r"^(.*:[0-9]{2}(?: ?[apAP]\.?[mM]\.?)?), (.*)$")


def split_date_author(text: str) -> tuple[str, str] | None:
    """Split "<date>, <author>" at the comma after the time, else at the last comma."""
    match = _DATE_THEN_AUTHOR.match(text)
    if match is not None:
        return match.group(1), match.group(2)
    date, comma, author = text.rpartition(",")
    return (date, author) if comma else None


def parse_reply_line(line: str) -> tuple[str | None, str | None] | None:
    """("date", "author") of an "On <date>, <author> wrote:" line in any known language; None for other lines."""
    line = line.strip()
    if len(line) > MAX_REPLY_LINE_CHARS:
        return None
    if line.startswith(">"):
        line = line[1:].strip()
    for pattern in REPLY_LINE_RES:
        match = pattern.match(line)
        if match is None:
            continue
        groups = match.groups()
        pair = (groups[0], groups[1]) if len(groups) == 2 else split_date_author(groups[0])
        if pair is None:
            return None, None
        date, author = pair[0].strip(), pair[1].strip()
        return (date or None, author or None)
    return None


def find_intro_kind(line: str) -> IntroKind | None:
    """Whether a (stripped, unquoted) line introduces a reply, a forward, or neither."""
    if not line.endswith(INTRO_ENDINGS):
        return None  # every pattern ends so; most lines are rejected here without a regex
    if any(pattern.match(line) for pattern in REPLY_LINE_RES):
        return "reply"
    if any(pattern.match(line) for pattern in FORWARD_LINE_RES):
        return "forward"
    return None
