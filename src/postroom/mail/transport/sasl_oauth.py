"""The SASL messages that carry an OAuth 2.0 bearer token: OAUTHBEARER (RFC 7628) and XOAUTH2 (Google, Microsoft).

Pure functions over bytes, shared by the IMAP, POP3 and SMTP clients. Both mechanisms send one client response;
a server that refuses the token answers with a challenge holding a JSON error (RFC 7628 section 3.2.2), which the
client must answer before the server sends its final failure: OAUTHBEARER with a single 0x01 (section 3.2.3),
XOAUTH2 with an empty response.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Final, Literal

OAuthMechanism = Literal["xoauth2", "oauthbearer"]
OAUTH_MECHANISMS: Final[tuple[OAuthMechanism, ...]] = ("xoauth2", "oauthbearer")
SASL_NAMES: Final[dict[OAuthMechanism, str]] = {"xoauth2": "XOAUTH2", "oauthbearer": "OAUTHBEARER"}
KVSEP: Final = "\x01"  # RFC 7628 section 3.1: kvsep = %x01
# What a client sends after an error challenge to end the exchange (RFC 7628 section 3.2.3; XOAUTH2: empty).
ERROR_ACKNOWLEDGEMENT: Final[dict[OAuthMechanism, bytes]] = {"oauthbearer": b"\x01", "xoauth2": b""}


def escape_saslname(name: str) -> str:
    """RFC 5801 section 4 (used by RFC 7628's gs2-header): "=" as "=3D" and "," as "=2C"."""
    return name.replace("=", "=3D").replace(",", "=2C")


def _check(value: str, what: str) -> None:
    if KVSEP in value or "\r" in value or "\n" in value:
        raise ValueError(f"the {what} contains a control character SASL cannot carry")


def build_oauthbearer(user: str, token: str, host: str = "", port: int | None = None) -> bytes:
    """The OAUTHBEARER initial client response (RFC 7628 section 3.1), before base64.

    `n,a=<user>,` then `host=`, `port=` (both optional) and `auth=Bearer <token>`, each ended by 0x01, and a final
    0x01. The user is the authorization identity; the token's own subject is what the server checks it against.
    """
    _check(user, "user name")
    _check(token, "token")
    _check(host, "host name")
    fields = [f"host={host}"] if host else []
    fields += [f"port={port}"] if port is not None else []
    fields.append(f"auth=Bearer {token}")
    gs2_header = f"n,a={escape_saslname(user)},"
    return (gs2_header + KVSEP + "".join(field + KVSEP for field in fields) + KVSEP).encode()


def build_xoauth2(user: str, token: str) -> bytes:
    """The XOAUTH2 client response (developers.google.com/gmail/imap/xoauth2-protocol), before base64:
    `user=<user>` 0x01 `auth=Bearer <token>` 0x01 0x01."""
    _check(user, "user name")
    _check(token, "token")
    return f"user={user}{KVSEP}auth=Bearer {token}{KVSEP}{KVSEP}".encode()


def build_client_response(
    mechanism: OAuthMechanism, user: str, token: str, host: str = "", port: int | None = None
) -> bytes:
    """The initial response of either mechanism (before base64)."""
    if mechanism == "oauthbearer":
        return build_oauthbearer(user, token, host, port)
    return build_xoauth2(user, token)


def encode_response(response: bytes) -> str:
    """Base64 as every SASL profile (IMAP, POP3, SMTP) puts it on the wire."""
    return base64.b64encode(response).decode("ascii")


@dataclass(frozen=True, slots=True)
class OAuthSaslError:
    """A server's error challenge (RFC 7628 section 3.2.2): `status` is e.g. "invalid_token" or "insufficient_scope"."""

    status: str
    scope: str = ""
    openid_configuration: str = ""


def parse_error_challenge(challenge: bytes | str) -> OAuthSaslError | None:
    """The error in a base64 challenge of either mechanism; None when it is not a JSON error object."""
    raw = challenge.encode("ascii", "replace") if isinstance(challenge, str) else challenge
    try:
        decoded = base64.b64decode(raw.strip(), validate=True)
        data = json.loads(decoded)
    except (binascii.Error, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("status"), str):
        return None
    return OAuthSaslError(
        status=data["status"],
        scope=str(data.get("scope") or ""),
        openid_configuration=str(data.get("openid-configuration") or ""),
    )
