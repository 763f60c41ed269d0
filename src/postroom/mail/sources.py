"""Read messages from files: single .eml files, mbox files and Maildir folders (RFC 4155, Maildir spec)."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from postroom.mail.errors import SenderError

# In a folder, only these are taken as mail; manifests, notes and data files beside them are skipped.
MAIL_SUFFIXES: Final = frozenset({"", ".eml", ".box", ".mbox", ".mbx", ".mail", ".msg.eml"})


@dataclass(frozen=True, slots=True)
class SourceItem:
    label: str  # where it came from, for messages to the user: path, or path#index inside an mbox
    raw: bytes


def is_maildir(path: Path) -> bool:
    return path.is_dir() and all((path / sub).is_dir() for sub in ("cur", "new", "tmp"))


def looks_like_mbox(head: bytes, data: bytes) -> bool:
    """An mbox starts with a `From ` line and holds more than one message (a lone `From ` line is a single mail)."""
    return head.startswith(b"From ") and (b"\nFrom " in data)


def iter_file(path: Path) -> Iterator[SourceItem]:
    data = path.read_bytes()
    if looks_like_mbox(data[:5], data):
        box = mailbox.mbox(str(path), create=False)
        try:
            for index, key in enumerate(box.iterkeys()):
                yield SourceItem(f"{path}#{index + 1}", box.get_bytes(key, from_=False))
        finally:
            box.close()
        return
    yield SourceItem(str(path), data)


def iter_maildir(path: Path) -> Iterator[SourceItem]:
    box = mailbox.Maildir(str(path), factory=None, create=False)
    for key in sorted(box.iterkeys()):
        yield SourceItem(f"{path}/{key}", box.get_bytes(key))


def iter_messages(path: Path) -> Iterator[SourceItem]:
    """Every message under `path`; raises SenderError when the path does not exist or cannot be read."""
    if not path.exists():
        raise SenderError(f"{path}: no such file or directory")
    if is_maildir(path):
        yield from iter_maildir(path)
    elif path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
            if any(part in {"cur", "new", "tmp"} for part in child.relative_to(path).parts[:-1]):
                continue
            if child.suffix.lower() in MAIL_SUFFIXES:
                yield from iter_file(child)
        for sub in sorted(p for p in path.rglob("*") if is_maildir(p)):
            yield from iter_maildir(sub)
    else:
        try:
            yield from iter_file(path)
        except OSError as e:
            raise SenderError(f"{path}: {e.strerror or e}") from e
