"""Public-key pins: their spellings, the pin of a certificate, and the check after a verified handshake."""

from __future__ import annotations

import base64
import hashlib
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from postroom.mail.transport.smtp_connect import build_tls_context, new_tls_context
from postroom.mail.transport.tlspin import PinFormatError, normalise_pin, pin_context, spki_sha256
from testpki import issue_server_cert, make_ca, write_pem


def expected_pin(cert_path: Path) -> str:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return "sha256/" + base64.b64encode(hashlib.sha256(spki).digest()).decode()


def test_pin_spellings_normalise_to_one_form() -> None:
    digest = hashlib.sha256(b"key").digest()
    b64 = base64.b64encode(digest).decode()
    assert normalise_pin(f"sha256/{b64}") == normalise_pin(b64) == normalise_pin(digest.hex()) == f"sha256/{b64}"
    assert normalise_pin(f"SHA256/{b64} ") == f"sha256/{b64}"
    for bad in ("", "sha256/abc", "not base64!", base64.b64encode(b"short").decode(), "ab" * 31):
        with pytest.raises(PinFormatError, match="SHA-256 public-key pin"):
            normalise_pin(bad)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path, Path]]:
    """A loopback TLS server that completes handshakes and closes: (port, CA file, server certificate)."""
    out = tmp_path_factory.mktemp("pin-pki")
    ca_key, ca_cert = make_ca("Pin Test CA")
    cert_file, key_file = issue_server_cert(ca_key, ca_cert, ["localhost", "127.0.0.1"], out)
    ca_file = write_pem(out / "ca.pem", ca_cert)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                with server_context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass
            finally:
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], ca_file, cert_file
    stop.set()
    listener.close()
    thread.join(5)


def handshake(port: int, context: ssl.SSLContext) -> str:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        return spki_sha256(tls.getpeercert(binary_form=True) or b"")


def test_the_pin_of_a_server_matches_openssls_spki_hash(tls_server: tuple[int, Path, Path]) -> None:
    port, ca_file, cert_file = tls_server
    assert handshake(port, build_tls_context(str(ca_file))) == expected_pin(cert_file)


def test_a_matching_pin_connects_and_a_wrong_one_is_refused_after_verification(
    tls_server: tuple[int, Path, Path],
) -> None:
    """GIVEN a server whose chain verifies WHEN the context pins its key THEN the handshake succeeds; WHEN it pins
    another key (or the chain does not verify at all) THEN the handshake fails as a certificate error."""
    port, ca_file, cert_file = tls_server
    good = expected_pin(cert_file)
    other = "sha256/" + base64.b64encode(hashlib.sha256(b"another key").digest()).decode()
    assert handshake(port, pin_context(new_tls_context(str(ca_file)), [other, good])) == good
    with pytest.raises(ssl.SSLCertVerificationError) as refused:
        handshake(port, pin_context(new_tls_context(str(ca_file)), [other]))
    assert "matches none of the configured pins" in refused.value.verify_message
    assert good in refused.value.verify_message
    with pytest.raises(ssl.SSLCertVerificationError, match=r"unable to get local issuer|self.signed|verify failed"):
        handshake(port, pin_context(new_tls_context(None), [good]))  # a pin never replaces the chain check


def test_pinning_one_context_leaves_others_alone(tls_server: tuple[int, Path, Path]) -> None:
    port, ca_file, _ = tls_server
    other = "sha256/" + base64.b64encode(hashlib.sha256(b"another key").digest()).decode()
    pin_context(new_tls_context(str(ca_file)), [other])
    assert handshake(port, build_tls_context(str(ca_file))).startswith("sha256/")


def test_the_shared_context_is_never_the_pinned_one() -> None:
    from postroom.mail.transport.tlspin import tls_context_for

    shared = build_tls_context(None)
    assert tls_context_for(None) is shared
    assert tls_context_for(None, ["sha256/" + "A" * 43 + "="]) is not shared
    assert shared.sslsocket_class is ssl.SSLSocket
