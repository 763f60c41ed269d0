"""The OAuth SASL messages against the published examples: RFC 7628 section 4 (OAUTHBEARER) and Google's XOAUTH2."""

from __future__ import annotations

import base64

import pytest

from postroom.mail.transport.sasl_oauth import (
    ERROR_ACKNOWLEDGEMENT,
    OAuthSaslError,
    build_client_response,
    build_oauthbearer,
    build_xoauth2,
    encode_response,
    escape_saslname,
    parse_error_challenge,
)

# RFC 7628 section 4.1, the IMAP example's initial client response, verbatim.
RFC7628_INITIAL = (
    "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52"
    "YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB"
)
RFC7628_TOKEN = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="
# RFC 7628 section 4.3, the server's error challenge after a refused token.
RFC7628_ERROR = (
    "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3VyYXRpb24iOiJodHRwczov"
    "L2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0="
)
# developers.google.com/gmail/imap/xoauth2-protocol: the SASL XOAUTH2 initial client response.
GOOGLE_XOAUTH2 = (
    "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0"
    "Q2cBAQ=="
)


def test_oauthbearer_matches_the_rfc_7628_example() -> None:
    """GIVEN the user, host, port and token of RFC 7628 section 4.1 WHEN the response is built THEN it is the RFC's
    base64 string byte for byte."""
    response = build_oauthbearer("user@example.com", RFC7628_TOKEN, "server.example.com", 143)
    assert encode_response(response) == RFC7628_INITIAL


def test_oauthbearer_without_host_and_port_keeps_only_the_gs2_header_and_auth() -> None:
    """GIVEN no host or port WHEN built THEN `n,a=<user>,` ^A `auth=Bearer <token>` ^A ^A (both are optional)."""
    assert build_oauthbearer("u@example.com", "t") == b"n,a=u@example.com,\x01auth=Bearer t\x01\x01"


def test_xoauth2_matches_googles_example() -> None:
    """GIVEN Google's documented user and token WHEN built THEN it is Google's base64 string."""
    response = build_xoauth2("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg")
    assert encode_response(response) == GOOGLE_XOAUTH2
    assert build_client_response("xoauth2", "someuser@example.com", "ya29.x") == build_xoauth2(
        "someuser@example.com", "ya29.x"
    )


def test_the_authorization_identity_is_escaped_as_rfc_5801_says() -> None:
    """GIVEN a user name with "," and "=" WHEN put in the gs2-header THEN they become "=2C" and "=3D"."""
    assert escape_saslname("a,b=c@x") == "a=2Cb=3Dc@x"
    assert build_oauthbearer("a,b=c@x", "t").startswith(b"n,a=a=2Cb=3Dc@x,\x01")


@pytest.mark.parametrize("bad", ["tok\x01en", "tok\r\nen"])
def test_a_token_with_a_separator_is_refused(bad: str) -> None:
    """GIVEN a token holding ^A or CRLF WHEN built THEN ValueError (it would end the field or the command)."""
    with pytest.raises(ValueError, match="control character"):
        build_oauthbearer("u@example.com", bad)
    with pytest.raises(ValueError, match="control character"):
        build_xoauth2("u@example.com", bad)


def test_the_rfc_7628_error_challenge_is_parsed() -> None:
    """GIVEN the error challenge of RFC 7628 section 4.3 WHEN parsed THEN status, scope and discovery URL."""
    assert parse_error_challenge(RFC7628_ERROR) == OAuthSaslError(
        status="invalid_token",
        scope="example_scope",
        openid_configuration="https://example.com/.well-known/openid-configuration",
    )
    google = base64.b64encode(b'{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}')
    assert parse_error_challenge(google) == OAuthSaslError("401", "https://mail.google.com/")
    assert parse_error_challenge("not base64!") is None
    assert parse_error_challenge(base64.b64encode(b"[1, 2]")) is None


def test_the_error_acknowledgements_are_the_mechanisms_own() -> None:
    """RFC 7628 section 3.2.3: the client answers an error challenge with a single ^A; XOAUTH2 with nothing."""
    assert ERROR_ACKNOWLEDGEMENT == {"oauthbearer": b"\x01", "xoauth2": b""}
    assert encode_response(ERROR_ACKNOWLEDGEMENT["oauthbearer"]) == "AQ=="
