"""Who a message is from, for the purpose of answering it: the first usable address in order of intent.

From names the author (RFC 5322 section 3.6.2); Reply-To, where From is unusable, says where answers should go;
Sender names the agent that sent it on the author's behalf; the envelope sender (Return-Path) is last, since it
often names a bounce address rather than a person.
"""

from __future__ import annotations

from dataclasses import dataclass

from postroom.mail.values import Address, ParsedMessage


@dataclass(frozen=True, slots=True)
class Requester:
    address: Address
    source: str  # "From", "Reply-To", "Sender" or "envelope sender"


def is_usable_address(address: Address | None) -> bool:
    """A mailbox we could answer: a local part (spaces only inside a quoted one, RFC 5322 section 3.4.1), an @,
    and a dotted domain without spaces (dotless domains are not deliverable on the Internet, RFC 7085)."""
    if address is None:
        return False
    local, at, domain = address.address.rpartition("@")
    quoted = len(local) >= 2 and local.startswith('"') and local.endswith('"')
    return bool(local and at and "." in domain.strip(".") and " " not in domain and (quoted or " " not in local))


def find_requester(parsed: ParsedMessage, envelope_from: str) -> Requester | None:
    candidates = (
        ("From", parsed.from_),
        ("Reply-To", parsed.reply_to[0] if parsed.reply_to else None),
        ("Sender", parsed.sender[0] if parsed.sender else None),
        ("envelope sender", Address(name="", address=envelope_from.strip().strip("<>"))),
    )
    for source, address in candidates:
        if address is not None and is_usable_address(address):
            return Requester(address=address, source=source)
    return None
