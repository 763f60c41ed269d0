"""The MIME parser: raw bytes in, a `ParsedMessage` out; never raises (see docs/architecture/parser.md)."""

from postroom.mail.parse.message import parse_message

__all__ = ["parse_message"]
