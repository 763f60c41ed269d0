"""Compare our `ParsedMessage` with a Zammad `mail/*.yml` expectation, field by field."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from pathlib import Path
from typing import Any, Final

import yaml

from postroom.mail.parse.addresses import parse_address_list
from postroom.mail.parse.htmltext import html_to_text
from postroom.mail.values import Address, ParsedMessage

FIELDS: Final = (
    "from",
    "from_email",
    "from_display_name",
    "to",
    "cc",
    "subject",
    "message_id",
    "attachments",
    "body",
)
HEADER_FIELDS: Final = ("from", "from_email", "from_display_name", "to", "cc", "subject", "message_id")
_WS: Final = re.compile(r"\s+")
_HTML5_BRACKETS: Final = str.maketrans({"\u27e8": "\u2329", "\u27e9": "\u232a"})
_TITLE: Final = re.compile(r"<title[^>]*>(.*?)</title>", re.S | re.I)
EMPTY_BODY_PLACEHOLDER: Final = "novisiblecontent"  # what Zammad stores instead of an empty body


class _RubyTolerantLoader(yaml.SafeLoader):
    """SafeLoader that reads Ruby-tagged nodes (`!ruby/hash:...`, `!binary`) as plain values."""


def _construct_tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    value = loader.construct_scalar(node)  # type: ignore[arg-type]
    if suffix == "binary":
        return base64.b64decode("".join(str(value).split()))
    return value


_RubyTolerantLoader.add_multi_constructor("!", _construct_tagged)


def load_expectation(path: Path) -> dict[str, Any]:
    """One yml file as a plain dict (attachment data as bytes)."""
    with path.open(encoding="utf-8") as handle:
        loaded = yaml.load(handle, Loader=_RubyTolerantLoader)  # noqa: S506 - SafeLoader subclass
    return loaded if isinstance(loaded, dict) else {}


def find_header(parsed: ParsedMessage, name: str) -> str | None:
    """The decoded top-level field of that name; of several, the first that holds an address."""
    values = [value for key, value in parsed.headers if key.lower() == name]
    with_address = [value for value in values if "@" in value]
    return (with_address or values or [None])[0]


def _needs_quotes(name: str) -> bool:
    return bool(re.search(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]", name))


def render_mail_gem(addresses: tuple[Address, ...]) -> str:
    """How Ruby's mail gem prints decoded address fields: names with specials or non-ASCII quoted."""
    rendered = []
    for mailbox in addresses:
        if mailbox.name:
            name = f'"{mailbox.name}"' if _needs_quotes(mailbox.name) else mailbox.name
            rendered.append(f"{name} <{mailbox.address}>")
        else:
            rendered.append(mailbox.address)
    return ", ".join(rendered)


def _address_header_matches(expected: str, parsed: ParsedMessage, name: str, addresses: tuple[Address, ...]) -> bool:
    value = find_header(parsed, name)
    if value is None:
        return expected == ""
    if "@" not in value and name != "from":
        value = ""  # Zammad blanks recipient fields without an address (EMAIL_REGEX)
    return expected in (value, render_mail_gem(addresses))


def _sender(parsed: ParsedMessage) -> Address | None:
    """Zammad's SENDER_FIELDS order: the first of From, Reply-To, Sender that holds an address."""
    from_value = find_header(parsed, "from") or ""
    if "@" in from_value and parsed.from_ is not None:
        return parsed.from_
    for candidates in (parsed.reply_to, parsed.sender):
        for mailbox in candidates:
            if "@" in mailbox.address:
                return mailbox
    return parsed.from_


def _same_domain_insensitive(expected: str, actual: str) -> bool:
    local, _, domain = expected.rpartition("@")
    return actual == (f"{local}@{domain.lower()}" if local else expected)


def normalise_body(value: str, is_html: bool) -> str:
    """Text for comparison: HTML rendered to text, white space removed (inline markup puts it in different
    places in Zammad's sanitised HTML and the original), HTML 4 angle brackets for `&lang;`/`&rang;`."""
    text = html_to_text(value) if is_html else value
    return _WS.sub("", text).translate(_HTML5_BRACKETS)


def _attachments_match(expected: list[dict[str, Any]], parsed: ParsedMessage) -> tuple[bool, list[str]]:
    problems: list[str] = []
    ours: dict[str, list[str]] = {}
    for attachment in parsed.attachments:
        ours.setdefault(attachment.md5, []).append(attachment.filename)
        if attachment.content_type.startswith("message/") and b"\r\n" in attachment.payload:
            # Zammad's mail gem turns CRLF into LF when it decodes a 7bit part; we keep the original bytes
            lf_only = attachment.payload.replace(b"\r\n", b"\n")
            ours.setdefault(hashlib.md5(lf_only, usedforsecurity=False).hexdigest(), []).append(attachment.filename)
    for item in expected:
        data = item.get("data") or b""
        raw = data if isinstance(data, bytes) else str(data).encode("utf-8")
        digest = hashlib.md5(raw, usedforsecurity=False).hexdigest()
        preferences = item.get("preferences") or {}
        if preferences.get("content-alternative"):
            body = (parsed.html or "").encode("utf-8")
            if hashlib.md5(body, usedforsecurity=False).hexdigest() != digest:
                problems.append(f"body-as-attachment md5 differs ({item.get('filename')})")
            continue
        names = ours.get(digest)
        if not names:
            problems.append(f"no attachment with md5 of {item.get('filename')!r} ({len(raw)} bytes)")
        elif item.get("filename") in names:
            names.remove(str(item.get("filename")))
        else:
            problems.append(f"filename {names!r} != {item.get('filename')!r}")
    return not problems, problems


def compare(expected: dict[str, Any], parsed: ParsedMessage) -> dict[str, tuple[bool, str]]:
    """Per applicable field: (matches, detail). Fields absent from the yml are not compared."""
    result: dict[str, tuple[bool, str]] = {}
    sender = _sender(parsed)
    if "from" in expected:
        value = find_header(parsed, "from") or ""
        ok = expected["from"] in (value, render_mail_gem(parse_address_list(value)))
        result["from"] = (ok, f"{value!r}")
    if "from_email" in expected:
        actual = sender.address if sender else ""
        result["from_email"] = (_same_domain_insensitive(str(expected["from_email"]), actual), repr(actual))
    if "from_display_name" in expected:
        actual = sender.name if sender else ""
        result["from_display_name"] = (actual == expected["from_display_name"], repr(actual))
    for name, addresses in (("to", parsed.to), ("cc", parsed.cc)):
        if name in expected:
            ok = _address_header_matches(str(expected[name]), parsed, name, addresses)
            result[name] = (ok, repr(find_header(parsed, name)))
    if "subject" in expected:
        result["subject"] = (parsed.subject == expected["subject"], repr(parsed.subject))
    if "message_id" in expected:
        actual = f"<{parsed.message_id}>" if parsed.message_id else ""
        result["message_id"] = (actual == expected["message_id"], repr(actual))
    if expected.get("attachments"):
        ok, problems = _attachments_match(expected["attachments"], parsed)
        result["attachments"] = (ok, "; ".join(problems))
    if "body" in expected:
        content_type = expected.get("content_type")
        is_html = content_type == "text/html" or (content_type is None and parsed.html is not None)
        want = normalise_body(str(expected["body"] or ""), is_html)
        if want == EMPTY_BODY_PLACEHOLDER:
            want = ""
        title = _TITLE.search(parsed.html or "")
        title_text = normalise_body(html.unescape(title.group(1)), False) if title else ""
        if title_text and want.startswith(title_text):
            want = want[len(title_text) :].strip()  # Zammad's sanitiser keeps <title> text in the body
        got = normalise_body(parsed.html, True) if is_html and parsed.html else normalise_body(parsed.text, False)
        result["body"] = (want == got, f"{got[:120]!r} vs {want[:120]!r}")
    return result
