"""The signatures a receiver checks: the vendor's over the body, and the timestamped V2."""

from __future__ import annotations

import hashlib
import hmac

from zimsend_common.webhook_signature import sign, signature_headers, verify_signature

SECRET = "whsec_0123456789abcdefghijklmnopqrstuv"
BODY = b'{"event":"sms.delivered","event_id":"evt_1","timestamp":"2025-01-15T10:30:08Z","data":{}}'
NOW = 1_736_937_008


def test_the_vendor_signature_is_lowercase_hex_hmac_sha256_of_the_raw_body():
    assert sign(SECRET, BODY) == hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert signature_headers([SECRET], BODY, str(NOW))["X-Webhook-Signature"] == sign(SECRET, BODY)


def test_both_signatures_verify_with_the_right_secret():
    headers = signature_headers([SECRET], BODY, str(NOW))
    assert verify_signature(SECRET, BODY, headers, now=NOW)
    assert verify_signature(SECRET, BODY, headers, tolerance_seconds=None)
    assert not verify_signature("whsec_another_secret_of_the_client", BODY, headers, now=NOW)


def test_a_tampered_body_fails_both_signatures():
    headers = signature_headers([SECRET], BODY, str(NOW))
    tampered = BODY.replace(b"delivered", b"failed")
    assert not verify_signature(SECRET, tampered, headers, now=NOW)
    assert not verify_signature(SECRET, tampered, headers, tolerance_seconds=None)


def test_a_stale_or_changed_timestamp_fails_v2():
    headers = signature_headers([SECRET], BODY, str(NOW))
    assert verify_signature(SECRET, BODY, headers, now=NOW + 300)
    assert not verify_signature(SECRET, BODY, headers, now=NOW + 301)
    replayed = {**headers, "X-Webhook-Timestamp": str(NOW + 400)}
    assert not verify_signature(SECRET, BODY, replayed, now=NOW + 400)


def test_during_a_rotation_either_secret_verifies_and_lower_case_header_names_are_read():
    headers = {
        name.lower(): value
        for name, value in signature_headers(["whsec_new_secret_0000000000", SECRET], BODY, str(NOW)).items()
    }
    assert verify_signature(SECRET, BODY, headers, now=NOW)
    assert verify_signature("whsec_new_secret_0000000000", BODY, headers, now=NOW)
    assert verify_signature(SECRET, BODY, headers, tolerance_seconds=None)
