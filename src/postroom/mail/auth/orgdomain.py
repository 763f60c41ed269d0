"""Organizational domains (RFC 7489 §3.2) from the Public Suffix List bundled with `publicsuffixlist`.

The list ships inside the package (no download at run time); upgrading the package refreshes it.
"""

from __future__ import annotations

from functools import cache

from publicsuffixlist import PublicSuffixList


@cache
def _list() -> PublicSuffixList:
    """Parsed once per process: immutable data, not state (about 10k rules, a few milliseconds)."""
    return PublicSuffixList()


def find_organizational_domain(domain: str) -> str:
    """`mail.example.co.uk` -> `example.co.uk`; a public suffix itself (`co.uk`) is its own answer."""
    name = domain.strip().rstrip(".").lower()
    if not name:
        return ""
    found = _list().privatesuffix(name)
    return str(found) if found else name


def is_aligned(identifier: str, author_domain: str, *, strict: bool) -> bool:
    """RFC 7489 §3.1: strict means the same name; relaxed means the same organizational domain."""
    left = identifier.strip().rstrip(".").lower()
    right = author_domain.strip().rstrip(".").lower()
    if not left or not right:
        return False
    if strict:
        return left == right
    return find_organizational_domain(left) == find_organizational_domain(right)
