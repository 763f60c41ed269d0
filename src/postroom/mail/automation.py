"""Decide whether a machine sent a message, of which kind, and whether it may get an automatic answer.

One pure classifier for every automatic-mail question (docs/architecture/automatic-mail.md): it runs every check,
keeps the reason of every signal that fired, and picks the kind of the strongest one. The kinds:

- `loop`: our own mail came back (our loop header, X-Loop naming us, our Message-ID, our From address, or an
  answer to an automatic reply of ours);
- `feedback_report`: an ARF complaint (RFC 5965); `bounce`: a delivery report or a mail-system daemon's mail;
- `out_of_office`: a vacation or absence reply; `auto_reply`: any other machine-written mail (RFC 3834
  Auto-Submitted other than "no", vendor auto-reply flags, read receipts, no-reply senders);
- `bulk`: mass mail (Precedence: bulk/junk); `list`: list mail, written by people but never answered by a
  machine (RFC 3834 section 2);
- `normal`: a person.

The headers Postroom writes on what it sends (RFC 3834 Auto-Submitted, X-Auto-Response-Suppress, and its own
loop header) are defined here too, so the reading and the writing side cannot disagree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from postroom.mail.values import ParsedMessage

Headers = dict[str, list[str]]  # lower-case field name -> values in order


class AutomationKind(StrEnum):
    NORMAL = "normal"
    AUTO_REPLY = "auto_reply"
    OUT_OF_OFFICE = "out_of_office"
    BULK = "bulk"
    LIST = "list"
    LOOP = "loop"
    BOUNCE = "bounce"
    FEEDBACK_REPORT = "feedback_report"


# Strongest first: the verdict's kind is the first of these that a strong signal names.
KIND_ORDER: Final = (
    AutomationKind.LOOP,
    AutomationKind.FEEDBACK_REPORT,
    AutomationKind.BOUNCE,
    AutomationKind.OUT_OF_OFFICE,
    AutomationKind.AUTO_REPLY,
    AutomationKind.BULK,
    AutomationKind.LIST,
)
# Written by a machine: never reopens a ticket and never gets an automatic answer.
MACHINE_KINDS: Final = frozenset(KIND_ORDER) - {AutomationKind.LIST}

# What we write on mail we send (one place: postroom.mail.compose and every sender use these).
LOOP_HEADER: Final = "X-Postroom-Loop"  # value: the installation id; on everything Postroom sends, agents' too
AUTO_REPLIED: Final = "auto-replied"  # RFC 3834 section 5: an answer to a message (e.g. "this ticket is closed")
AUTO_GENERATED: Final = "auto-generated"  # RFC 3834 section 5: answers no message (alerts, sign-in links)
AUTO_SUBMITTED_VALUES: Final = frozenset({AUTO_REPLIED, AUTO_GENERATED})

# RFC 3834 section 5: Auto-Submitted "no" means a person sent it; every other value (auto-generated, auto-replied,
# auto-notified of RFC 5436, private extensions) means automatic.
HUMAN_AUTO_SUBMITTED: Final = "no"
# Non-standard flags set by autoresponders (FreeScout, RT and Zammad check the first two; values are ignored).
AUTOREPLY_FLAGS: Final = ("x-autoreply", "x-autorespond", "x-autoresponder", "x-mail-autoreply", "x-autoreply-from")
MACHINE_FLAGS: Final = ("x-fc-machinegenerated", "x-auto-generated", "x-cron-env")  # RT; Frappe Helpdesk; cron
NEGATIVE_VALUES: Final = frozenset({"no", "false", "0", "off"})
BULK_PRECEDENCE: Final = frozenset({"bulk", "junk"})  # RFC 2076 section 3.9; RT and JSM treat both as automatic
AUTOREPLY_PRECEDENCE: Final = frozenset({"auto_reply", "auto-reply"})  # django-helpdesk, FreeScout
LIST_HEADERS: Final = ("list-id", "list-unsubscribe", "list-post", "mailing-list", "x-mlserver")  # RFC 2369/2919
DAEMON_LOCAL_PARTS: Final = frozenset({"mailer-daemon", "postmaster"})  # RFC 5321 section 4.5.1; RT checks these
EXCHANGE_RULES_LOOP: Final = "x-ms-exchange-inbox-rules-loop"  # set on mail an Exchange inbox rule (or OOF) sent
EXCHANGE_GENERATED_SOURCE: Final = "x-ms-exchange-generated-message-source"

OWN_DOMAIN_SIGNAL: Final = "own_message_id_domain"

_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]+")
_ANGLE: Final = re.compile(r"<([^<>]*)>")
_NO_REPLY: Final = re.compile(r"no-?reply|do-?not-?reply|donotreply|noreply[._-].*|.*[._-]no-?reply")  # Zammad's list
# Out-of-office subject prefixes as mail clients write them, followed by ":" (or a dash, or nothing).
_OOO_PHRASES: Final = (
    r"out of (?:the )?office(?: auto-?reply)?", r"automatic reply", r"auto-?reply", r"auto-?response",
    r"autoresponder", r"vacation(?: reply| response| message)?", r"away from (?:the|my) (?:office|desk)",
    r"abwesenheitsnotiz", r"abwesend", r"automatische antwort", r"r[ée]ponse automatique", r"absent(?:e)?",
    r"absence(?: du bureau)?", r"respuesta autom[áa]tica", r"fuera de la oficina", r"ausente",
    r"risposta automatica", r"fuori sede", r"fuori ufficio", r"assente", r"automatisch antwoord", r"afwezig",
    r"afwezigheidsbericht", r"resposta autom[áa]tica", r"ausente do escrit[óo]rio", r"automatiskt svar",
    r"autosvar", r"automatisk svar", r"fr[åa]nvaro", r"fraværende", r"frav[æe]r", r"poza biurem",
    r"odpowied[źz] automatyczna", r"automatick[áa] odpov[ěe][ďd]", r"mimo kancel[áa][řr]", r"автоответ",
    r"автоматический ответ", r"自动回复", r"自動回覆", r"自動返信", r"自動応答", r"不在", r"부재중", r"자동 응답",
)  # fmt: skip
_OOO_SUBJECT: Final = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*)?(?:" + "|".join(_OOO_PHRASES) + r")\s*(?:[:\uff1a\-\u2013\u2014]|$)", re.I
)
# Lotus/HCL Notes' out-of-office agent: "AUTO: Jane Doe is out of the office (returning 02.03.2026)". Upper case
# only: "Auto:" is also the German word for car.
_NOTES_SUBJECT: Final = re.compile(r"^\s*AUTO:\s")
_VACATION_ANYWHERE: Final = re.compile(
    r"\bvacation (?:reply|response|message)\b|\bout of (?:the )?office\b|\bvacation\b", re.I
)
_REPORT_TYPE: Final = re.compile(r"report-type\s*=\s*\"?([A-Za-z0-9_-]+)", re.I)


@dataclass(frozen=True, slots=True)
class OwnMail:
    """What marks mail as ours, so that its return is recognised as a loop (all optional).

    `loop_ids`: values of our loop header (the installation id). `addresses`: our own mailbox, route and sender
    addresses, lower case (exact addresses, never whole domains). `message_id_domains`: domains that only our
    Message-IDs use (exact, not subdomains: Zammad's `fqdn` check). `is_own_message_id`: recognises a Message-ID
    we made (the pipeline checks its signed threading token).
    """

    loop_ids: frozenset[str] = frozenset()
    addresses: frozenset[str] = frozenset()
    message_id_domains: frozenset[str] = frozenset()
    is_own_message_id: Callable[[str], bool] | None = None


NOT_OURS: Final = OwnMail()


@dataclass(frozen=True, slots=True)
class Signal:
    """One piece of evidence: the kind it points at (None: it only forbids an automatic answer) and why."""

    name: str
    kind: AutomationKind | None
    reason: str
    strong: bool = True  # a weak signal decides the kind only when no strong one fired


@dataclass(frozen=True, slots=True)
class AutomationVerdict:
    """Which kind of mail this is, every reason that fired, and whether an automatic answer is allowed."""

    kind: AutomationKind
    reasons: tuple[str, ...]
    signals: tuple[str, ...] = ()  # machine names of the signals, in the order of `reasons`
    auto_answer_allowed: bool = True

    @property
    def is_automatic(self) -> bool:
        """Written by a machine (list mail is not): it never reopens a ticket."""
        return self.kind in MACHINE_KINDS

    @property
    def is_loop(self) -> bool:
        return self.kind == AutomationKind.LOOP

    @property
    def reason(self) -> str:
        """All reasons in one line, for a trace entry."""
        return "; ".join(self.reasons) if self.reasons else "no sign of automatic mail"

    def as_record(self) -> dict[str, object]:
        """The `automation` key of `postroom inspect`."""
        return {"kind": str(self.kind), "reasons": list(self.reasons)}


NORMAL: Final = AutomationVerdict(kind=AutomationKind.NORMAL, reasons=())


def build_automatic_headers(auto_submitted: str, loop_id: str) -> tuple[tuple[str, str], ...]:
    """The headers of mail Postroom sends: RFC 3834 marks when automatic, our loop header always.

    `auto_submitted` is "" for a person's mail (an agent's reply), else auto-replied or auto-generated.
    X-Auto-Response-Suppress: All is Exchange's switch that stops out-of-office and other automatic replies.
    """
    if auto_submitted and auto_submitted not in AUTO_SUBMITTED_VALUES:
        raise ValueError(f"not an RFC 3834 Auto-Submitted value we send: {auto_submitted!r}")
    headers: list[tuple[str, str]] = []
    if auto_submitted:
        headers += [("Auto-Submitted", auto_submitted), ("X-Auto-Response-Suppress", "All")]
    if loop_id:
        headers.append((LOOP_HEADER, loop_id))
    return tuple(headers)


def collect_headers(parsed: ParsedMessage) -> Headers:
    found: dict[str, list[str]] = {}
    for name, value in parsed.headers:
        found.setdefault(name.strip().lower(), []).append(value.strip())
    return found


def _first(headers: Headers, name: str) -> str:
    values = headers.get(name)
    return values[0] if values else ""


def _domain(identifier: str) -> str:
    return identifier.strip().strip("<>").rpartition("@")[2].lower()


@dataclass(frozen=True, slots=True)
class _Mail:
    """What the checks read: the parsed message, its headers by name, and what marks our own mail."""

    parsed: ParsedMessage
    headers: Headers
    own: OwnMail
    answers_automatic: str


Check = Callable[[_Mail], Iterator[Signal]]


def _check_loop_header(mail: _Mail) -> Iterator[Signal]:
    for value in mail.headers.get(LOOP_HEADER.lower(), []):
        if value.strip().lower() in mail.own.loop_ids:
            yield Signal("own_loop_header", AutomationKind.LOOP, f"{LOOP_HEADER}: {value} is our own loop header")


def _check_x_loop(mail: _Mail) -> Iterator[Signal]:
    """X-Loop (RFC 3834 section 3.1.8 mentions it; procmail, RT): naming us is a loop, else another robot's mail."""
    for value in mail.headers.get("x-loop", []):
        lowered = value.lower()
        ours = [item for item in (*mail.own.loop_ids, *mail.own.addresses) if item and item in lowered]
        if ours:
            yield Signal("x_loop_ours", AutomationKind.LOOP, f"X-Loop: {value} names us")
        elif lowered not in NEGATIVE_VALUES:
            yield Signal("x_loop", AutomationKind.AUTO_REPLY, f"X-Loop: {value} (another system's loop guard)")


def _check_own_message_id(mail: _Mail) -> Iterator[Signal]:
    message_id = mail.parsed.message_id
    if not message_id:
        return
    if mail.own.is_own_message_id is not None and mail.own.is_own_message_id(message_id):
        yield Signal("own_message_id", AutomationKind.LOOP, f"Message-ID <{message_id}> was made by us")
    elif _domain(message_id) in mail.own.message_id_domains:
        # Alone it only forbids an automatic answer; with any other sign of a machine it is our own notification
        # coming back (Zammad's own_notification_loop_detection): see detect_automation.
        reason = f"Message-ID <{message_id}> is on our own Message-ID domain"
        yield Signal(OWN_DOMAIN_SIGNAL, AutomationKind.AUTO_REPLY, reason, strong=False)


def _check_own_from(mail: _Mail) -> Iterator[Signal]:
    author = mail.parsed.from_
    if author is not None and author.address.lower() in mail.own.addresses:
        yield Signal("own_from", AutomationKind.LOOP, f"From {author.address} is one of our own addresses")


def _check_answers_automatic(mail: _Mail) -> Iterator[Signal]:
    """An answer to an automatic reply of ours: a robot answering our robot (a person is told not to reply)."""
    if mail.answers_automatic:
        yield Signal(
            "answers_our_auto_reply",
            AutomationKind.LOOP,
            f"answers <{mail.answers_automatic}>, an automatic reply of ours",
        )


def _check_report(mail: _Mail) -> Iterator[Signal]:
    """A multipart/report (RFC 6522) says what it reports in report-type."""
    content_type = _first(mail.headers, "content-type").lower()
    if not content_type.startswith("multipart/report"):
        return
    match = _REPORT_TYPE.search(content_type)
    report_type = match.group(1).lower() if match else ""
    if report_type == "feedback-report":
        yield Signal("arf_report", AutomationKind.FEEDBACK_REPORT, "Content-Type: multipart/report; feedback-report")
    elif report_type == "disposition-notification":
        yield Signal("mdn", AutomationKind.AUTO_REPLY, "a read receipt (RFC 8098 disposition notification)")
    else:
        yield Signal("dsn", AutomationKind.BOUNCE, f"Content-Type: multipart/report; {report_type or 'no type'}")


def _check_feedback_headers(mail: _Mail) -> Iterator[Signal]:
    """ARF reports sent without their MIME structure still carry Feedback-Type (RFC 5965 section 3.1)."""
    if "feedback-type" in mail.headers:
        yield Signal(
            "feedback_type",
            AutomationKind.FEEDBACK_REPORT,
            f"Feedback-Type: {_first(mail.headers, 'feedback-type')}",
        )


def _check_daemon(mail: _Mail) -> Iterator[Signal]:
    author = mail.parsed.from_
    if author is None:
        return
    local = author.address.split("@", 1)[0].lower() or author.name.strip().lower()
    if local in DAEMON_LOCAL_PARTS:
        yield Signal("daemon_sender", AutomationKind.BOUNCE, f"From: {local} (a mail system, RFC 5321 4.5.1)")


def _check_null_sender(mail: _Mail) -> Iterator[Signal]:
    """A null reverse-path (RFC 5321 4.5.5): bounces use it, and so should auto-replies (RFC 3834 3.3)."""
    for value in mail.headers.get("return-path", []):
        ids = _ANGLE.findall(value)
        if not value.strip() or (ids and not ids[0].strip()):
            yield Signal("null_return_path", AutomationKind.BOUNCE, "Return-Path: <> (null reverse-path)", strong=False)
            return


def _is_vacation(mail: _Mail, detail: str = "") -> bool:
    subject = mail.parsed.subject
    return "vacation" in detail.lower() or bool(
        _OOO_SUBJECT.search(subject) or _NOTES_SUBJECT.search(subject) or _VACATION_ANYWHERE.search(subject)
    )


def _check_auto_submitted(mail: _Mail) -> Iterator[Signal]:
    submitted = _first(mail.headers, "auto-submitted")
    keyword = (_TOKEN.findall(submitted) or [""])[0].lower()
    if not keyword or keyword == HUMAN_AUTO_SUBMITTED:
        return
    reason = f"Auto-Submitted: {submitted} (RFC 3834)"
    # Zimbra writes "auto-replied (zimbra; vacation)"; some cloud services "auto-replied; owner-email=..." (Zammad).
    if keyword == "auto-replied" and (_is_vacation(mail, submitted) or "owner-email=" in submitted.lower()):
        yield Signal("auto_submitted", AutomationKind.OUT_OF_OFFICE, reason)
    else:
        yield Signal("auto_submitted", AutomationKind.AUTO_REPLY, reason)


def _check_autoreply_flags(mail: _Mail) -> Iterator[Signal]:
    for name in AUTOREPLY_FLAGS:
        value = _first(mail.headers, name)
        if name in mail.headers and value.lower() not in NEGATIVE_VALUES:
            kind = AutomationKind.OUT_OF_OFFICE if _is_vacation(mail, value) else AutomationKind.AUTO_REPLY
            yield Signal("autoreply_flag", kind, f"{name}: {value}")
            return


def _suppressed(headers: Headers) -> set[str]:
    return {token.lower() for value in headers.get("x-auto-response-suppress", []) for token in _TOKEN.findall(value)}


def _check_suppress(mail: _Mail) -> Iterator[Signal]:
    """X-Auto-Response-Suppress ([MS-OXCMAIL] 2.2.3.2.20): All marks Exchange's own automatic mail (Zammad and
    django-helpdesk read it so); OOF or AutoReply alone only asks for no automatic answer."""
    suppress = _suppressed(mail.headers)
    if "all" in suppress:
        exchange_oof = EXCHANGE_RULES_LOOP in mail.headers or _is_vacation(mail)
        kind = AutomationKind.OUT_OF_OFFICE if exchange_oof else AutomationKind.AUTO_REPLY
        yield Signal("suppress_all", kind, "X-Auto-Response-Suppress: All")
    elif suppress & {"oof", "autoreply"}:
        reason = f"X-Auto-Response-Suppress: {', '.join(sorted(suppress))} (asks for no automatic answer)"
        yield Signal("suppress_request", None, reason)


def _check_exchange(mail: _Mail) -> Iterator[Signal]:
    """Exchange marks mail its inbox rules sent (out-of-office replies among them) and where it came from."""
    if EXCHANGE_RULES_LOOP in mail.headers:
        kind = AutomationKind.OUT_OF_OFFICE if _is_vacation(mail) else AutomationKind.AUTO_REPLY
        reason = f"X-MS-Exchange-Inbox-Rules-Loop: {_first(mail.headers, EXCHANGE_RULES_LOOP)} (an inbox rule sent it)"
        yield Signal("exchange_rules_loop", kind, reason, strong=False)
    source = _first(mail.headers, EXCHANGE_GENERATED_SOURCE)
    if source:
        yield Signal("exchange_generated", AutomationKind.AUTO_REPLY, f"{EXCHANGE_GENERATED_SOURCE}: {source}")


def _check_thread_topic(mail: _Mail) -> Iterator[Signal]:
    """Exchange's out-of-office reply keeps the original subject in Thread-Topic and puts a localised
    "Automatic reply:" before it; a person's reply puts RE/AW/SV/... there (only counted when the subject phrase
    is a known out-of-office one, so an unknown reply prefix never counts)."""
    topic = _first(mail.headers, "thread-topic").strip()
    subject = mail.parsed.subject.strip()
    if not topic or not subject.endswith(topic) or subject == topic:
        return
    prefix = subject[: -len(topic)].strip()
    if prefix.endswith((":", "\uff1a")) and _OOO_SUBJECT.search(prefix):
        yield Signal("exchange_thread_topic", AutomationKind.OUT_OF_OFFICE, f"Subject is {prefix} + Thread-Topic")


def _check_precedence(mail: _Mail) -> Iterator[Signal]:
    for name in ("precedence", "x-precedence"):
        value = _first(mail.headers, name).lower()
        if value in BULK_PRECEDENCE:
            yield Signal("precedence_bulk", AutomationKind.BULK, f"{name.title()}: {value}")
        elif value in AUTOREPLY_PRECEDENCE:
            yield Signal("precedence_auto_reply", AutomationKind.AUTO_REPLY, f"{name.title()}: {value}")
        elif value == "list":
            yield Signal("precedence_list", AutomationKind.LIST, f"{name.title()}: list")


def _check_machine_flags(mail: _Mail) -> Iterator[Signal]:
    for name in MACHINE_FLAGS:
        if name in mail.headers and _first(mail.headers, name).lower() not in NEGATIVE_VALUES:
            yield Signal("machine_flag", AutomationKind.AUTO_REPLY, f"{name}: {_first(mail.headers, name)}")


def _check_list(mail: _Mail) -> Iterator[Signal]:
    """List mail is written by people but must not be answered automatically (RFC 3834 section 2)."""
    listed = [name for name in LIST_HEADERS if name in mail.headers]
    if listed:
        yield Signal("list_headers", AutomationKind.LIST, f"{', '.join(n.title() for n in listed)} (RFC 2369/2919)")


def _check_no_reply_sender(mail: _Mail) -> Iterator[Signal]:
    author = mail.parsed.from_
    local = author.address.split("@", 1)[0].lower() if author is not None else ""
    if _NO_REPLY.fullmatch(local):
        yield Signal(
            "no_reply_sender", AutomationKind.AUTO_REPLY, f"From: {local}@... (a no-reply sender)", strong=False
        )


def _check_subject(mail: _Mail) -> Iterator[Signal]:
    subject = mail.parsed.subject
    if _OOO_SUBJECT.search(subject) or _NOTES_SUBJECT.search(subject):
        yield Signal("ooo_subject", AutomationKind.OUT_OF_OFFICE, f"out-of-office subject: {subject[:80]}")


# Every check runs; the order only sets the order of the reasons (our own mail first, then standard headers).
CHECKS: Final[tuple[Check, ...]] = (
    _check_loop_header,
    _check_x_loop,
    _check_own_message_id,
    _check_own_from,
    _check_answers_automatic,
    _check_report,
    _check_feedback_headers,
    _check_daemon,
    _check_null_sender,
    _check_auto_submitted,
    _check_autoreply_flags,
    _check_suppress,
    _check_exchange,
    _check_thread_topic,
    _check_precedence,
    _check_machine_flags,
    _check_list,
    _check_no_reply_sender,
    _check_subject,
)


def _decide_kind(signals: Collection[Signal]) -> AutomationKind:
    for strong in (True, False):
        kinds = {signal.kind for signal in signals if signal.strong == strong and signal.kind is not None}
        for kind in KIND_ORDER:
            if kind in kinds:
                return kind
    return AutomationKind.NORMAL


def detect_automation(
    parsed: ParsedMessage, *, own: OwnMail = NOT_OURS, answers_automatic: str = ""
) -> AutomationVerdict:
    """Classify one message. `own` says what marks our own mail; `answers_automatic` is the Message-ID of an
    automatic reply of ours that this message answers (In-Reply-To), found by the caller, else ""."""
    mail = _Mail(parsed, collect_headers(parsed), own, answers_automatic)
    signals = [signal for check in CHECKS for signal in check(mail)]
    if not signals:
        return NORMAL
    kind = _decide_kind(signals)
    if any(signal.name == OWN_DOMAIN_SIGNAL for signal in signals) and any(
        signal.kind in MACHINE_KINDS for signal in signals if signal.name != OWN_DOMAIN_SIGNAL
    ):
        kind = AutomationKind.LOOP
    return AutomationVerdict(
        kind=kind,
        reasons=tuple(signal.reason for signal in signals),
        signals=tuple(signal.name for signal in signals),
        # RFC 3834 section 2: never answer automatic mail, list mail, or mail that asks not to be answered.
        auto_answer_allowed=False,
    )


@dataclass(frozen=True, slots=True)
class RateWindow:
    """At most `limit` messages from one sender within `minutes` (Odoo's 20 in 120 minutes is the default)."""

    limit: int
    minutes: int

    def __str__(self) -> str:
        return f"{self.limit}/{self.minutes}m"


DEFAULT_RATE_WINDOW: Final = RateWindow(limit=20, minutes=120)
_RATE: Final = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*(m|min|h)?\s*", re.I)


def parse_rate_window(raw: str) -> RateWindow | None:
    """`20/120m` (or `20/2h`) -> RateWindow(20, 120); `0` or `off` -> None (no limit); ValueError otherwise."""
    text = raw.strip().lower()
    if text in {"0", "off", "none"}:
        return None
    match = _RATE.fullmatch(text)
    if match is None:
        raise ValueError(f"{raw!r} is not a rate window such as 20/120m")
    limit, amount, unit = int(match.group(1)), int(match.group(2)), (match.group(3) or "m")
    minutes = amount * 60 if unit == "h" else amount
    if limit < 1 or minutes < 1:
        raise ValueError(f"{raw!r}: the limit and the window must be at least 1")
    return RateWindow(limit=limit, minutes=minutes)


@dataclass(frozen=True, slots=True)
class RateDecision:
    """Whether the sender is over its rate window, with the count that decided."""

    over: bool
    count: int  # messages from the sender within the window, this one included
    window: RateWindow | None
    reason: str = field(default="")


def detect_rate_breach(previous: int, window: RateWindow | None) -> RateDecision:
    """The circuit breaker: `previous` messages from this sender arrived within the window before this one."""
    count = previous + 1
    if window is None:
        return RateDecision(over=False, count=count, window=None, reason="no rate window")
    over = count > window.limit
    verdict = "over" if over else "within"
    reason = f"{count} messages from this sender in {window.minutes} minutes, {verdict} the limit of {window.limit}"
    return RateDecision(over=over, count=count, window=window, reason=reason)
