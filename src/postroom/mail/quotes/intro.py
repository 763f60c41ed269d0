"""Recognise where quoted history begins: "On ... wrote:" lines, original-message markers, header blocks."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

MAX_INTRO_CHARS: Final = 400  # an intro wrapped over a few lines; longer runs are prose (talon uses ~ the same)
MAX_INTRO_LINE_CHARS: Final = 250  # a single line longer than this is never part of an intro
MAX_INTRO_LINES: Final = 4  # non-empty lines an intro may wrap over (Polymail splits name and address over 4)
MAX_HEADER_GAP: Final = 2  # wrapped value lines tolerated between two header lines of one block

# "wrote" in the languages mail clients localise the attribution line into (single spaces, lower case).
_VERBS: Final = (
    "wrote", "schrieb", "geschrieben", "a écrit", "écrit", "escribió", "escreveu", "schreef",
    "het volgende geschreven", "napisał(a)", "napisała", "napisał", "napsal(a)", "napsal", "написал(а)",  # noqa: RUF001 - multilingual patterns: the look-alike characters are meant
    "написала", "написал", "пише", "skrev", "ha scritto", "scrisse", "đã viết", "kirjoitti", "írta", "yazdı",  # noqa: RUF001 - multilingual patterns: the look-alike characters are meant
    "έγραψε", "a scris", "kirjutas", "rašė", "rakstīja", "je napisal", "написа", "כתב", "كتب",
)  # fmt: skip
_CJK_VERBS: Final = ("写道", "寫道", "のメッセージ", "が書きました", "書きました", "님이 작성")
_ON_ONLY_VERBS: Final = ("writes", "said", "says", "sent")  # too common in prose unless the line starts "On ..."
_VERB_BOUNDARY: Final = frozenset(" \"'>)")
_CLOSING_CHARS: Final = " :：-"  # noqa: RUF001 - multilingual patterns: the look-alike characters are meant
_START_WORDS: Final = r"on|at|am|le|el|op|em|il|den|på|dnia|dňa|dne|w\s+dniu|vào|в|во|στις|pada|kl\.?"
_STARTS_ON: Final = re.compile(rf"^(?:{_START_WORDS})\s", re.I)
_STARTS_CJK: Final = re.compile(r"^在\s?\d")
_STARTS_DATE: Final = re.compile(r"^\d|^[^\W\d_]{2,12}\.?,?\s+\d")  # "2014-10-17", "02.04.2012", "Thu, 26 Jun"
_STARTS_NUMERIC_DATE: Final = re.compile(r"^\d{1,4}(?:[./\-年]|\s)")
_ADDRESS: Final = re.compile(r"@[\w-]+\.[\w-]")  # the domain part is enough; "@name" is a mention
_HAS_DIGIT: Final = re.compile(r"\d")
_YEAR: Final = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|年")
_ENDS_EMAIL: Final = re.compile(r"<\s*(?:mailto:)?[^\s<>@]{1,80}@[^\s<>]{1,120}\s*>+\s*(?P<colon>[:：])?\s*$")  # noqa: RUF001 - multilingual patterns: the look-alike characters are meant
_VERB_MIDDLE: Final = re.compile(
    r"\s(?:schrieb|schreef|skrev|wrote|escribió|a\s+écrit|написал|napisał|escreveu|ha\s+scritto)\s.{1,200}[:：]\s*$",  # noqa: RUF001 - multilingual patterns: the look-alike characters are meant
    re.I,
)
_WROTE_ON: Final = re.compile(r"\s(?:wrote|schrieb|a\s+écrit|escribió|skrev|schreef)\s+(?:on|am|le|el|den|op)\s", re.I)
_ISO_GMT: Final = re.compile(r"^\d{4}-\d\d-\d\d \d{1,2}:\d\d GMT[+-]\d{1,2}:\d\d\s+\S.{0,100}$")
_DASHED_WROTE: Final = re.compile(r"^-{2,}\s*.{1,100}\s(?:wrote|schrieb|a écrit|escribió|skrev|schreef)\s*-{2,}$", re.I)
_SHARED_LINE: Final = re.compile(
    r"^(?P<pre>.{0,300}?\S)[ \t]*-*[ \t]*(?P<intro>On[ \t]+(?:[A-Z][a-z]{2}|\d)[^\n]{0,300}?\b(?:wrote|sent):?)[ \t]*$"
)

_FORWARD_PHRASES: Final = (
    r"original\s+message|forwarded\s+message|reply\s+message|ursprüngliche\s+nachricht|original-nachricht"
    r"|weitergeleitete\s+nachricht|antwort\s+nachricht|oprindelig\s+meddelelse|videresendt\s+meddelelse"
    r"|message\s+d'origine|message\s+transféré|mensaje\s+original|mensaje\s+reenviado|mensagem\s+original"
    r"|mensagem\s+encaminhada|messaggio\s+originale|messaggio\s+inoltrato|oorspronkelijk\s+bericht"
    r"|doorgestuurd\s+bericht|ursprungligt\s+meddelande|vidarebefordrat\s+meddelande|opprinnelig\s+melding"
    r"|videresendt\s+melding|alkuperäinen\s+viesti|välitetty\s+viesti|wiadomość\s+oryginalna"
    r"|oryginalna\s+wiadomość|przekazana\s+wiadomość|исходное\s+сообщение|пересылаемое\s+сообщение"
    r"|původní\s+zpráva|přeposlaná\s+zpráva|eredeti\s+üzenet|továbbított\s+üzenet|orijinal\s+mesaj"
    r"|原始邮件|原始郵件|转发邮件|転送メッセージ|元のメッセージ"
)
_FORWARD_MARKER: Final = re.compile(rf"^[\s>*]*-{{2,}}\s*(?:{_FORWARD_PHRASES})\s*-{{2,}}[\s*]*$", re.I)
_FORWARD_LINE: Final = re.compile(
    r"^[\s>*]*(?:begin\s+forwarded\s+message|début\s+du\s+message\s+(?:réexpédié|transféré)"
    r"|anfang\s+der\s+weitergeleiteten\s+(?:nachricht|e-mail)|inicio\s+del\s+mensaje\s+reenviado"
    r"|início\s+da\s+mensagem\s+(?:reencaminhada|encaminhada)|inizio\s+messaggio\s+inoltrato"
    r"|begin\s+doorgestuurd\s+bericht|vidarebefordrat\s+brev)\s*:?\s*$",
    re.I,
)

# Outlook-style header blocks, by the role of the field; names are matched case-insensitively.
_FROM_NAMES: Final = (
    "from|von|de|da|van|från|fra|od|от|від|lähettäjä|feladó|odesílatel|kimden|发件人|寄件者|差出人|보낸 사람"
    "|expéditeur|remitente|mittente|afzender|nadawca|avsändare|từ"
)
_DATE_NAMES: Final = (
    "sent|date|gesendet|datum|envoyé|enviado|enviada|enviada em|inviato|data|verzonden|verstuurd|skickat|sendt"
    "|wysłano|wysłane|отправлено|дата|надіслано|lähetetty|päivämäärä|küldve|dátum|odesláno|gönderildi|tarih"
    "|发送时间|日期|寄件日期|送信日時|日付|보낸 날짜|fecha|ngày gửi|sent on"
)
_OTHER_NAMES: Final = (
    "to|cc|bcc|subject|reply-to|an|betreff|kopie|à|objet|para|asunto|assunto|a|oggetto|risposta|aan|onderwerp"
    "|till|ämne|til|emne|do|temat|dw|кому|тема|копия|vastaanottaja|aihe|címzett|tárgy|komu|předmět|kime|konu"
    "|收件人|主题|抄送|宛先|件名|받는 사람|제목|beantwoorden - aan|répondre à|destinataire|objeto|đến|chủ đề|cc"
)
_HEADER: Final = re.compile(
    # Possessive quantifiers: a long run of spaces or ">" must not be re-split between `[\s>]*` and `\s*` for every
    # field name (that backtracking made one 77 KB Zammad mail take seconds).
    rf"^[\s>]*+\**+\s*+(?P<name>{_FROM_NAMES}|{_DATE_NAMES}|{_OTHER_NAMES})\s*+\**+\s*+[:：]\**(?:\s|$)",  # noqa: RUF001 - full-width colon
    re.I,
)
_FROM_SET: Final = frozenset(_FROM_NAMES.split("|"))
_DATE_SET: Final = frozenset(_DATE_NAMES.split("|"))


def _ends_with_verb(text: str, *, on_line: bool) -> bool:
    """`text` ends with a "wrote" verb (closing colon and dashes allowed) standing as a word of its own."""
    core = text.rstrip(_CLOSING_CHARS).lower()
    if core.endswith(_CJK_VERBS):
        return True
    verbs = _VERBS + _ON_ONLY_VERBS if on_line else _VERBS
    if not core.endswith(verbs):
        return False
    for verb in verbs:
        if core.endswith(verb):
            before = len(core) - len(verb) - 1
            return before < 0 or core[before] in _VERB_BOUNDARY
    return False


def _has_address(text: str) -> bool:
    """An address or its angle brackets ("<", "&lt;") appear: attributions name the sender's address."""
    return "<" in text or "&lt;" in text or ("@" in text and _ADDRESS.search(text) is not None)


def normalise_candidate(text: str) -> str:
    """Collapse whitespace and drop decoration (quote marks, dashes, stars) around an attribution candidate."""
    return " ".join(text.split()).lstrip(" >*").rstrip(" *")


def is_intro_text(candidate: str) -> bool:  # noqa: PLR0911 - one return per rule of a decision list
    """True when `candidate` (one or more joined lines) reads as an attribution line like "On ..., X wrote:"."""
    text = normalise_candidate(candidate)
    if not text or len(text) > MAX_INTRO_CHARS:
        return False
    if _DASHED_WROTE.match(text):
        return True
    bare = text.lstrip("-* ").strip()
    has_digit = _HAS_DIGIT.search(bare) is not None
    has_email = _has_address(bare)
    starts_on = _STARTS_ON.match(bare) is not None or _STARTS_CJK.match(bare) is not None
    starts_date = _STARTS_DATE.match(bare) is not None
    if starts_on and has_digit and _ends_with_verb(bare, on_line=True):
        return True
    if (has_email or (has_digit and (starts_on or starts_date))) and _ends_with_verb(bare, on_line=False):
        return True
    ends_colon = bare.endswith((":", "："))  # noqa: RUF001 - multilingual patterns: the look-alike characters are meant
    if ends_colon and has_digit and (starts_on or starts_date) and _VERB_MIDDLE.search(bare):
        return True
    if ends_colon and has_digit and has_email and _WROTE_ON.search(bare):
        return True
    if bare.rstrip(" :：").endswith(">"):  # noqa: RUF001 - multilingual patterns: the look-alike characters are meant
        ends_email = _ENDS_EMAIL.search(bare[-300:])
        if ends_email and (ends_email.group("colon") or starts_date) and _YEAR.search(bare):
            return True
    return _ISO_GMT.match(bare) is not None


def _may_start_intro(line: str) -> bool:
    """Cheap pre-check: a line that could open an attribution (bounded length, some letters)."""
    stripped = line.strip()
    return 0 < len(stripped) <= MAX_INTRO_LINE_CHARS and not stripped.startswith(">")


def _may_open_wrapped_intro(line: str, *, address_ok: bool = True) -> bool:
    """The first line of a wrapped attribution shows its start: "On", a date, or the sender's address."""
    bare = normalise_candidate(line).lstrip("-* ")
    if _STARTS_ON.match(bare) or _STARTS_CJK.match(bare) or _STARTS_DATE.match(bare):
        return True
    return address_ok and _has_address(bare)


def _starts_attribution(line: str) -> bool:
    """A line that itself opens an attribution: "On ...", "Am ...", a date like "2014-10-17" or "02.04.2012"."""
    bare = normalise_candidate(line).lstrip("-* ")
    return bool(_STARTS_ON.match(bare) or _STARTS_CJK.match(bare) or _STARTS_NUMERIC_DATE.match(bare))


def find_intro(lines: Sequence[str], start: int) -> int:  # noqa: PLR0911 - one return per rule of a decision list
    """Number of lines (from `start`) forming an attribution line, wrapped over up to 4 lines; 0 if none."""
    if not _may_start_intro(lines[start]):
        return 0
    parts = [lines[start]]
    index = start
    if is_intro_text(lines[start]):
        return 1
    if not _may_open_wrapped_intro(lines[start]):
        return 0
    total = len(lines[start])
    for _ in range(MAX_INTRO_LINES - 1):
        index += 1
        if index < len(lines) and not lines[index].strip():
            # Polymail and Gmail wrap "Name\n\n<\nmailto:...> wrote:": a blank line before a line opening with "<"
            nxt = index + 1
            if nxt < len(lines) and lines[nxt].lstrip().startswith("<"):
                index = nxt
            else:
                return 0
        if index >= len(lines):
            return 0
        line = lines[index]
        stripped = line.strip()
        if len(stripped) > MAX_INTRO_LINE_CHARS or (stripped.startswith(">") and not 1 < len(stripped) <= 12):
            return 0
        total += len(stripped)
        if total > MAX_INTRO_CHARS:
            return 0
        parts.append(stripped)
        if is_intro_text(" ".join(parts)):
            # "Thanks\nOn <date>, X wrote:": the attribution starts on a later line, not here
            later = any(
                _starts_attribution(parts[cut]) and is_intro_text(" ".join(parts[cut:])) for cut in range(1, len(parts))
            )
            return 0 if later else index - start + 1
    return 0


def split_shared_line(line: str) -> tuple[str, str] | None:
    """Split "reply text On <date>, X wrote:" into the reply and the attribution; None when not shared."""
    if "On" not in line or len(line) > MAX_INTRO_CHARS + 300:
        return None
    match = _SHARED_LINE.match(line)
    if not match or not is_intro_text(match.group("intro")) or not any(ch.isalnum() for ch in match.group("pre")):
        return None
    if match.group("pre").lstrip().startswith(">"):
        return None
    return match.group("pre").rstrip(" -"), match.group("intro")


def is_forward_marker(line: str) -> bool:
    """True for "-----Original Message-----", "---------- Forwarded message ---------", "Begin forwarded message:"."""
    if len(line) > MAX_INTRO_LINE_CHARS:
        return False
    return _FORWARD_MARKER.match(line) is not None or _FORWARD_LINE.match(line) is not None


def header_role(line: str) -> str | None:
    """ "from", "date" or "other" when `line` is a header field of a quoted message ("From: ...", "Betreff: ...")."""
    if len(line) > MAX_INTRO_LINE_CHARS * 4:
        return None
    match = _HEADER.match(line)
    if not match:
        return None
    name = " ".join(match.group("name").lower().split())
    if name in _FROM_SET:
        return "from"
    if name in _DATE_SET:
        return "date"
    return "other"


def find_header_block(lines: Sequence[str], start: int, *, after_separator: bool = False) -> int:
    """Lines (from `start`) of a header block ("From:/Sent:/To:/Subject:"), up to its last field; 0 if none.

    A block needs two different fields, one of them a sender or date; right after a separator line one
    sender or date field is enough (Outlook's "____" + "From:" line).
    """
    role = header_role(lines[start])
    if role is None:
        return 0
    names: set[str] = set()
    roles: set[str] = set()
    end = start
    gap = 0
    index = start
    while index < len(lines) and index - start < 16:
        line = lines[index]
        if not line.strip():
            break
        line_role = header_role(line)
        if line_role is None:
            gap += 1
            if gap > MAX_HEADER_GAP:
                break
        else:
            gap = 0
            match = _HEADER.match(line)
            names.add(match.group("name").lower() if match else "")
            roles.add(line_role)
            end = index
        index += 1
    strong = bool(roles & {"from", "date"})
    if strong and (len(names) >= 2 or (after_separator and role in {"from", "date"})):
        return end - start + 1
    return 0
