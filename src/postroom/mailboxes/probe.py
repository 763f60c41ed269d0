"""Tests a mailbox's connections ("Test connection"): its inbound IMAP or POP3 server, its outbound SMTP server and
its Sent-copy IMAP server, each with postroom.mail.transport.probe; the result is kept on the mailbox.

Hosts pass the SSRF guard first (POSTROOM_ALLOW_PRIVATE_HOSTS lets loopback and private networks through). Nothing
is changed on any server: folders are opened read-only, POP3 ends without deleting, SMTP sends no mail.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final

from django.conf import settings
from django.utils import timezone

from postroom.mail.transport.probe import probe_server
from postroom.mail.transport.probe_values import ProbeProtocol, ProbeReport, ProbeTarget
from postroom.mailboxes.connector_settings import (
    IMAP_TOKEN_SECRET,
    INBOUND_SECRET,
    OUTBOUND_SECRET,
    SENT_COPY_SECRET,
    MailboxSettings,
    ServerSettings,
    SettingsInvalidError,
    parse_mailbox_settings,
)
from postroom.mailboxes.models import ConnectorKind, Mailbox

log = logging.getLogger(__name__)

REPORT_VERSION: Final = 1  # the shape of Mailbox.last_test_report; bump when it changes
_NOTHING_TO_TEST: Final = {
    ConnectorKind.SMTP: "mail arrives through the SMTP/LMTP listener: there is no inbound server to connect to",
    ConnectorKind.IMPORT: "mail arrives as imported files: there is no inbound server to connect to",
    ConnectorKind.GRAPH: "Microsoft Graph connections are not tested yet (the Graph connector comes with issue #5)",
    ConnectorKind.EWS: "Exchange EWS connections are not tested yet (the EWS connector comes with issue #5)",
}


@dataclass(frozen=True, slots=True)
class MailboxTestResult:
    """One "Test connection": a report per server, and what could not be tested and why."""

    mailbox_id: int
    tested_at: dt.datetime
    reports: tuple[ProbeReport, ...]
    notes: tuple[str, ...]
    settings_error: str = ""  # the stored settings no longer parse: nothing was tested

    @property
    def ok(self) -> bool:
        return not self.settings_error and all(report.ok for report in self.reports)

    def render_lines(self) -> list[str]:
        lines = [f"error: {self.settings_error}"] if self.settings_error else []
        for report in self.reports:
            lines.extend(report.render_lines())
        lines.extend(f"note: {note}" for note in self.notes)
        if not self.reports and not self.settings_error:
            lines.append("nothing to test")
        return lines

    def as_json(self) -> dict[str, Any]:
        """What Mailbox.last_test_report keeps (and the API returns): no password, only what the servers showed."""
        return {
            "version": REPORT_VERSION,
            "tested_at": self.tested_at.isoformat(),
            "ok": self.ok,
            "reports": [asdict(report) for report in self.reports],
            "notes": list(self.notes),
            "settings_error": self.settings_error,
            "lines": self.render_lines(),
        }


def build_probe_targets(
    parsed: MailboxSettings, secrets: Mapping[str, object], inbound_token: str = ""
) -> list[ProbeTarget]:
    """The servers to test for these settings, with the passwords they use; `inbound_token` is the OAuth access
    token an IMAP mailbox signs in with (postroom.connectors.mailbox_test fetches it)."""
    targets: list[ProbeTarget] = []
    if parsed.inbound is not None:
        kind = ConnectorKind(parsed.kind)
        protocol = ProbeProtocol.IMAP if kind == ConnectorKind.IMAP else ProbeProtocol.POP3
        inbound = _target("inbound", protocol, parsed.inbound, secrets.get(INBOUND_SECRET[kind]))
        if protocol is ProbeProtocol.IMAP:
            token = inbound_token or str(secrets.get(IMAP_TOKEN_SECRET) or "")
            inbound = dataclasses.replace(
                inbound, access_token=token, password="" if inbound_token else inbound.password
            )
        targets.append(inbound)
    if parsed.outbound is not None:
        targets.append(_target("outbound", ProbeProtocol.SMTP, parsed.outbound, secrets.get(OUTBOUND_SECRET)))
    if parsed.sent_copy is not None:
        sent = parsed.sent_copy
        sent_target = _target("sent copy", ProbeProtocol.IMAP, sent, secrets.get(SENT_COPY_SECRET), (sent.folder,))
        targets.append(dataclasses.replace(sent_target, folders_created_on_demand=True))
    return targets


def _target(
    purpose: str,
    protocol: ProbeProtocol,
    server: ServerSettings,
    password: object,
    folders: tuple[str, ...] | None = None,
) -> ProbeTarget:
    return ProbeTarget(
        purpose=purpose,
        protocol=protocol,
        host=server.host,
        port=server.port,
        tls=server.tls,
        username=server.username,
        password=str(password or ""),
        ca_file=server.ca_file,
        folders=server.folders if folders is None else folders,
        auth_mechanism=server.auth_mechanism,
        pins=server.pins,
        proxy=next((proxy for proxy in settings.POSTROOM.proxies if proxy.name == server.proxy), None),
    )


def probe_mailbox(
    mailbox: Mailbox, *, record: bool = True, inbound_token: str = "", sign_in_error: str = ""
) -> MailboxTestResult:
    """Test every server the mailbox uses and (with `record`) keep the result on it as its last test.

    `inbound_token` / `sign_in_error`: the OAuth access token its reader signs in with, or why none could be had.
    """
    now = timezone.now()
    secrets = mailbox.secrets if isinstance(mailbox.secrets, Mapping) else {}
    try:
        parsed = parse_mailbox_settings(mailbox.kind, mailbox.settings)
    except SettingsInvalidError as e:
        result = MailboxTestResult(mailbox.pk, now, (), (), settings_error=f"the settings are invalid: {e}")
    else:
        result = _probe_servers(mailbox, parsed, secrets, now, inbound_token=inbound_token, sign_in_error=sign_in_error)
    log.info("mailbox %s connection test: %s", mailbox.pk, "ok" if result.ok else "failed")
    if record:
        Mailbox.objects.filter(pk=mailbox.pk).update(
            last_test_at=now, last_test_ok=result.ok, last_test_report=result.as_json()
        )
        mailbox.last_test_at, mailbox.last_test_ok, mailbox.last_test_report = now, result.ok, result.as_json()
    return result


def _probe_servers(
    mailbox: Mailbox,
    parsed: MailboxSettings,
    secrets: Mapping[str, object],
    now: dt.datetime,
    *,
    inbound_token: str,
    sign_in_error: str,
) -> MailboxTestResult:
    if sign_in_error:  # no token to sign in with: nothing would pass the login
        return MailboxTestResult(mailbox.pk, now, (), (), settings_error=sign_in_error)
    allow_private = settings.POSTROOM.allow_private_hosts
    reports = tuple(
        probe_server(target, allow_private=allow_private)
        for target in build_probe_targets(parsed, secrets, inbound_token)
    )
    notes: tuple[str, ...] = ()
    if mailbox.kind in _NOTHING_TO_TEST:
        notes += (_NOTHING_TO_TEST[ConnectorKind(mailbox.kind)],)
    if parsed.outbound is None:
        notes += ("no outbound server of its own: replies go through POSTROOM_OUTBOUND_SMTP_URL",)
    return MailboxTestResult(mailbox.pk, now, reports, notes)
