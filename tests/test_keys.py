"""Keys: redaction of secrets in captured settings."""

from __future__ import annotations

from opsmessaging.keys import redact, secret_fingerprint


def test_redact_replaces_key_material_with_fingerprints_and_keeps_key_ids():
    settings = {
        "SIGNING_KEYS": [{"id": "k1", "secret": "s3cret", "verify_only": True}],
        "ENCRYPTION_KEYS": ["fernet-key"],
        "NODE_NAME": "web-a@prod",
        "LOG_RATE_LIMIT": 100,
        "ENCRYPTED_CATEGORIES": ["security", "audit"],
    }
    assert redact(settings) == {
        "SIGNING_KEYS": [
            {"id": "k1", "secret": secret_fingerprint("s3cret"), "verify_only": True}
        ],
        "ENCRYPTION_KEYS": [secret_fingerprint("fernet-key")],
        "NODE_NAME": "web-a@prod",
        "LOG_RATE_LIMIT": 100,
        "ENCRYPTED_CATEGORIES": ["security", "audit"],
    }


def test_redact_hides_passwords_tokens_and_passwords_in_urls():
    data = {
        "DATABASES": {"default": {"NAME": "ops", "USER": "ops", "PASSWORD": "hunter2"}},
        "API_TOKEN": "tok-123",
        "BROKER": "redis://ops:hunter2@redis:6379/0",
        "HOME": "https://example.com/ops/",
    }
    assert redact(data) == {
        "DATABASES": {"default": {"NAME": "ops", "USER": "ops", "PASSWORD": "***"}},
        "API_TOKEN": secret_fingerprint("tok-123"),
        "BROKER": "redis://ops:***@redis:6379/0",
        "HOME": "https://example.com/ops/",
    }


def test_secret_fingerprints_tell_secrets_apart_without_showing_them():
    assert secret_fingerprint("hunter2") != secret_fingerprint("hunter3")
    assert "hunter2" not in secret_fingerprint("hunter2")
    assert secret_fingerprint("a") == secret_fingerprint("a")
    assert len(secret_fingerprint("a")) == len("sha256:") + 12
