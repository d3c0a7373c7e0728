"""X-Signature checks: every encoding the reference leaves open, forged and missing ones."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import urlencode

import pytest

from greenloop.lightspeed.webhook_signature import (
    ENCODINGS,
    SignatureMismatch,
    parse_signature_header,
    sign,
    signature_header,
    verify_signature,
)

SECRET = "client-secret-abc123"
PAYLOAD = json.dumps({"id": "b8ca3a65-0183-11e4-fbb5-3f3bd9b9e7ce", "status": "CLOSED"})
BODY = urlencode({"payload": PAYLOAD, "domain_prefix": "example", "environment": "prod"}).encode()


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_encoding_verifies_and_is_reported(encoding: str) -> None:
    header = signature_header(SECRET, BODY, encoding)
    matched = verify_signature(SECRET, BODY, header)
    # base64 and base64url read the same when the digest has no '+' or '/'.
    assert matched == encoding or sign(SECRET, BODY, matched) == sign(SECRET, BODY, encoding)
    assert matched.split(":")[0] == encoding.split(":")[0]


def test_raw_body_hex_is_the_plain_hmac_sha256() -> None:
    expected = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY) == expected
    header = f"signature={expected},algorithm=HMAC-SHA256"
    assert verify_signature(SECRET, BODY, header) == "body:hex"


def test_payload_base64_is_the_hmac_of_the_decoded_field() -> None:
    digest = hmac.new(SECRET.encode(), PAYLOAD.encode(), hashlib.sha256).digest()
    header = f"signature={base64.b64encode(digest).decode()},algorithm=HMAC-SHA256"
    assert verify_signature(SECRET, BODY, header) == "payload:base64"


def test_hex_in_capitals_is_accepted() -> None:
    header = f"signature={sign(SECRET, BODY).upper()},algorithm=HMAC-SHA256"
    assert verify_signature(SECRET, BODY, header) == "body:hex"


def test_base64_without_padding_and_reordered_spaced_pairs() -> None:
    signature = sign(SECRET, BODY, "body:base64").rstrip("=")
    header = f"algorithm=hmac-sha256 , signature={signature}"
    assert verify_signature(SECRET, BODY, header) == "body:base64"


def test_algorithm_defaults_to_hmac_sha256_when_not_named() -> None:
    header = f"signature={sign(SECRET, BODY)}"
    assert verify_signature(SECRET, BODY, header) == "body:hex"


@pytest.mark.parametrize(
    ("secret", "body"),
    [
        ("another-secret", BODY),  # signed by someone without our secret
        (SECRET, BODY + b"&extra=1"),  # body changed after signing
        (SECRET, BODY.replace(b"CLOSED", b"VOIDED")),
    ],
)
def test_forged_or_tampered_deliveries_are_refused(secret: str, body: bytes) -> None:
    header = signature_header(secret, BODY)
    with pytest.raises(SignatureMismatch, match="does not match") as caught:
        verify_signature(SECRET, body, header)
    assert SECRET not in str(caught.value)
    assert sign(SECRET, body) not in str(caught.value)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "no X-Signature header"),
        ("", "no X-Signature header"),
        ("   ", "no X-Signature header"),
        ("garbage", "not key=value"),
        ("algorithm=HMAC-SHA256", "has no signature"),
        ("signature=,algorithm=HMAC-SHA256", "has no signature"),
        ("signature=abc,algorithm=MD5", "not supported"),
        ("signature=897hRT893qkA783M093ha903f,algorithm=HMAC-SHA256", "does not match"),
    ],
)
def test_missing_or_unreadable_headers_are_refused(header: str | None, message: str) -> None:
    with pytest.raises(SignatureMismatch, match=message):
        verify_signature(SECRET, BODY, header)


def test_no_configured_secret_verifies_nothing() -> None:
    with pytest.raises(SignatureMismatch, match="no webhook secret"):
        verify_signature("", BODY, signature_header(SECRET, BODY))


def test_body_that_is_not_a_form_still_checks_the_raw_bytes() -> None:
    body = b"\xff\xfe not a form"
    assert verify_signature(SECRET, body, signature_header(SECRET, body)) == "body:hex"
    with pytest.raises(ValueError, match="payload"):
        sign(SECRET, body, "payload:hex")


def test_parse_keeps_base64_padding() -> None:
    parsed = parse_signature_header("signature=abc==,algorithm=HMAC-SHA256")
    assert parsed.signature == "abc=="
    assert parsed.algorithm == "HMAC-SHA256"
