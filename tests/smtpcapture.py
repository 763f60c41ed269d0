"""A real SMTP server (aiosmtpd) on loopback that keeps what it receives: what Postroom sends, byte for byte."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Captured:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class CaptureHandler:
    messages: list[Captured] = field(default_factory=list)
    reply: str = "250 OK"  # set to "451 ..." or "550 ..." to make the server refuse
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        if not self.reply.startswith("250"):
            return self.reply
        with self.lock:
            self.messages.append(
                Captured(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content))
            )
        return self.reply


def find_free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class CaptureServer:
    def __init__(self) -> None:
        self.handler = CaptureHandler()
        self.port = find_free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[Captured]:
        return self.handler.messages

    def __enter__(self) -> CaptureServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
