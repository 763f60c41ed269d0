"""Decide whether a message was sent by a machine (RFC 3834 auto-reply, vacation, bulk, list, bounce, loop)."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Final, Literal

from postroom.mail.values import Address, ParsedMessage

Headers = dict[str, list[str]]  # lower-case field name -> values in order
AutoKind = Literal["auto_replied", "auto_generated", "vacation", "list", "bulk", "bounce", "loop"]

# RFC 3834 §5: Auto-Submitted "no" means a person sent it; every other value (auto-generated, auto-replied,
# auto-notified of RFC 5436, private extensions) means automatic.
HUMAN_AUTO_SUBMITTED: Final = "no"
# Non-standard flags set by autoresponders (FreeScout, RT and Zammad check the first two; values are ignored).
AUTOREPLY_FLAGS: Final = ("x-autoreply", "x-autorespond", "x-autoresponder", "x-mail-autoreply", "x-autoreply-from")
MACHINE_FLAGS: Final = ("x-fc-machinegenerated", "x-auto-generated")  # RT; Frappe Helpdesk
NEGATIVE_VALUES: Final = frozenset({"no", "false", "0", "off"})
BULK_PRECEDENCE: Final = frozenset({"bulk", "junk"})  # RFC 2076 §3.9; RT and JSM treat both as automatic
LIST_HEADERS: Final = ("list-id", "list-unsubscribe", "list-post", "mailing-list", "x-mlserver")  # RFC 2369/2919; fml
DAEMON_LOCAL_PARTS: Final = frozenset({"mailer-daemon", "postmaster"})  # RFC 5321 §4.5.1; RT checks the same

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
_VACATION_ANYWHERE: Final = re.compile(r"\bvacation (?:reply|response|message)\b|\bout of (?:the )?office\b", re.I)


@dataclass(frozen=True, slots=True)
class AutoReplyVerdict:
    """Whether a machine sent the message, what kind of machine mail it is, and the evidence."""

    is_automatic: bool
    kind: AutoKind | None  # set for list mail too, which is not automatic but must not get an auto-reply
    reason: str  # the header or phrase that decided, e.g. "Auto-Submitted: auto-replied"
    suppress_auto_reply: bool = False  # the sender asked for no automatic answer (RFC 3834 §2, list mail)

    @property
    def allows_auto_reply(self) -> bool:
        """RFC 3834 §2: never auto-reply to automatic mail, list mail, or mail that asks not to be answered."""
        return not (self.is_automatic or self.suppress_auto_reply)


HUMAN: Final = AutoReplyVerdict(is_automatic=False, kind=None, reason="no automatic-mail evidence")


def _headers(parsed: ParsedMessage) -> Headers:
    found: dict[str, list[str]] = {}
    for name, value in parsed.headers:
        found.setdefault(name.strip().lower(), []).append(value.strip())
    return found


def _first(headers: Headers, name: str) -> str:
    values = headers.get(name)
    return values[0] if values else ""


def _is_vacation(parsed: ParsedMessage, detail: str) -> bool:
    """Zammad's out-of-office rules: Zimbra's "vacation" comment, or a vacation/out-of-office subject."""
    return (
        "vacation" in detail.lower()
        or bool(_OOO_SUBJECT.search(parsed.subject))
        or bool(_VACATION_ANYWHERE.search(parsed.subject))
    )


def _verdict(kind: AutoKind, reason: str) -> AutoReplyVerdict:
    return AutoReplyVerdict(is_automatic=True, kind=kind, reason=reason, suppress_auto_reply=True)


def detect_automatic_reply(parsed: ParsedMessage, *, own_domains: Collection[str] = ()) -> AutoReplyVerdict:
    """Classify one message; `own_domains` are our Message-ID domains, whose return means a mail loop."""
    own = {domain.lower() for domain in own_domains}
    if own and parsed.message_id and parsed.message_id.rsplit("@", 1)[-1].lower() in own:
        return _verdict("loop", f"Message-ID <{parsed.message_id}> is one of ours")
    headers = _headers(parsed)
    for check in CHECKS:
        verdict = check(parsed, headers)
        if verdict is not None:
            return verdict
    return HUMAN


def _check_auto_submitted(parsed: ParsedMessage, headers: Headers) -> AutoReplyVerdict | None:
    submitted = _first(headers, "auto-submitted")
    keyword = (_TOKEN.findall(submitted) or [""])[0].lower()
    if not keyword or keyword == HUMAN_AUTO_SUBMITTED:
        return None
    if keyword == "auto-replied":
        kind: AutoKind = "vacation" if _is_vacation(parsed, submitted) else "auto_replied"
        return _verdict(kind, f"Auto-Submitted: {submitted} (RFC 3834 §5)")
    return _verdict("auto_generated", f"Auto-Submitted: {submitted} (RFC 3834 §5)")


def _check_autoreply_flags(parsed: ParsedMessage, headers: Headers) -> AutoReplyVerdict | None:
    for name in AUTOREPLY_FLAGS:
        value = _first(headers, name)
        if name in headers and value.lower() not in NEGATIVE_VALUES:
            return _verdict("vacation" if _is_vacation(parsed, value) else "auto_replied", f"{name}: {value}")
    return None


def _suppressed(headers: Headers) -> set[str]:
    return {token.lower() for value in headers.get("x-auto-response-suppress", []) for token in _TOKEN.findall(value)}


def _check_suppress_all(parsed: ParsedMessage, headers: Headers) -> AutoReplyVerdict | None:
    """Exchange marks its own automatic mail with All (Zammad and django-helpdesk read it so); with the inbox-rules
    loop header it is an Outlook out-of-office reply (Zammad's out_of_office_check)."""
    if "all" not in _suppressed(headers):
        return None
    vacation = "x-ms-exchange-inbox-rules-loop" in headers or _is_vacation(parsed, "")
    return _verdict("vacation" if vacation else "auto_generated", "X-Auto-Response-Suppress: All")


def _check_precedence(parsed: ParsedMessage, headers: Headers) -> AutoReplyVerdict | None:
    for name in ("precedence", "x-precedence"):
        value = _first(headers, name).lower()
        if value in BULK_PRECEDENCE:
            return _verdict("bulk", f"{name.title()}: {value}")
        if value in ("auto_reply", "auto-reply"):
            return _verdict("auto_replied", f"{name.title()}: {value}")
    return None


def _check_machine_flags(parsed: ParsedMessage, headers: Headers) -> AutoReplyVerdict | None:
    if "x-loop" in headers and _first(headers, "x-loop").lower() not in NEGATIVE_VALUES:
        return _verdict("loop", f"X-Loop: {_first(headers, 'x-loop')}")
    for name in MACHINE_FLAGS:
        if name in headers and _first(headers, name).lower() not in NEGATIVE_VALUES:
            return _verdict("auto_generated", f"{name}: {_first(headers, name)}")
    return None


def _check_sender(parsed: ParsedMessage, headers: Headers) -> AutoReplyVerdict | None:
    local = parsed.from_.address.split("@", 1)[0].lower() if parsed.from_ is not None else ""
    if _NO_REPLY.fullmatch(local):
        return _verdict("auto_generated", f"From: {local}@… (a no-reply sender)")
    return None


def _check_subject(parsed: ParsedMessage, headers: Headers) -> AutoReplyVerdict | None:
    if _OOO_SUBJECT.search(parsed.subject):
        return _verdict("vacation", f"out-of-office subject: {parsed.subject[:80]}")
    return None


def _check_list(parsed: ParsedMessage, headers: Headers) -> AutoReplyVerdict | None:
    """List mail is written by people but must not be auto-answered (RFC 3834 §2)."""
    listed = [name for name in LIST_HEADERS if name in headers]
    if listed:
        return AutoReplyVerdict(False, "list", f"{listed[0].title()} header (RFC 2369/2919)", suppress_auto_reply=True)
    if _first(headers, "precedence").lower() == "list":
        return AutoReplyVerdict(False, "list", "Precedence: list", suppress_auto_reply=True)
    return None


def _check_suppress_request(parsed: ParsedMessage, headers: Headers) -> AutoReplyVerdict | None:
    suppress = _suppressed(headers)
    if suppress & {"oof", "autoreply"}:
        reason = f"X-Auto-Response-Suppress: {', '.join(sorted(suppress))} (the sender asks for no auto-reply)"
        return AutoReplyVerdict(is_automatic=False, kind=None, reason=reason, suppress_auto_reply=True)
    return None


def _check_daemon(parsed: ParsedMessage, headers: Headers) -> AutoReplyVerdict | None:
    """A daemon sender (RFC 5321 §4.5.1) or a multipart/report body (RFC 6522): a bounce or other report."""
    author = parsed.from_ or Address("", "")
    local = author.address.split("@", 1)[0].lower() or author.name.strip().lower()
    if local in DAEMON_LOCAL_PARTS:
        return _verdict("bounce", f"From: {local} (RFC 5321 §4.5.1)")
    if _first(headers, "content-type").lower().startswith("multipart/report"):
        return _verdict("bounce", "Content-Type: multipart/report (RFC 6522)")
    return None


def _check_null_sender(parsed: ParsedMessage, headers: Headers) -> AutoReplyVerdict | None:
    """A null reverse-path (RFC 5321 §4.5.5): used by bounces, and by auto-replies (RFC 3834 §3.3)."""
    for value in headers.get("return-path", []):
        ids = _ANGLE.findall(value)
        if not value.strip() or (ids and not ids[0].strip()):
            return _verdict("bounce", "Return-Path: <> (null reverse-path, RFC 5321 §4.5.5)")
    return None


# The order is the policy: explicit standard headers first, then vendor flags, then heuristics, then list mail.
CHECKS: Final[tuple[Callable[[ParsedMessage, Headers], AutoReplyVerdict | None], ...]] = (
    _check_daemon,
    _check_auto_submitted,
    _check_autoreply_flags,
    _check_suppress_all,
    _check_precedence,
    _check_machine_flags,
    _check_null_sender,
    _check_sender,
    _check_subject,
    _check_list,
    _check_suppress_request,
)
