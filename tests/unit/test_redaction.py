"""Redaction of secrets before they reach the audit log, and the false positives it
must avoid (ordinary words like "author", "shipping" or prose about tokens)."""

from __future__ import annotations

import time

import pytest

from fleetwarden.domain.audit import REDACTED, is_secret_key, redact, redact_text

# ------------------------------------------------------------------------- key names


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "Password",
        "PASSWORD",
        "admin_password",
        "passwordHash",
        "db-passwd",
        "secret",
        "client_secret",
        "clientSecret",
        "token",
        "access_token",
        "refreshToken",
        "X-Auth-Token",
        "api_key",
        "apiKey",
        "X-Api-Key",
        "apikey",
        "private_key",
        "privateKey",
        "PRIVATE-KEY",
        "privatekey",
        "credential",
        "credentials",
        "auth",
        "authorization",
        "Authorization",
        "auth_header",
        "authToken",
        "oauth",
        "HTTPAuthHeader",
        "cookie",
        "Set-Cookie",
        "session",
        "session_id",
        "sessionId",
        "JSESSIONID",
        "pin",
        "PIN",
        "sim_pin",
        "simPin",
        "pinCode",
        "pin_code",
        "psk",
        "wpa_psk",
        "wpa2-psk",
        "passphrase",
        "wifi.passphrase",
        "community",
        "snmp_community",
        "communityString",
        "pwd",
        "db_pwd",
    ],
)
def test_secret_key_names(name: str) -> None:
    assert is_secret_key(name)


@pytest.mark.parametrize(
    "name",
    [
        "author",
        "authors",
        "authority",
        "certificate_authority",
        "shipping",
        "shipping_address",
        "spin",
        "pinned",
        "opinion",
        "pinyin",
        "description",
        "keyword",
        "name",
        "serial",
        "firmware_version",
        "possession",
        "secretary",
        "tokenizer",
        "passenger_count",
        "compass",
        "bypass_mode",
        "key_id",
        "username",
        "",
    ],
)
def test_not_secret_key_names(name: str) -> None:
    assert not is_secret_key(name)


# ----------------------------------------------------------------------- dict values


def test_redact_replaces_values_under_secret_keys() -> None:
    value = {
        "name": "cam-1",
        "password": "hunter2",
        "sim_pin": 1234,
        "pinCode": "0000",
        "api_key": "k-123",
        "credentials": {"username": "admin", "password": "x"},
        "author": "bob",
        "shipping": "express",
    }
    assert redact(value) == {
        "name": "cam-1",
        "password": REDACTED,
        "sim_pin": REDACTED,
        "pinCode": REDACTED,
        "api_key": REDACTED,
        "credentials": REDACTED,
        "author": "bob",
        "shipping": "express",
    }


def test_redact_keeps_none_and_booleans_under_secret_keys() -> None:
    # They record whether a secret is set, and hold none themselves.
    value = {"password": None, "auth_required": True, "psk": False}
    assert redact(value) == value


def test_redact_recurses_into_lists_and_nested_dicts() -> None:
    value = {
        "interfaces": [
            {"name": "wlan0", "wpa_psk": "s3cret-wifi"},
            {"name": "eth0", "notes": "see https://admin:pw@10.0.0.1/"},
        ],
        "tags": ["ok", "fw_abcdefghijklmnopqrstuvwxyz0123"],
        "tuple": ("token=abc123def", 1),
    }
    assert redact(value) == {
        "interfaces": [
            {"name": "wlan0", "wpa_psk": REDACTED},
            {"name": "eth0", "notes": f"see https://admin:{REDACTED}@10.0.0.1/"},
        ],
        "tags": ["ok", REDACTED],
        "tuple": (f"token={REDACTED}", 1),
    }


def test_redact_returns_a_copy() -> None:
    value = {"a": {"password": "x"}, "b": [1, {"token": "y"}]}
    out = redact(value)
    assert value == {"a": {"password": "x"}, "b": [1, {"token": "y"}]}
    assert out is not value and out["a"] is not value["a"] and out["b"] is not value["b"]


def test_redact_keeps_scalars() -> None:
    assert redact(None) is None
    assert redact(42) == 42
    assert redact(1.5) == 1.5
    assert redact(True) is True
    assert redact("plain text") == "plain text"


def test_redact_is_idempotent() -> None:
    value = {
        "password": "x",
        "note": "Bearer abcdef1234567890abcdef and password=hunter2",
        "url": "mqtts://dev:pw@broker:8883",
    }
    once = redact(value)
    assert redact(once) == once


# ------------------------------------------------------------------------ free text


FW_TOKEN = "fw_" + "A1b2C3d4E5f6G7h8I9j0_-kL"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
ARGON2 = "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2g"
PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIBn3y6b0Vb4fZ1cQ1yH0pN3mLhxQ0k1Ck3N0sE3cR3tK\n"
    "-----END PRIVATE KEY-----"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"created {FW_TOKEN} for ci", f"created {REDACTED} for ci"),
        (f"token:{FW_TOKEN}", f"token:{REDACTED}"),
        (
            "Authorization: Bearer abcDEF123456.ghiJKL-789_x",
            f"Authorization: Bearer {REDACTED}",
        ),
        ("sent bearer 0123456789abcdef0123.", f"sent bearer {REDACTED}."),
        (f"jwt {JWT} expired", f"jwt {REDACTED} expired"),
        (f"before {PEM} after", f"before {REDACTED} after"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
            REDACTED,
        ),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----",
            REDACTED,
        ),
        (
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIF\n-----END ENCRYPTED PRIVATE KEY-----",
            REDACTED,
        ),
        ("pasted -----BEGIN EC PRIVATE KEY-----\nMHcCAQEE truncated", f"pasted {REDACTED}"),
        (
            "https://x.example/api?user=bob&password=hunter2&x=1",
            f"https://x.example/api?user=bob&password={REDACTED}&x=1",
        ),
        ("login?pwd=abc&next=/", f"login?pwd={REDACTED}&next=/"),
        ("callback?token=abc.def&state=1", f"callback?token={REDACTED}&state=1"),
        ("access_token=xyz789", f"access_token={REDACTED}"),
        ("set sim_pin=1234 on device", f"set sim_pin={REDACTED} on device"),
        ('password = "with spaces"', f"password = {REDACTED}"),
        ("secret='quoted'", f"secret={REDACTED}"),
        ('{"password": "hunter2", "user": "bob"}', f'{{"password": "{REDACTED}", "user": "bob"}}'),
        ("rtsp://admin:12345@10.0.0.7:554/stream", f"rtsp://admin:{REDACTED}@10.0.0.7:554/stream"),
        (
            "postgresql://fw:S3cr3t!@db.internal/fleet",
            f"postgresql://fw:{REDACTED}@db.internal/fleet",
        ),
        ("redis://:p@ss@cache:6379/0", f"redis://:{REDACTED}@cache:6379/0"),
        ("key AKIAIOSFODNN7EXAMPLE leaked", f"key {REDACTED} leaked"),
        ("temp ASIAY34FZKBOKMUTVV7A", f"temp {REDACTED}"),
        (f"hash was {ARGON2}", f"hash was {REDACTED}"),
        ("$argon2i$v=19$m=4096,t=3,p=1$c2FsdA$aGFzaA", REDACTED),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", f"Authorization: Basic {REDACTED}"),
    ],
)
def test_redact_text_patterns(text: str, expected: str) -> None:
    assert redact_text(text) == expected
    assert redact_text(expected) == expected  # idempotent


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Rotated the API token because the old one expired",
        "Bearer tokens are used by the northbound API.",
        "Bearer authentication is configured",
        "the token was revoked by the author",
        "shipping address updated; pin the firmware to 2.1",
        "password policy changed to 14 characters",
        "see https://vendor.example/advisories/2026-001?lang=en",
        "https://host:8443/path",
        "fw_short",
        "fw_version=2.1.0",
        "author=bob shipping=express",
        "AKIA too short",
        "firmware 1.2.3 (build eyJ) installed",
        "email admin@example.com about cam-7",
        "a == b and c = d",
        '{"author": "bob", "description": "token rotation"}',
    ],
)
def test_redact_text_leaves_ordinary_text_alone(text: str) -> None:
    assert redact_text(text) == text


def test_url_without_password_is_kept() -> None:
    assert redact_text("ssh://admin@10.0.0.1") == "ssh://admin@10.0.0.1"


def test_url_query_after_userinfo() -> None:
    text = "https://u:p4ss@h.example/x?next=a@b"
    assert redact_text(text) == f"https://u:{REDACTED}@h.example/x?next=a@b"


def test_several_secrets_in_one_string() -> None:
    text = f"moved {FW_TOKEN} and {JWT} to https://a:b@c/ with password=x"
    out = redact_text(text)
    assert FW_TOKEN not in out and JWT not in out and "a:b@" not in out
    assert "password=x" not in out
    assert out.count(REDACTED) == 4


def test_dict_keys_holding_secrets_are_redacted() -> None:
    assert redact({FW_TOKEN: "ci"}) == {REDACTED: "ci"}


def test_redaction_is_fast() -> None:
    # A typical device record; thousands are redacted in bulk imports.
    record = {
        "name": "cam-lobby-01",
        "serial": "SN-0000123",
        "mac": "aa:bb:cc:dd:ee:ff",
        "firmware": "5.7.3",
        "notes": "installed by the author, shipping label attached",
        "tags": ["cctv", "lobby", "floor-1"],
        "mgmt_url": "https://10.0.0.5/",
        "password": "x",
    }
    start = time.perf_counter()
    for _ in range(5000):
        redact(record)
    assert time.perf_counter() - start < 2.0


def test_long_text_without_end_marker_is_linear() -> None:
    text = "-----BEGIN PRIVATE KEY-----" + "A" * 200_000
    start = time.perf_counter()
    assert redact_text(text) == REDACTED
    assert redact_text("x=" * 50_000) == "x=" * 50_000
    for hostile in ("a." * 20_000 + "://", "eyJ." * 20_000, "http://" + "a:" * 20_000):
        assert redact_text(hostile) == hostile
    assert time.perf_counter() - start < 2.0
