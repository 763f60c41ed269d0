"""Read the date a mail client wrote in a forward or reply header ("Fri, Apr 26, 2013 at 8:13 PM", localised)."""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from typing import Final

MAX_DATE_CHARS: Final = 200  # a written date is one short line; longer text is not a date (our bound)
# Month names and abbreviations in the languages of `patterns.HEADER_NAMES`, compared lower case without dots.
_MONTH_WORDS: Final = (
    "january jan januar janvier janv enero ene gennaio gen janeiro januari januar stycznia styczeń января январь янв",
    "february feb februar février févr fevrier fevr febrero febbraio fevereiro fev februari lutego luty "
    "февраля февраль фев",
    "march mar märz maerz mär mars marzo março marco maart marca marzec марта март мар",
    "april apr avril avr abril abr aprile aprili kwietnia kwiecień апреля апрель",
    "may mai mayo maggio mag maio mei maj maja май мая",
    "june jun juni juin junio giugno giu junho czerwca czerwiec июня июнь июн",
    "july jul juli juillet juil julio luglio lug julho lipca lipiec июля июль июл",
    "august aug août aout agosto ago augusti augustus sierpnia sierpień августа август авг",
    "september sep sept septembre septiembre set settembre setembro september września wrzesień сентября сентябрь сен",
    "october oct okt oktober octobre octubre ottobre ott outubro out października październik октября октябрь окт",
    "november nov novembre noviembre novembro listopada listopad ноября ноябрь ноя",
    "december dec dez dezember décembre déc decembre diciembre dic dicembre dezembro grudnia grudzień "
    "декабря декабрь дек",
)
MONTHS: Final[dict[str, int]] = {
    word: number for number, words in enumerate(_MONTH_WORDS, start=1) for word in words.split()
}
ZONES: Final[dict[str, int]] = {  # minutes east of UTC for abbreviations clients write after a time
    "gmt": 0, "utc": 0, "ut": 0, "z": 0, "wet": 0, "bst": 60, "cet": 60, "cest": 120, "mez": 60, "mesz": 120,
    "eet": 120, "eest": 180, "msk": 180, "ist": 330, "jst": 540, "kst": 540, "aest": 600, "aedt": 660,
    "est": -300, "edt": -240, "cst": -360, "cdt": -300, "mst": -420, "mdt": -360, "pst": -480, "pdt": -420,
}  # fmt: skip
_COMMENT: Final = re.compile(r"\([^()]*\)")
_OFFSET: Final = re.compile(r"(?:\b(?:gmt|utc)\s*|(?<=\s))([+-])(\d{1,2})(?::?(\d{2}))?(?!\d)", re.IGNORECASE)
_ZONE_WORD: Final = re.compile(r"\b(" + "|".join(ZONES) + r")\b", re.IGNORECASE)
_TIME: Final = re.compile(
    r"(?P<meridiem_before>上午|下午|午前|午後)?\s*(?P<hour>\d{1,2})[:時时](?P<minute>\d{2})(?::(?P<second>\d{2}))?"
    r"(?:\s*(?P<meridiem>[ap])\.?\s?m\b\.?)?",
    re.IGNORECASE,
)
_ISO_DATE: Final = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_CJK_DATE: Final = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_YEAR_FIRST: Final = re.compile(r"\b(\d{4})[/.](\d{1,2})[/.](\d{1,2})\b")
_NUMERIC_DATE: Final = re.compile(r"\b(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})\b")
_WORD: Final = re.compile(r"[^\W\d_]+")
_NUMBER: Final = re.compile(r"\b\d{1,4}\b")


def _zone(text: str, default: dt.tzinfo) -> tuple[dt.tzinfo, str]:
    """The written zone (offset or abbreviation) and the text without it; `default` when none is written."""
    offset = None
    for match in _OFFSET.finditer(text):
        if match.group(3) is None and len(match.group(2)) > 2:
            continue
        offset = match
    if offset is not None:
        hours, minutes = int(offset.group(2)), int(offset.group(3) or 0)
        if len(offset.group(2)) <= 2 and hours <= 14 and minutes < 60:
            sign = -1 if offset.group(1) == "-" else 1
            rest = text[: offset.start()] + " " + text[offset.end() :]
            return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes)), rest
    word = _ZONE_WORD.search(text)
    if word is not None:
        minutes = ZONES[word.group(1).lower()]
        return dt.timezone(dt.timedelta(minutes=minutes)), text[: word.start()] + text[word.end() :]
    return default, text


def _time(text: str) -> tuple[dt.time, str] | None:
    match = _TIME.search(text)
    if match is None:
        return dt.time(0, 0), text
    hour, minute, second = int(match.group("hour")), int(match.group("minute")), int(match.group("second") or 0)
    meridiem = (match.group("meridiem") or "").lower() or {"上午": "a", "午前": "a", "下午": "p", "午後": "p"}.get(
        match.group("meridiem_before") or "", ""
    )
    if meridiem and not 1 <= hour <= 12:
        return None
    if meridiem == "p" and hour != 12:
        hour += 12
    elif meridiem == "a" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59 or second > 59:
        return None
    return dt.time(hour, minute, second), text[: match.start()] + " " + text[match.end() :]


def _numeric_date(text: str) -> tuple[int, int, int] | None:
    """(year, month, day) from an all-number date; a "/" date where both could be the month is not guessed."""
    for pattern in (_ISO_DATE, _CJK_DATE, _YEAR_FIRST):
        match = pattern.search(text)
        if match is not None:
            return int(match.group(1)), int(match.group(2)), int(match.group(3))
    match = _NUMERIC_DATE.search(text)
    if match is None:
        return None
    first, separator, second, year = int(match.group(1)), match.group(2), int(match.group(3)), match.group(4)
    full_year = int(year) + (2000 if len(year) == 2 else 0)
    if separator == "." or first > 12:  # 26.04.2013 and 26/04/2013 are day first
        return full_year, second, first
    if second > 12:  # 04/26/2013
        return full_year, first, second
    return None


def _worded_date(text: str) -> tuple[int, int, int] | None:
    """(year, month, day) from "26 April 2013", "Apr 26, 2013", "14 июня 2017", "1. August 2011"."""
    months = [MONTHS[word] for word in (w.lower() for w in _WORD.findall(text)) if word in MONTHS]
    numbers = [int(number) for number in _NUMBER.findall(text)]
    years = [number for number in numbers if number >= 1000]
    days = [number for number in numbers if 1 <= number <= 31]
    if not months or not years or not days:
        return None
    return years[0], months[-1], days[0]  # the last month word: "mar, 24 ene" starts with a weekday


def parse_written_date(text: str, default_zone: dt.tzinfo = dt.UTC) -> dt.datetime | None:
    """An aware datetime for a date as written in a forward header, else None.

    Free forms in the known languages (RFC 5322 dates among them), then the standard library's reader. A date
    without a zone is read in `default_zone` (the forwarding message's own zone is the best guess: clients write
    local time).
    """
    text = text.strip()
    if not text or len(text) > MAX_DATE_CHARS:
        return None
    zone, rest = _zone(_COMMENT.sub(" ", text), default_zone)
    timed = _time(rest)
    ymd = (_numeric_date(timed[1]) or _worded_date(timed[1])) if timed is not None else None
    if timed is not None and ymd is not None:
        try:
            return dt.datetime.combine(dt.date(*ymd), timed[0], tzinfo=zone)
        except (ValueError, OverflowError):
            return None
    return _parse_rfc5322(text, default_zone)


def _parse_rfc5322(text: str, default_zone: dt.tzinfo) -> dt.datetime | None:
    """The standard library's reading, for what the free-form reader missed (it ignores AM/PM: used last)."""
    try:
        parsed = email.utils.parsedate_to_datetime(_COMMENT.sub("", text).strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=default_zone)
