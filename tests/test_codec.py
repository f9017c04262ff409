"""Payloads at rest: encryption of chosen categories, compression, key rotation."""

from __future__ import annotations

import json
import zlib

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from opsmessaging import codec, pubsub
from opsmessaging.models import Message

pytestmark = pytest.mark.django_db


def raw_row(pk: int) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT payload, payload_blob, payload_encoding FROM opsmessaging_message WHERE id = %s",
            [pk],
        )
        return cursor.fetchone()


def secret_login():
    return pubsub.broadcast_security_event(
        "auth_event",
        user_id="alice-secret-user",
        event_type="login_failure",
        auth_method="password",
    ).message


def test_security_payloads_are_not_stored_in_plaintext():
    message = secret_login()
    payload, blob, encoding = raw_row(message.pk)
    assert payload is None
    assert encoding == "fernet"
    assert b"alice-secret-user" not in bytes(blob)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM opsmessaging_message WHERE CAST(payload_blob AS TEXT) LIKE %s",
            ["%alice%"],
        )
        assert cursor.fetchone()[0] == 0
    wire = Message.objects.get(pk=message.pk).to_wire()
    assert wire["payload"]["user_id"] == "alice-secret-user"
    assert wire["signature_valid"] is True


def test_envelope_fields_of_encrypted_rows_stay_searchable():
    message = secret_login()
    found = Message.objects.filter(
        category="security", topic="auth_events", node=message.node
    )
    assert list(found.values_list("pk", flat=True)) == [message.pk]


def test_audit_is_encrypted_and_health_is_not_by_default():
    audit = pubsub.broadcast_audit_event("data_change", "bob", "r1", "read").message
    health = pubsub.broadcast_health_update("c", "healthy").message
    assert raw_row(audit.pk)[2] == "fernet"
    payload = raw_row(health.pk)[0]
    assert (json.loads(payload) if isinstance(payload, str) else payload)[
        "component"
    ] == "c"
    assert raw_row(health.pk)[2] == "json"


def test_large_payloads_are_compressed_and_read_back(settings):
    trace = {
        "stack": [
            f'  File "/app/module_{i % 20}.py", line {i}, in handler_{i % 7}'
            for i in range(400)
        ]
    }
    message = pubsub.broadcast_diagnostic("crash", "worker", trace).message
    payload, blob, encoding = raw_row(message.pk)
    plain = len(
        json.dumps(Message.objects.get(pk=message.pk).to_wire()["payload"]).encode()
    )
    assert (payload, encoding) == (None, "zlib")
    assert len(bytes(blob)) < plain / 5
    assert (
        Message.objects.get(pk=message.pk).to_wire()["payload"]["trace_data"] == trace
    )


def test_compression_can_be_turned_off():
    with override_settings(OPSMESSAGING={"COMPRESS_MIN_BYTES": 0}):
        message = pubsub.broadcast_diagnostic(
            "crash", "worker", {"s": "x" * 10_000}
        ).message
    assert raw_row(message.pk)[2] == "json"


def test_large_security_payloads_are_compressed_then_encrypted():
    message = pubsub.broadcast_security_event(
        "security_alert",
        alert_type="brute_force",
        severity="high",
        description="d" * 8000,
    ).message
    assert raw_row(message.pk)[2] == "zlib+fernet"
    assert (
        Message.objects.get(pk=message.pk).to_wire()["payload"]["description"]
        == "d" * 8000
    )


def test_key_rotation_keeps_every_old_message_readable_and_verifiable():
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(OPSMESSAGING={"ENCRYPTION_KEYS": [old_key]}):
        messages = [secret_login() for _ in range(7)]
    with override_settings(OPSMESSAGING={"ENCRYPTION_KEYS": [new_key, old_key]}):
        assert all(
            Message.objects.get(pk=m.pk).to_wire()["payload"]["user_id"]
            for m in messages
        )
        call_command("opsmessaging_rotate_keys", "--batch-size", "3")
    with override_settings(OPSMESSAGING={"ENCRYPTION_KEYS": [new_key]}):
        for message in messages:
            stored = Message.objects.get(pk=message.pk)
            assert stored.to_wire()["payload"]["user_id"] == "alice-secret-user"
            assert stored.integrity == "secured"
    with override_settings(OPSMESSAGING={"ENCRYPTION_KEYS": [old_key]}):
        assert Message.objects.get(pk=messages[0].pk).integrity == "invalid_format"


def test_a_payload_no_key_decrypts_is_reported_not_served():
    with override_settings(
        OPSMESSAGING={"ENCRYPTION_KEYS": [Fernet.generate_key().decode()]}
    ):
        message = secret_login()
    with override_settings(
        OPSMESSAGING={"ENCRYPTION_KEYS": [Fernet.generate_key().decode()]}
    ):
        stored = Message.objects.get(pk=message.pk)
        wire = stored.to_wire()
    assert wire["payload"] is None
    assert wire["signature_valid"] is False
    assert stored.integrity == "invalid_format"


def test_decode_refuses_corrupt_blobs():
    with pytest.raises(codec.UnreadablePayload):
        codec.decode(None, b"not zlib", "zlib")
    with pytest.raises(codec.UnreadablePayload):
        codec.decode(None, zlib.compress(b"[1]"), "zlib")
    with pytest.raises(codec.UnreadablePayload):
        codec.decode(None, None, "json")


def test_compatibility_encryption_section():
    section = pubsub.validate_messaging_compatibility()["encryption"]
    assert section == {
        "encrypted_categories": ["audit", "security"],
        "keys": 1,
        "roundtrip": "ok",
    }


@override_settings(OPSMESSAGING={"COMPRESS_MIN_BYTES": 64})
def test_encode_with_the_payload_text_gives_what_encoding_the_payload_gives():
    small, large = {"a": "é"}, {"a": "x" * 100}
    for category in ("health", "security"):
        for payload in (small, large):
            text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
            with_text = codec.encode(category, payload, text)
            without = codec.encode(category, payload)
            assert with_text[0] == without[0] and with_text[2] == without[2]
            assert codec.decode(*with_text) == payload
    assert codec.encode("health", small, '{"a":"é"}') == (small, None, "json")
    assert codec.encode("health", large)[2] == "zlib"


def test_payloads_encrypted_with_the_derived_key_read_after_explicit_keys():
    derived = secret_login()
    with override_settings(
        OPSMESSAGING={"ENCRYPTION_KEYS": [Fernet.generate_key().decode()]}
    ):
        explicit = secret_login()
        for message in (derived, explicit):
            stored = Message.objects.get(pk=message.pk)
            assert stored.to_wire()["payload"]["user_id"] == "alice-secret-user"
            assert stored.integrity == "secured"
