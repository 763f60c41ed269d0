"""RFC 3463 enhanced status codes and RFC 5321 reply codes in report fields and diagnostic text."""

from __future__ import annotations

import re
from typing import Final

STATUS: Final = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?!\d|\.\d)")  # RFC 3463 §2
FAILURE_STATUS: Final = re.compile(r"(?<![\d.])([45])\.(\d{1,3})\.(\d{1,3})(?!\d|\.\d)")
# a reply code starts a line or follows "smtp;", a space or a quote, and is followed by a space, "-" or the end
REPLY_CODE: Final = re.compile(r"(?<![\d.#-])([45])\d\d(?=[ -]|$)", re.M)  # RFC 5321 §4.2
_ANY_REPLY_CODE: Final = re.compile(r"(?<![\w.#/=-])(?<!\d:)([245][0-5]\d)(?=[ ,-]|$)", re.M)
# where in the SMTP dialogue the refusal came (RFC 5321 §3.3): Postfix "(in reply to end of DATA command)",
# Exim "SMTP error from remote mail server after end of data", Sendmail's transcript ">>> DATA" then "<<< 550"
_COMMAND_AFTER: Final = re.compile(
    r"in reply to (?:end of )?(DATA|RCPT TO|MAIL FROM|HELO|EHLO|STARTTLS|AUTH)\b|"
    r"(?:error|refused|rejected)[\w\s]{0,40}? after (?:end of |pipelined )?"
    r"(data|rcpt to|mail from|helo|ehlo|initial connection)\b|"
    r"^>>> (DATA|RCPT TO|MAIL FROM|HELO|EHLO)\b[^\n]*\n(?:<<< [23]\d\d[^\n]*\n)*<<< [45]\d\d|"
    r"connected to \S+ but (my name) was rejected",  # qmail: the greeting (HELO) was refused
    re.I | re.M,
)


_SPACES: Final = re.compile(r"[ \t\n]+")
_PIPELINED_RCPT: Final = re.compile(
    r"^[45]\d\d [45]\.\d{1,3}\.\d{1,3} <[^>\n]*>\.\.\. |^<<< 503|no valid recipients|all rcpt commands were rejected",
    re.I | re.M,
)


def find_status(text: str) -> str:
    """The first RFC 3463 code in the text (2, 4 or 5 class), or ""."""
    found = STATUS.search(text)
    return found.group(0) if found else ""


def find_reply_code(text: str, status: str = "") -> str:
    """The first RFC 5321 reply code in a diagnostic whose class agrees with the status (when one is known).

    An MTA that relays a remote refusal quotes it after its own words ("5.1.0 ... 550-'5.7.1 ...'"), so the code
    is searched for anywhere, not only at the start; a "2xx" is taken only for a success status.
    """
    wanted = status[:1]
    for match in _ANY_REPLY_CODE.finditer(text):
        code = match.group(1)
        if code[0] == "2" and wanted != "2":
            continue
        if not wanted or code[0] == wanted or wanted not in "245":
            return code
    return ""


def refine_status(status_field: str, diagnostic: str) -> str:
    """The RFC 3463 code: the remote server's own code in the diagnostic when it has the class of the Status field
    (the reporting MTA often sums up with a vaguer code: 5.0.0, 5.1.0, 4.4.7 for "gave up"), else the field's; a
    bare reply code gives its class only ("550" -> "5.0.0")."""
    declared = STATUS.search(status_field)
    detailed = STATUS.search(diagnostic)
    if declared is None:
        if detailed is not None:
            return detailed.group(0)
        code = REPLY_CODE.search(diagnostic)
        return f"{code.group(1)}.0.0" if code else ""
    # the last code of the field's class: a relaying MTA's own words come first, the remote server's quoted after
    same_class = [found.group(0) for found in STATUS.finditer(diagnostic) if found.group(1) == declared.group(1)]
    return same_class[-1] if same_class else declared.group(0)


def is_generic_status(status: str) -> bool:
    """No status, or one that tells the class only (X.0.0)."""
    return not status or status.endswith(".0.0")


def find_smtp_command(text: str) -> str:
    """The SMTP command the refusal answered ("DATA", "RCPT", "MAIL", "HELO", "CONN"), or "" when not said.

    With PIPELINING (RFC 2920 §3.1) a transcript shows the RCPT TO replies after ">>> DATA"; Sendmail then writes
    its own per-recipient line ("550 5.1.1 <bob@x>... User unknown") and the server says it has no valid
    recipients (503/554): that refusal answered RCPT TO, not DATA.
    """
    found = _COMMAND_AFTER.search(text) or _COMMAND_AFTER.search(_SPACES.sub(" ", text))
    if found is None:
        return ""
    word = next(group for group in found.groups() if group).upper()
    if word == "DATA" and found.group(3) and _PIPELINED_RCPT.search(text, found.end(), found.end() + 600):
        return "RCPT"
    names = {"RCPT TO": "RCPT", "MAIL FROM": "MAIL", "EHLO": "HELO", "MY NAME": "HELO", "INITIAL CONNECTION": "CONN"}
    return names.get(word, word)
