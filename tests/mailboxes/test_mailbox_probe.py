"""Test connection: real servers on loopback (Dovecot IMAP and POP3 with TLS, aiosmtpd SMTP with STARTTLS and
implicit TLS), the failures an admin meets (untrusted, expired or misnamed certificate, wrong password, missing
folder, refused, timeout, no STARTTLS, a private address), and a mailbox's result kept and shown by the CLI."""

from __future__ import annotations

import dataclasses
import datetime as dt
import imaplib
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dovecotserver import HOST, NOT_INSTALLED, DovecotServer, find_dovecot
from postroom.cli import main
from postroom.mail.transport.probe import probe_server
from postroom.mail.transport.probe_values import ProbeProtocol, ProbeReport, ProbeTarget
from postroom.mailboxes.models import ConnectorKind, Mailbox
from postroom.mailboxes.probe import probe_mailbox
from postroom.mailboxes.services import save_mailbox
from postroom.tenants.services import get_default_tenant
from postroom.tickets.services import ensure_default_queue
from testpki import issue_server_cert, make_ca, write_pem

USER: Final = "support"
PASSWORD: Final = "imap-Secret-77"
SMTP_USER: Final = "relay-user"
SMTP_PASSWORD: Final = "smtp-Secret-88"
POP3_BINARIES: Final = (Path("/usr/lib/dovecot/pop3"), Path("/usr/libexec/dovecot/pop3"))
HAS_POP3: Final = any(path.exists() for path in POP3_BINARIES)
needs_pop3 = pytest.mark.skipif(not HAS_POP3, reason="dovecot-pop3d is not installed (Debian: dovecot-pop3d)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class MailServer(DovecotServer):
    """The tests' Dovecot with POP3 and POP3S listeners as well, when dovecot-pop3d is installed."""

    def __init__(self, root: Path, users: dict[str, str]) -> None:
        super().__init__(root, users)
        self.pop3_port, self.pop3s_port = _free_port(), _free_port()

    def write_config(self) -> None:
        super().write_config()
        if not HAS_POP3:
            return
        chroot = "" if self.identity.chroot_login else "  chroot =\n"
        text = self.config_file.read_text().replace("protocols = imap\n", "protocols = imap pop3\n")
        text += (
            f"service pop3-login {{\n{chroot}"
            f"  inet_listener pop3 {{\n    address = {HOST}\n    port = {self.pop3_port}\n  }}\n"
            f"  inet_listener pop3s {{\n    address = {HOST}\n    port = {self.pop3s_port}\n    ssl = yes\n  }}\n}}\n"
        )
        self.config_file.write_text(text)

    def start(self) -> None:
        super().start()
        deadline = time.monotonic() + 20
        while HAS_POP3:  # the IMAP listeners answer first; wait until POP3 greets as well
            try:
                with socket.create_connection((HOST, self.pop3_port), timeout=2) as conn:
                    if conn.recv(100).startswith(b"+OK"):
                        return
            except OSError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    """Dovecot with the support account: INBOX holding one message, and the folders Archive and Entwürfe."""
    if find_dovecot() is None:
        pytest.skip(NOT_INSTALLED)
    with MailServer(tmp_path_factory.mktemp("dovecot"), {USER: PASSWORD}) as server:
        context = ssl.create_default_context(cafile=server.ca_file)
        conn = imaplib.IMAP4_SSL(HOST, server.imaps_port, ssl_context=context)
        conn.login(USER, PASSWORD)
        conn.create("Archive")
        conn.create("Entw&APw-rfe")  # "Entwürfe" in modified UTF-7
        conn.append("INBOX", "", imaplib.Time2Internaldate(time.time()), b"Subject: hi\r\n\r\nHello\r\n")
        conn.logout()
        yield server


def imap_target(server: DovecotServer, **changes: Any) -> ProbeTarget:
    values: dict[str, Any] = {
        "purpose": "inbound",
        "protocol": ProbeProtocol.IMAP,
        "host": HOST,
        "port": server.imaps_port,
        "tls": "implicit",
        "username": USER,
        "password": PASSWORD,
        "ca_file": str(server.ca_file),
        "folders": ("INBOX",),
        "timeout_seconds": 10.0,
    }
    values.update(changes)
    return ProbeTarget(**values)


def assert_no_secret(report: ProbeReport, *secrets: str) -> None:
    text = repr(dataclasses.asdict(report)) + "\n".join(report.render_lines())
    assert not any(secret in text for secret in secrets)


# --- IMAP ---------------------------------------------------------------------------------------------------


def test_imap_over_tls_reports_the_session_certificate_login_and_folders(dovecot: DovecotServer) -> None:
    """
    GIVEN Dovecot with a certificate from a private CA, configured as the CA file
    WHEN the IMAP account is tested over implicit TLS
    THEN the report names the address, TLS version and cipher, the verified certificate, the capabilities,
         a successful login, every folder (decoded) and the INBOX count, and never the password
    """
    report = probe_server(imap_target(dovecot), allow_private=True)

    assert report.ok, report.summary
    assert report.resolved == (HOST,) and report.connected_to == HOST
    assert report.tls is not None and report.tls.version in {"TLSv1.2", "TLSv1.3"} and report.tls.cipher
    certificate = report.tls.certificate
    assert certificate is not None
    assert (certificate.subject, certificate.issuer) == ("CN=localhost", "CN=Postroom Dovecot Test CA")
    assert 28 <= certificate.days_left <= 30 and "IP Address 127.0.0.1" in certificate.alt_names
    assert str(dovecot.ca_file) in report.tls.verified_against
    assert "IMAP4REV1" in {c.upper() for c in report.capabilities}
    assert report.authentication == f"succeeded as {USER} (LOGIN)"
    assert {"INBOX", "Archive", "Entwürfe"} <= set(report.folders)
    assert "folder INBOX: 1 messages" in report.notes
    lines = "\n".join(report.render_lines())
    assert "OK - logged in as support" in lines and "CN=Postroom Dovecot Test CA" in lines
    assert_no_secret(report, PASSWORD)


def test_imap_starttls_upgrades_before_logging_in(dovecot: DovecotServer) -> None:
    """GIVEN the plaintext IMAP port WHEN tested with STARTTLS THEN TLS is established and verified, login works."""
    report = probe_server(imap_target(dovecot, port=dovecot.imap_port, tls="starttls"), allow_private=True)

    assert report.ok, report.summary
    assert report.tls is not None and report.tls.certificate is not None
    assert "STARTTLS" in report.greeting


def test_a_certificate_from_an_unknown_authority_is_refused_before_login(dovecot: DovecotServer) -> None:
    """
    GIVEN Dovecot's certificate from a private CA, and no CA file configured
    WHEN the account is tested
    THEN it fails as a certificate problem, says why in one line, and never tried to log in
    """
    report = probe_server(imap_target(dovecot, ca_file=None), allow_private=True)

    assert (report.ok, report.failure) == (False, "certificate")
    assert report.summary.startswith("certificate invalid: the certificate was not issued by a trusted authority")
    assert report.authentication == "not tried" and report.tls is None


def test_a_wrong_password_is_an_authentication_failure(dovecot: DovecotServer) -> None:
    """GIVEN a wrong password WHEN tested THEN authentication failed with the server's words, TLS facts kept."""
    report = probe_server(imap_target(dovecot, password="not-it-9"), allow_private=True)

    assert (report.ok, report.failure) == (False, "authentication")
    assert report.summary == f"authentication failed as {USER}: [AUTHENTICATIONFAILED] Authentication failed."
    assert report.tls is not None
    assert_no_secret(report, "not-it-9")


def test_a_configured_folder_the_server_lacks_is_named(dovecot: DovecotServer) -> None:
    """GIVEN folders INBOX and Support WHEN tested THEN it fails on Support, listing the folders there are."""
    report = probe_server(imap_target(dovecot, folders=("INBOX", "Support")), allow_private=True)

    assert (report.ok, report.failure) == (False, "folder")
    assert report.summary == "the folder 'Support' does not exist on the server"
    assert "Archive" in report.folders


def test_an_access_token_logs_in_with_xoauth2(dovecot: DovecotServer) -> None:
    """
    GIVEN an IMAP mailbox with an access token instead of a password (this Dovecot checks the token as a password)
    WHEN tested with the right token and with a wrong one
    THEN AUTHENTICATE XOAUTH2 succeeds, then fails; the token appears in neither report
    """
    good = probe_server(imap_target(dovecot, password="", access_token=PASSWORD), allow_private=True)
    bad = probe_server(imap_target(dovecot, password="", access_token="ya29.wrong"), allow_private=True)

    assert good.ok and good.authentication == f"succeeded as {USER} (AUTHENTICATE XOAUTH2)"
    assert (bad.ok, bad.failure) == (False, "authentication")
    assert_no_secret(bad, "ya29.wrong")


# --- POP3 ---------------------------------------------------------------------------------------------------


@needs_pop3
@pytest.mark.parametrize("tls", ["implicit", "starttls"])
def test_pop3_reports_tls_capabilities_login_and_count(dovecot: MailServer, tls: str) -> None:
    """
    GIVEN Dovecot's POP3S port (implicit TLS) and its POP3 port (STLS)
    WHEN the POP3 account is tested
    THEN TLS is verified, CAPA is listed, USER/PASS succeeds and the waiting message is counted
    """
    port = dovecot.pop3s_port if tls == "implicit" else dovecot.pop3_port
    target = imap_target(dovecot, protocol=ProbeProtocol.POP3, port=port, tls=tls, folders=())

    report = probe_server(target, allow_private=True)

    assert report.ok, report.summary
    assert report.tls is not None and report.tls.certificate is not None
    assert "UIDL" in report.capabilities and "USER" in report.capabilities
    assert report.authentication == f"succeeded as {USER} (USER/PASS)"
    assert report.summary == f"logged in as {USER}; 1 messages waiting"


@needs_pop3
def test_pop3_wrong_password(dovecot: MailServer) -> None:
    """GIVEN a wrong POP3 password WHEN tested THEN an authentication failure, the password nowhere in it."""
    target = imap_target(dovecot, protocol=ProbeProtocol.POP3, port=dovecot.pop3s_port, password="wrong-77", folders=())

    report = probe_server(target, allow_private=True)

    assert (report.ok, report.failure) == (False, "authentication")
    assert report.summary.startswith(f"authentication failed as {USER}: -ERR")
    assert_no_secret(report, "wrong-77")


# --- SMTP (aiosmtpd) ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Pki:
    ca_file: Path
    good: ssl.SSLContext
    expired: ssl.SSLContext
    misnamed: ssl.SSLContext


def _server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def _expired_cert(ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, out: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that expired yesterday, signed by the trusted CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=30))
        .not_valid_after(now - dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), False)
        .sign(ca_key, hashes.SHA256())
    )
    return write_pem(out / "expired.crt", cert), write_pem(out / "expired.key", key)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    out = tmp_path_factory.mktemp("smtp-pki")
    ca_key, ca_cert = make_ca("Postroom SMTP Test CA")
    return Pki(
        ca_file=write_pem(out / "ca.pem", ca_cert),
        good=_server_context(*issue_server_cert(ca_key, ca_cert, ["localhost", HOST], out, stem="good")),
        expired=_server_context(*_expired_cert(ca_key, ca_cert, out)),
        misnamed=_server_context(*issue_server_cert(ca_key, ca_cert, ["mail.other.test"], out, stem="misnamed")),
    )


class Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd hook)
        return "250 OK"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (SMTP_USER.encode(), SMTP_PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


@contextmanager
def smtp_server(**kwargs: Any) -> Iterator[int]:
    port = _free_port()
    controller = Controller(Sink(), hostname=HOST, port=port, server_hostname="mx.test", **kwargs)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def smtp_target(port: int, pki: Pki, **changes: Any) -> ProbeTarget:
    values: dict[str, Any] = {
        "purpose": "outbound",
        "protocol": ProbeProtocol.SMTP,
        "host": HOST,
        "port": port,
        "tls": "starttls",
        "username": SMTP_USER,
        "password": SMTP_PASSWORD,
        "ca_file": str(pki.ca_file),
        "timeout_seconds": 10.0,
        "local_hostname": "postroom.test",
    }
    values.update(changes)
    return ProbeTarget(**values)


def test_smtp_starttls_and_auth(pki: Pki) -> None:
    """
    GIVEN a submission server requiring STARTTLS before AUTH
    WHEN the outbound settings are tested
    THEN the greeting, the verified TLS session, the EHLO extensions and a successful AUTH are reported; no mail
    """
    with smtp_server(tls_context=pki.good, require_starttls=True, authenticator=_authenticate) as port:
        report = probe_server(smtp_target(port, pki), allow_private=True)

    assert report.ok, report.summary
    assert report.greeting.startswith("220 mx.test")
    assert report.tls is not None and report.tls.certificate is not None
    assert any(capability.startswith("AUTH") for capability in report.capabilities)
    assert report.authentication == f"succeeded as {SMTP_USER}"
    assert report.summary == f"ready to send as {SMTP_USER}"


def test_smtp_implicit_tls_and_a_refused_login(pki: Pki) -> None:
    """GIVEN implicit TLS (port 465 style) and a wrong password WHEN tested THEN TLS works, AUTH failed with 535."""
    # aiosmtpd does not count implicit TLS as TLS for its AUTH rule; the connection is TLS all the same
    with smtp_server(ssl_context=pki.good, authenticator=_authenticate, auth_require_tls=False) as port:
        report = probe_server(smtp_target(port, pki, tls="implicit", password="nope-55"), allow_private=True)

    assert report.tls is not None
    assert (report.ok, report.failure) == (False, "authentication")
    assert report.summary.startswith(f"authentication failed as {SMTP_USER}: 535")
    assert_no_secret(report, "nope-55")


def test_starttls_that_is_not_offered_is_a_failure_not_a_fallback(pki: Pki) -> None:
    """GIVEN a server without STARTTLS WHEN tested with STARTTLS THEN it fails, and no AUTH was tried."""
    with smtp_server(authenticator=_authenticate, auth_require_tls=False) as port:
        report = probe_server(smtp_target(port, pki), allow_private=True)

    assert (report.ok, report.failure) == (False, "tls")
    assert "does not offer STARTTLS" in report.summary and report.authentication == "not tried"


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ("expired", "certificate invalid: the certificate has expired"),
        ("misnamed", "certificate invalid: it is not issued for 127.0.0.1"),
    ],
)
def test_expired_and_misnamed_certificates_say_why(pki: Pki, context: str, expected: str) -> None:
    """GIVEN a certificate that expired, or one for another name WHEN tested THEN the one line says which."""
    with smtp_server(ssl_context=getattr(pki, context), authenticator=_authenticate) as port:
        report = probe_server(smtp_target(port, pki, tls="implicit"), allow_private=True)

    assert (report.ok, report.failure) == (False, "certificate")
    assert report.summary.startswith(expected)


# --- network failures and the SSRF guard -------------------------------------------------------------------


def test_nothing_listening_is_connection_refused(pki: Pki) -> None:
    """GIVEN a port nobody listens on WHEN tested THEN "connection refused" with host and port."""
    report = probe_server(smtp_target(_free_port(), pki), allow_private=True)

    assert (report.ok, report.failure) == (False, "connection_refused")
    assert report.summary.startswith(f"connection refused: nothing accepts connections on {HOST} port")


def test_a_server_that_never_answers_times_out(pki: Pki) -> None:
    """GIVEN a port that accepts but never greets WHEN tested with a short timeout THEN it is a timeout."""
    with socket.create_server((HOST, 0)) as silent:
        port = silent.getsockname()[1]
        report = probe_server(smtp_target(port, pki, timeout_seconds=0.3), allow_private=True)

    assert (report.ok, report.failure) == (False, "timeout")
    assert report.summary.startswith(f"no answer from {HOST} port {port} within 0.3 s")


def test_private_addresses_are_refused_unless_allowed(pki: Pki) -> None:
    """
    GIVEN a listening port on 127.0.0.1 and private hosts not allowed
    WHEN it is tested
    THEN the guard refuses it, naming the address and the setting, and no connection was made
    """
    with socket.create_server((HOST, 0)) as listener:
        listener.setblocking(False)
        report = probe_server(smtp_target(listener.getsockname()[1], pki), allow_private=False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody knocked

    assert (report.ok, report.failure) == (False, "refused_host")
    assert "127.0.0.1 is a loopback address" in report.summary and "POSTROOM_ALLOW_PRIVATE_HOSTS" in report.summary


# --- a mailbox's test: kept on the mailbox, shown by the CLI ------------------------------------------------


@pytest.fixture
def allow_private(settings: Any) -> None:
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, allow_private_hosts=True)


@pytest.mark.django_db
def test_a_mailbox_test_covers_inbound_outbound_and_sent_copy_and_is_kept(
    dovecot: DovecotServer, pki: Pki, allow_private: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    GIVEN an IMAP mailbox with its own SMTP server and Sent copies, passwords stored encrypted
    WHEN `postroom mailboxes test ID` runs
    THEN each of the three servers is reported, the result is kept on the mailbox without any password, exit 0;
         and changing a password afterwards forgets the result (it described the old settings)
    """
    tenant = get_default_tenant()
    with smtp_server(tls_context=pki.good, require_starttls=True, authenticator=_authenticate) as smtp_port:
        mailbox = Mailbox(
            tenant=tenant,
            name="Support",
            kind=ConnectorKind.IMAP,
            default_queue=ensure_default_queue(tenant),
            settings={
                "host": HOST,
                "port": dovecot.imaps_port,
                "username": USER,
                "ca_file": str(dovecot.ca_file),
                "folders": ["INBOX", "Archive"],
                "outbound": {"host": HOST, "port": smtp_port, "username": SMTP_USER, "ca_file": str(pki.ca_file)},
                "sent_copy": {
                    "host": HOST,
                    "port": dovecot.imap_port,
                    "username": USER,
                    "ca_file": str(dovecot.ca_file),
                },
            },
        )
        save_mailbox(mailbox, {"imap_password": PASSWORD, "smtp_password": SMTP_PASSWORD})

        assert main(["mailboxes", "test", str(mailbox.pk)]) == 0

    out = capsys.readouterr().out
    assert "inbound IMAP 127.0.0.1" in out and "outbound SMTP 127.0.0.1" in out and "sent copy IMAP" in out
    assert out.count(": OK - ") == 3
    mailbox.refresh_from_db()
    assert mailbox.last_test_ok is True and mailbox.last_test_at is not None
    stored = repr(mailbox.last_test_report)
    assert [r["purpose"] for r in mailbox.last_test_report["reports"]] == ["inbound", "outbound", "sent copy"]
    assert PASSWORD not in stored and SMTP_PASSWORD not in stored
    assert main(["mailboxes", "list"]) == 0
    assert "\tSupport\timap\t-\tactive\ttest passed" in capsys.readouterr().out

    save_mailbox(mailbox, {"smtp_password": "a-new-one-1"})
    mailbox.refresh_from_db()
    assert (mailbox.last_test_at, mailbox.last_test_ok, mailbox.last_test_report) == (None, None, {})


@pytest.mark.django_db
def test_a_failing_mailbox_exits_non_zero_and_kinds_without_a_server_say_so(
    allow_private: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    GIVEN a POP3 mailbox whose server refuses connections, and a Graph mailbox
    WHEN each is tested
    THEN the POP3 one fails (exit 1, kept as failed) and the Graph one says it cannot be tested yet
    """
    tenant = get_default_tenant()
    queue = ensure_default_queue(tenant)
    pop3 = Mailbox.objects.create(
        tenant=tenant, name="Old", kind=ConnectorKind.POP3, default_queue=queue,
        settings={"host": HOST, "port": _free_port(), "username": USER},
    )  # fmt: skip
    graph = Mailbox.objects.create(
        tenant=tenant, name="Cloud", kind=ConnectorKind.GRAPH, default_queue=queue,
        settings={"tenant_id": "t", "client_id": "c", "user": "support@example.com"},
    )  # fmt: skip

    assert main(["mailboxes", "test", str(pop3.pk)]) == 1
    assert "inbound POP3 127.0.0.1" in capsys.readouterr().out
    pop3.refresh_from_db()
    assert pop3.last_test_ok is False
    assert pop3.last_test_report["reports"][0]["failure"] == "connection_refused"

    result = probe_mailbox(graph)
    assert result.reports == () and result.ok
    assert any("Graph connections are not tested yet" in note for note in result.notes)
    assert main(["mailboxes", "test", "999999"]) == 2
