"""The bridge between dkimpy's `dnsfunc` hook and our Resolver, plus capture of dkimpy's reasons.

dkimpy reports why a signature failed only through its logger, and turns key-lookup timeouts into a plain
False; this module keeps those facts so DKIM and ARC verdicts can say "temperror" and give a reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Final

import dkim

from postroom.mail.auth.resolver import DnsTemporaryError, Resolver

MINIMUM_KEY_BITS: Final = 1024  # RFC 8301 §3.2: verifiers MUST NOT consider signatures with shorter RSA keys valid
# dkimpy's own parser fails on hostile input with these (besides DKIMException): a permerror, never a crash
LIBRARY_FAILURES: Final = (dkim.DKIMException, IndexError, KeyError, ValueError, TypeError, AttributeError)


def count_header_fields(raw: bytes, name: bytes) -> int:
    """How many header fields called `name` the header block has (for a message dkimpy cannot parse)."""
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    prefix = name.lower() + b":"
    return sum(1 for line in head.split(b"\n") if line.lower().replace(b" ", b"").startswith(prefix))


class KeyLookupTemporaryError(Exception):
    """A key lookup timed out; raised through dkimpy (it is no DKIMException) so the caller sees it."""


class _Collect(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(level=logging.ERROR)
        self._sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self._sink.append(record.getMessage())


@dataclass
class KeyLookups:
    """A dkimpy dnsfunc over our Resolver that remembers key problems and dkimpy's error messages."""

    resolver: Resolver
    key_errors: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    def logger(self) -> logging.Logger:
        """A private logger (not registered with logging's manager) whose errors land in `messages`."""
        # a Logger made directly is not registered with logging.getLogger's manager: no shared state between checks
        logger = logging.Logger("postroom.mail.auth.dkimpy", level=logging.ERROR)  # noqa: LOG001 - see above
        logger.addHandler(_Collect(self.messages))
        logger.propagate = False
        return logger

    def __call__(self, name: bytes, timeout: float = 5) -> bytes | None:
        """dkimpy's dnsfunc: the first TXT record at `selector._domainkey.domain.` (RFC 6376 §3.6.2.2)."""
        del timeout  # the Resolver carries its own lifetime
        text = name.decode("ascii", "replace")
        try:
            records = self.resolver.resolve_txt(text)
        except DnsTemporaryError as e:
            raise KeyLookupTemporaryError(str(e)) from e
        if not records:
            self.key_errors.append(f"no key record at {text.rstrip('.')}")
            return None
        try:
            dkim.evaluate_pk(name, records[0])
        except dkim.DKIMException as e:
            self.key_errors.append(f"unusable key record at {text.rstrip('.')}: {e}")
        return records[0]

    def last_reason(self, default: str) -> str:
        """The last thing dkimpy complained about, else `default`."""
        return self.messages[-1] if self.messages else default
