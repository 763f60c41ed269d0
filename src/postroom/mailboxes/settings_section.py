"""Reading one JSON object of a mailbox's settings: typed getters that collect every problem under its path
("settings.outbound.port") instead of stopping at the first, so the API and the console show them all at once."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from django.conf import settings as django_settings

from postroom.mail.transport.probe_values import PROBE_TLS_MODES, ProbeTls
from postroom.mail.transport.tlspin import PinFormatError, normalise_pin

Errors = dict[str, list[str]]

_HOST: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?\.?|\[?[0-9A-Fa-f:.]+\]?")


class SettingsSection:
    """Reads one JSON object of settings, collecting every problem under `path` instead of stopping at the first."""

    def __init__(self, raw: object, path: str, allowed: frozenset[str], errors: Errors) -> None:
        self.path = path
        self.errors = errors
        self.values: Mapping[str, object] = raw if isinstance(raw, Mapping) else {}
        if not isinstance(raw, Mapping):
            self.fail("", "must be an object")
        for key in sorted(set(self.values) - allowed):
            self.fail(str(key), f"unknown setting (known: {', '.join(sorted(allowed)) or 'none'})")

    def fail(self, key: str, message: str) -> None:
        self.errors.setdefault(f"{self.path}.{key}" if key else self.path, []).append(message)

    def text(self, key: str, *, required: bool = False, default: str = "", max_length: int = 320) -> str:
        value = self.values.get(key)
        if value is None or value == "":
            if required:
                self.fail(key, "is required")
            return default
        if not isinstance(value, str):
            self.fail(key, "must be text")
            return default
        if len(value) > max_length:
            self.fail(key, f"must be at most {max_length} characters")
        return value.strip()

    def host(self, key: str = "host") -> str:
        value = self.text(key, required=True, max_length=253)
        if value and not _HOST.fullmatch(value):
            self.fail(key, "must be a host name or an IP address (no scheme, port or path)")
        return value

    def tls(self, default: ProbeTls) -> ProbeTls:
        value = self.values.get("tls", default) or default
        for mode in PROBE_TLS_MODES:
            if value == mode:
                return mode
        self.fail("tls", "must be implicit, starttls or none")
        return default

    def port(self, defaults: Mapping[str, int], tls: str) -> int:
        value = self.values.get("port")
        if value is None or value == "":
            return defaults[tls]
        if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
            self.fail("port", "must be a whole number")
            return defaults[tls]
        port = int(value)
        if not 0 < port < 65536:
            self.fail("port", "must be between 1 and 65535")
        return port

    def number(self, key: str, low: int, high: int) -> None:
        value = self.values.get(key)
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
            self.fail(key, "must be a whole number")
        elif not low <= int(value) <= high:
            self.fail(key, f"must be between {low} and {high}")

    def flag(self, key: str) -> None:
        if key in self.values and not isinstance(self.values[key], bool):
            self.fail(key, "must be true or false")

    def ca_file(self) -> str | None:
        value = self.text("ca_file", max_length=4096)
        if value and not value.startswith("/"):
            self.fail("ca_file", "must be an absolute path on the Postroom server (a PEM file of CA certificates)")
        return value or None

    def pins(self) -> tuple[str, ...]:
        value = self.values.get("pin_sha256") or []
        pins = [value] if isinstance(value, str) else value
        if not isinstance(pins, list) or not all(isinstance(pin, str) for pin in pins):
            self.fail("pin_sha256", "must be a pin or a list of pins (sha256/<base64>)")
            return ()
        try:
            return tuple(normalise_pin(pin) for pin in pins)
        except PinFormatError as e:
            self.fail("pin_sha256", str(e))
            return ()

    def proxy(self) -> str:
        """The name of one of the operator's proxies (POSTROOM_PROXIES), or "" for a direct connection."""
        name = self.text("proxy", max_length=100)
        known = {proxy.name for proxy in django_settings.POSTROOM.proxies}
        if name and name not in known:
            self.fail("proxy", f"no proxy named {name}; known: {', '.join(sorted(known)) or 'none (POSTROOM_PROXIES)'}")
        return name

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.values.get(key, default) or default
        if value not in choices:
            self.fail(key, f"must be one of {', '.join(choices)}")
            return default
        return str(value)

    def text_list(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self.values.get(key)
        if value is None:
            return default
        if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
            self.fail(key, "must be a list of names")
            return default
        return tuple(item.strip() for item in value) or default
