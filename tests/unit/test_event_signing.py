"""The outgoing-event signature: what a receiver accepts and refuses."""

from __future__ import annotations

from greenloop.events.signing import sign, verify

BODY = b'{"id":"evt_1","type":"tier.changed"}'
NOW = 1_790_000_000


def test_a_fresh_signature_verifies() -> None:
    assert verify("s3cret", sign("s3cret", NOW, BODY), BODY, NOW + 10)


def test_another_secret_a_changed_body_or_an_old_stamp_is_refused() -> None:
    header = sign("s3cret", NOW, BODY)
    assert not verify("other", header, BODY, NOW)
    assert not verify("s3cret", header, BODY + b" ", NOW)
    assert not verify("s3cret", header, BODY, NOW + 301)
    forged = header.replace(f"t={NOW}", f"t={NOW + 200}")  # a replay with a new stamp
    assert not verify("s3cret", forged, BODY, NOW + 200)


def test_any_listed_mac_may_match_while_a_secret_is_rotated() -> None:
    old, new = sign("old", NOW, BODY), sign("new", NOW, BODY)
    both = f"{new},{old.split(',')[1]}"
    assert verify("old", both, BODY, NOW)
    assert verify("new", both, BODY, NOW)


def test_malformed_headers_never_verify() -> None:
    for header in ("", "t=abc,v1=00", f"t={NOW}", "v1=deadbeef", "garbage"):
        assert not verify("s3cret", header, BODY, NOW)
