"""Outbound SMTP benchmark (not a test): N messages through SmtpPool and N with one connection per message.

usage: python bench/outbound.py [--count 5000] [--pool-size 4] [--threads 8] [--tls none|starttls]

Starts a loopback aiosmtpd server in a subprocess (so its event loop does not share the client's GIL) that
accepts and counts every message, builds N realistic ~5 KB messages (text and HTML alternatives, unique
Message-IDs), then sends them from a thread pool twice: through one `SmtpPool` and with `send_once` (a new
connection, EHLO and QUIT per message: the baseline). Prints messages per second and p50/p99 per-message
latency (the client's send call) for both, and checks the server got every message.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "src"))
from benchmail import pct  # noqa: E402 - bench/benchmail.py, beside this file

from postroom.mail.transport.smtp import SendResult, SendStatus, SmtpPool, SmtpSettings, TlsMode, send_once  # noqa: E402

HOST = "127.0.0.1"
PARAGRAPH = (
    "Thank you for getting in touch about the printer on the third floor. We have looked at the error log you "
    "sent and it points to a worn fuser unit; a technician will bring a replacement on Thursday morning. "
)


# --- the server (subprocess) --------------------------------------------------------------------------------


def serve(cert_dir: str | None) -> None:
    """Accept and count messages until stdin closes; print the port first and the counts last."""
    from aiosmtpd.smtp import SMTP
    from aiosmtpd.smtp import Envelope as SMTPEnvelope
    from aiosmtpd.smtp import Session as SMTPSession

    counts = {"messages": 0, "bytes": 0, "sessions": 0}

    class Handler:
        async def handle_DATA(  # noqa: N802 (aiosmtpd hook name)
            self, server: SMTP, session: SMTPSession, envelope: SMTPEnvelope
        ) -> str:
            counts["messages"] += 1
            counts["bytes"] += len(envelope.original_content or b"")
            return "250 2.0.0 OK"

    tls_context = None
    if cert_dir:
        tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_context.load_cert_chain(Path(cert_dir) / "server.crt", Path(cert_dir) / "server.key")
    handler = Handler()
    loop = asyncio.new_event_loop()

    def factory() -> SMTP:
        counts["sessions"] += 1
        return SMTP(
            handler,
            hostname="bench.test",
            decode_data=False,
            enable_SMTPUTF8=True,
            tls_context=tls_context,
            require_starttls=tls_context is not None,
            loop=loop,
        )

    sock = socket.create_server((HOST, 0), backlog=256)
    server = loop.run_until_complete(loop.create_server(factory, sock=sock))
    print(sock.getsockname()[1], flush=True)

    def wait_for_eof() -> None:
        sys.stdin.read()
        loop.call_soon_threadsafe(loop.stop)

    threading.Thread(target=wait_for_eof, daemon=True).start()
    loop.run_forever()
    server.close()
    print(f"{counts['messages']} {counts['bytes']} {counts['sessions']}", flush=True)


# --- the client ---------------------------------------------------------------------------------------------


def build_messages(count: int) -> list[bytes]:
    """`count` replies of about 5 KB: text/plain and text/html alternatives, a few headers, unique ids."""
    messages = []
    now = format_datetime(dt.datetime.now(dt.UTC))
    for i in range(count):
        msg = EmailMessage()
        msg["From"] = "Example Support <support@example.com>"
        msg["To"] = f"Kunde {i} <kunde{i}@example.org>"
        msg["Subject"] = f"Re: [#{10000 + i}] Drucker im dritten Stock druckt nicht"
        msg["Date"] = now
        msg["Message-ID"] = make_msgid(idstring=f"bench{i}", domain="example.com")
        msg["In-Reply-To"] = f"<customer-{i}@example.org>"
        msg["Auto-Submitted"] = "no"
        text = f"Hallo Kunde {i},\n\n" + (PARAGRAPH + "\n\n") * 10 + "Grüße\nExample Support\n"
        msg.set_content(text)
        msg.add_alternative(
            f"<html><body><p>Hallo Kunde {i},</p>" + f"<p>{PARAGRAPH}</p>" * 10 + "</body></html>", subtype="html"
        )
        messages.append(msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    return messages


def run(name: str, send: Callable[[bytes, int], SendResult], messages: list[bytes], threads: int) -> None:
    latencies: list[float] = []
    failures: list[SendResult] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        started = time.perf_counter()
        result = send(messages[i], i)
        elapsed = (time.perf_counter() - started) * 1000.0
        with lock:
            latencies.append(elapsed)
            if result.status is not SendStatus.SENT:
                failures.append(result)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, range(len(messages))))
    wall = time.perf_counter() - started
    print(
        f"{name:<22} {len(messages) / wall:8.0f} msg/s   p50 {pct(latencies, 50):6.2f} ms   "
        f"p99 {pct(latencies, 99):6.2f} ms   ({len(messages)} in {wall:.2f} s, {len(failures)} not sent)"
    )
    for failure in failures[:3]:
        print(f"    {failure.status}: {failure.reply}")


def write_certificates(out: Path) -> Path:
    """A throwaway CA and a localhost/127.0.0.1 server certificate; returns the CA file."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Bench CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (out / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (out / "server.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (out / "server.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return out / "ca.pem"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--pool-size", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--tls", choices=["none", "starttls"], default="none")
    parser.add_argument("--skip-once", action="store_true", help="only the pooled run")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cert-dir", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.cert_dir)
        return

    with tempfile.TemporaryDirectory(prefix="postroom-outbound-") as tmp:
        ca_file = write_certificates(Path(tmp)) if args.tls == "starttls" else None
        command = [sys.executable, __file__, "--serve"] + (["--cert-dir", tmp] if ca_file else [])
        server = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if server.stdin is None or server.stdout is None:
            raise RuntimeError("no pipes to the server process")
        try:
            port = int(server.stdout.readline())
            settings = SmtpSettings(
                host=HOST,
                port=port,
                tls=TlsMode.STARTTLS if ca_file else TlsMode.NONE,
                ca_file=str(ca_file) if ca_file else None,
                local_hostname="client.test",
                max_messages_per_connection=1000,
            )
            messages = build_messages(args.count)
            size = sum(map(len, messages)) / len(messages)
            print(
                f"outbound SMTP to aiosmtpd in a subprocess, TLS {args.tls}: {args.count} messages of "
                f"{size / 1024:.1f} KB average, {args.threads} sender threads, {os.cpu_count()} CPUs"
            )
            recipients = [f"kunde{i}@example.org" for i in range(args.count)]
            with SmtpPool(settings, size=args.pool_size) as pool:
                run(
                    f"pooled (size {args.pool_size})",
                    lambda raw, i: pool.send("support@example.com", [recipients[i]], raw),
                    messages,
                    args.threads,
                )
            if not args.skip_once:
                run(
                    "one connection each",
                    lambda raw, i: send_once(settings, "support@example.com", [recipients[i]], raw),
                    messages,
                    args.threads,
                )
        finally:
            server.stdin.close()
            counts = server.stdout.readline().split()
            server.wait(30)
        if counts:
            expected = args.count * (1 if args.skip_once else 2)
            print(f"server received {counts[0]} of {expected} messages over {counts[2]} sessions")


if __name__ == "__main__":
    main()
