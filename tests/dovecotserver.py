"""A private Dovecot IMAP server on loopback for tests: its own config, users, certificates and maildirs.

Started as `dovecot -F -c <conf>` from Debian's `dovecot-imapd`, listening on two free ports of 127.0.0.1: IMAP
(STARTTLS offered) and IMAPS, with a server certificate for localhost/127.0.0.1 signed by a throwaway CA.

As root (CI containers) Dovecot refuses to run its login processes or any mailbox as root, so the login process
runs as `dovenull` (or `nobody`) in Dovecot's usual chroot and the mail is kept by `nobody` in a directory of its
own under the system temp directory (pytest's tmp_path is not reachable for other users). As any other user it
runs rootless (Dovecot's HowTo/Rootless): every process is that user, no chroots, mail under tmp_path.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from testpki import issue_server_cert, make_ca, write_pem

HOST: Final = "127.0.0.1"
START_TIMEOUT_SECONDS: Final = 20.0
NOT_INSTALLED: Final = "dovecot is not installed (Debian: apt-get install dovecot-imapd)"


def find_dovecot() -> str | None:
    """The dovecot binary (Debian installs it in /usr/sbin, which is not on every user's PATH)."""
    return shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")


needs_dovecot = pytest.mark.skipif(find_dovecot() is None, reason=NOT_INSTALLED)
"""Skips a test when there is no dovecot binary."""


# --- certificates -------------------------------------------------------------------------------------------


def write_test_pki(out: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for localhost and 127.0.0.1 signed by it: (ca.pem, server.crt, server.key)."""
    ca_key, ca_cert = make_ca("Postroom Dovecot Test CA")
    cert_file, key_file = issue_server_cert(ca_key, ca_cert, ["localhost", HOST], out)
    return write_pem(out / "ca.pem", ca_cert), cert_file, key_file


# --- the server ---------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class _Identity:
    internal_user: str
    internal_group: str
    login_user: str
    mail_uid: int
    mail_gid: int
    chroot_login: bool


def _identity() -> _Identity:
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        group = grp.getgrgid(os.getegid()).gr_name
        return _Identity(me.pw_name, group, me.pw_name, me.pw_uid, me.pw_gid, chroot_login=False)
    nobody = pwd.getpwnam("nobody")
    try:
        login_user = pwd.getpwnam("dovenull").pw_name  # created by the dovecot-core package
    except KeyError:
        login_user = nobody.pw_name
    return _Identity("root", "root", login_user, nobody.pw_uid, nobody.pw_gid, chroot_login=True)


class DovecotServer:
    """A running Dovecot with the given users (name -> password); use as a context manager."""

    def __init__(self, root: Path, users: dict[str, str], introspection_url: str = "") -> None:
        binary = find_dovecot()
        if binary is None:
            raise RuntimeError(NOT_INSTALLED)
        self.binary = binary
        self.root = root
        self.users = dict(users)
        # With a URL: XOAUTH2 and OAUTHBEARER logins are checked by Dovecot's oauth2 passdb, which POSTs the token
        # to this RFC 7662 introspection endpoint (tests/oauthserver.py); passwords still work as before.
        self.introspection_url = introspection_url
        self.identity = _identity()
        self.imap_port = _free_port()
        self.imaps_port = _free_port()
        while self.imaps_port == self.imap_port:
            self.imaps_port = _free_port()
        self.ca_file, self.cert_file, self.key_file = write_test_pki(root / "pki")
        self._own_mail_root = self.identity.chroot_login
        if self._own_mail_root:  # as root: a directory the mail user can reach (tmp_path's parent is 0700)
            self.mail_root = Path(tempfile.mkdtemp(prefix="postroom-dovecot-mail-"))
            os.chown(self.mail_root, self.identity.mail_uid, self.identity.mail_gid)
        else:
            self.mail_root = root / "mail"
            self.mail_root.mkdir()
        # Dovecot's unix sockets live in base_dir, and a socket path is limited to 108 bytes: pytest's tmp_path
        # under xdist (…/popen-gw0/<long test name>/…) is too deep for it.
        self.base_dir = Path(tempfile.mkdtemp(prefix="dv-"))
        self.config_file = root / "dovecot.conf"
        self.log_file = root / "dovecot.log"
        self.process: subprocess.Popen[bytes] | None = None

    # -- what tests look at --

    def maildir(self, user: str, folder: str = "INBOX") -> Path:
        """A folder's maildir; `folder` as on the wire (modified UTF-7, "/" between levels)."""
        base = self.mail_root / user / "Maildir"
        return base if folder.upper() == "INBOX" else base / ("." + folder.replace("/", "."))

    def stored_messages(self, user: str, folder: str = "INBOX") -> list[Path]:
        """The message files of a folder, in no particular order (empty when the folder does not exist).

        A file's mtime is the message's IMAP internal date; its name ends in ":2,<flags>" (S for \\Seen).
        """
        directory = self.maildir(user, folder)
        files = [p for sub in ("new", "cur") if (directory / sub).is_dir() for p in (directory / sub).iterdir()]
        return sorted(files, key=lambda p: p.name)

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    # -- lifecycle --

    def write_config(self) -> None:
        ident = self.identity
        (self.root / "state").mkdir(exist_ok=True)
        passwd = self.root / "passwd"
        passwd.write_text("".join(f"{name}:{{PLAIN}}{password}\n" for name, password in self.users.items()))
        chroot = "" if ident.chroot_login else "  chroot =\n"
        self.config_file.write_text(
            f"""# Written by tests/dovecotserver.py for one test run.
protocols = imap
listen = {HOST}
base_dir = {self.base_dir}
state_dir = {self.root / "state"}
instance_name = postroom-test-{self.imap_port}
log_path = {self.log_file}
info_log_path = {self.log_file}
default_internal_user = {ident.internal_user}
default_internal_group = {ident.internal_group}
default_login_user = {ident.login_user}
first_valid_uid = {ident.mail_uid}
first_valid_gid = {ident.mail_gid}
auth_mechanisms = plain login xoauth2{" oauthbearer" if self.introspection_url else ""}
auth_failure_delay = 0
auth_username_chars =
# bench/connectors.py keeps 100+ IDLE connections open: Dovecot's default of 100 processes per service (and 10
# connections per user and address) would refuse the next login.
default_process_limit = 1000
default_client_limit = 4000
mail_max_userip_connections = 50
ssl = yes
ssl_cert = <{self.cert_file}
ssl_key = <{self.key_file}
ssl_min_protocol = TLSv1.2
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {passwd}
{"  mechanisms = plain login" + chr(10) if self.introspection_url else ""}}}
{self._oauth2_passdb()}userdb {{
  driver = static
  args = uid={ident.mail_uid} gid={ident.mail_gid} home={self.mail_root}/%u
}}
service imap-login {{
{chroot}  inet_listener imap {{
    address = {HOST}
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {self.imaps_port}
    ssl = yes
  }}
}}
service anvil {{
{chroot}  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service ipc {{
{chroot}}}
"""
        )

    def _oauth2_passdb(self) -> str:
        """Dovecot's oauth2 passdb (doc.dovecot.org, "OAuth2 authentication"): one POST per login, the reply's
        `username` must equal the login name and `active` must be true."""
        if not self.introspection_url:
            return ""
        args = self.root / "oauth2.conf.ext"
        args.write_text(
            f"introspection_mode = post\nintrospection_url = {self.introspection_url}\nforce_introspection = yes\n"
            "username_attribute = username\nactive_attribute = active\nactive_value = true\n"
        )
        return f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {args}\n}}\n"

    def start(self) -> None:
        self.write_config()
        with (self.root / "dovecot.stdout").open("wb") as out:
            self.process = subprocess.Popen(
                [self.binary, "-F", "-c", str(self.config_file)], stdout=out, stderr=subprocess.STDOUT
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        """Until the IMAP port greets and the IMAPS port accepts, or the deadline passes."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        last_error = "not tried"
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited with {self.process.returncode}:\n{self._diagnostics()}")
            try:
                with socket.create_connection((HOST, self.imap_port), timeout=2) as conn:
                    greeting = conn.recv(200)
                with socket.create_connection((HOST, self.imaps_port), timeout=2):
                    pass
                if greeting.startswith(b"* OK"):
                    return
                last_error = repr(greeting)
            except OSError as e:
                last_error = str(e)
            time.sleep(0.05)
        raise RuntimeError(
            f"dovecot did not answer within {START_TIMEOUT_SECONDS}s ({last_error}):\n{self._diagnostics()}"
        )

    def _diagnostics(self) -> str:
        stdout = self.root / "dovecot.stdout"
        return (stdout.read_text(errors="replace") if stdout.exists() else "") + self.log_text()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        shutil.rmtree(self.base_dir, ignore_errors=True)
        if self._own_mail_root:
            shutil.rmtree(self.mail_root, ignore_errors=True)

    def __enter__(self) -> DovecotServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- for test modules ---------------------------------------------------------------------------------------


def serve_dovecot(
    tmp_path_factory: pytest.TempPathFactory, users: Mapping[str, str], introspection_url: str = ""
) -> Iterator[DovecotServer]:
    """The body of a (module-scoped) fixture: a running server with these users, or a skip without dovecot.

    Use as `yield from serve_dovecot(tmp_path_factory, {USER: PASSWORD})`; `introspection_url` turns on OAuth logins.
    """
    if find_dovecot() is None:
        pytest.skip(NOT_INSTALLED)
    with DovecotServer(tmp_path_factory.mktemp("dovecot"), dict(users), introspection_url) as server:
        yield server


# --- mail in the server, for connector tests (tests/connectors) -----------------------------------------------


def open_imap(server: DovecotServer, user: str) -> imaplib.IMAP4_SSL:
    """A logged-in IMAPS connection as `user` (password from the server's users), trusting the test CA."""
    context = ssl.create_default_context(cafile=str(server.ca_file))
    conn = imaplib.IMAP4_SSL(HOST, server.imaps_port, ssl_context=context, timeout=30)
    conn.login(user, server.users[user])
    return conn


def append_messages(server: DovecotServer, user: str, raws: Sequence[bytes], folder: str = "INBOX") -> None:
    """APPEND each message to `folder` (created when missing) over one connection, like a delivery would."""
    conn = open_imap(server, user)
    try:
        if folder.upper() != "INBOX":
            conn.create(folder)  # "already exists" is a NO, which is fine
        for raw in raws:
            typ, data = conn.append(folder, "", None, raw)
            if typ != "OK":
                raise RuntimeError(f"APPEND to {folder} failed: {data!r}")
    finally:
        conn.logout()


def create_folder(server: DovecotServer, user: str, folder: str) -> None:
    conn = open_imap(server, user)
    try:
        conn.create(folder)
    finally:
        conn.logout()


def list_flags(server: DovecotServer, user: str, folder: str = "INBOX") -> dict[int, set[str]]:
    """UID -> flags of every message in `folder` (read-only EXAMINE: looking changes nothing)."""
    conn = open_imap(server, user)
    try:
        typ, _ = conn.select(folder, readonly=True)
        if typ != "OK":
            return {}
        typ, data = conn.uid("FETCH", "1:*", "(FLAGS)")
        out: dict[int, set[str]] = {}
        for item in data:
            if not isinstance(item, bytes):
                continue
            match = re.search(rb"UID (\d+) FLAGS \(([^)]*)\)|FLAGS \(([^)]*)\) UID (\d+)", item)
            if match is None:
                continue
            uid = int(match.group(1) or match.group(4))
            flags = (match.group(2) if match.group(1) else match.group(3)) or b""
            out[uid] = {f.decode() for f in flags.split()}
        return out
    finally:
        conn.logout()


def set_uidvalidity(server: DovecotServer, user: str, value: int, folder: str = "INBOX") -> None:
    """Give a folder a new UIDVALIDITY (as after a server migration or a rebuilt index).

    Dovecot keeps the UIDs' numbers; a client must still treat every UID under the new UIDVALIDITY as new.
    """
    doveadm = shutil.which("doveadm") or shutil.which("doveadm", path="/usr/bin:/usr/sbin")
    if doveadm is None:
        raise RuntimeError("doveadm is not installed")
    subprocess.run(
        [doveadm, "-c", str(server.config_file), "mailbox", "update", "-u", user, "--uid-validity", str(value), folder],
        check=True,
        capture_output=True,
        timeout=30,
    )


# --- POP3 (tests/connectors/test_pop3_live.py) ----------------------------------------------------------------

POP3_BINARIES: Final = (Path("/usr/lib/dovecot/pop3"), Path("/usr/libexec/dovecot/pop3"))
NO_POP3: Final = "dovecot-pop3d is not installed (Debian: apt-get install dovecot-pop3d)"


def has_pop3() -> bool:
    """Whether Dovecot's POP3 service (Debian's dovecot-pop3d) is installed."""
    return any(path.exists() for path in POP3_BINARIES)


needs_pop3 = pytest.mark.skipif(not has_pop3(), reason=NO_POP3)
"""Skips a test when Dovecot has no POP3 service."""


class Pop3DovecotServer(DovecotServer):
    """The test Dovecot with POP3 (STLS offered) and POP3S listeners as well as the IMAP ones."""

    def __init__(self, root: Path, users: dict[str, str], introspection_url: str = "") -> None:
        super().__init__(root, users, introspection_url)
        taken = {0, self.imap_port, self.imaps_port}
        self.pop3_port = self.pop3s_port = 0
        while self.pop3_port in taken:
            self.pop3_port = _free_port()
        taken.add(self.pop3_port)
        while self.pop3s_port in taken:
            self.pop3s_port = _free_port()

    def write_config(self) -> None:
        super().write_config()
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
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:  # the IMAP listeners answer first; wait until POP3 greets as well
            try:
                with socket.create_connection((HOST, self.pop3_port), timeout=2) as conn:
                    if conn.recv(100).startswith(b"+OK"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dovecot's POP3 did not greet within {START_TIMEOUT_SECONDS}s")
            time.sleep(0.05)


def serve_pop3_dovecot(
    tmp_path_factory: pytest.TempPathFactory, users: Mapping[str, str]
) -> Iterator[Pop3DovecotServer]:
    """Like serve_dovecot, with POP3 listeners; skips without dovecot or its POP3 service."""
    if find_dovecot() is None:
        pytest.skip(NOT_INSTALLED)
    if not has_pop3():
        pytest.skip(NO_POP3)
    with Pop3DovecotServer(tmp_path_factory.mktemp("dovecot-pop3"), dict(users)) as server:
        yield server
