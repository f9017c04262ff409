"""Signatures: canonical encoding, the five outcomes, key rotation, tamper detection."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace

import pytest
from django.db import connection
from django.test import override_settings

from opsmessaging import integrity, keys, pubsub
from opsmessaging.catalogue import system
from opsmessaging.envelope import Envelope
from opsmessaging.models import Message

pytestmark = pytest.mark.django_db

K1 = {"id": "k1", "secret": "first secret"}
K2 = {"id": "k2", "secret": "second secret"}


def fresh(message: Message) -> Message:
    return Message.objects.get(pk=message.pk)


def test_stored_messages_are_signed_and_verify():
    message = fresh(pubsub.broadcast_health_update("c", "healthy").message)
    assert message.key_id.startswith("sk-") and len(message.signature) == 64
    assert message.integrity == "secured"
    assert message.to_wire()["signature_valid"] is True


def test_canonical_encoding_is_reproducible_by_hand():
    with override_settings(OPSMESSAGING={"SIGNING_KEYS": [K1]}):
        message = fresh(
            pubsub.broadcast_alert(
                "disk", "error", "Disk failing", node="db1@h"
            ).message
        )
        wire = message.to_wire()
        document = {
            k: wire[k]
            for k in (
                "category",
                "message_id",
                "node",
                "originating_node",
                "payload",
                "payload_type",
                "severity",
                "source_node",
                "tag",
                "timestamp",
                "topic",
                "version",
            )
        }
        canonical = json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
        expected = hmac.new(b"first secret", canonical, hashlib.sha256).hexdigest()
    assert (message.key_id, message.signature) == ("k1", expected)


def test_a_row_changed_in_the_database_is_flagged():
    message = pubsub.broadcast_health_update("c", "healthy").message
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE opsmessaging_message SET topic = %s WHERE id = %s",
            ["forged", message.pk],
        )
    tampered = fresh(message)
    assert tampered.integrity == "invalid_signature"
    assert tampered.to_wire()["signature_valid"] is False
    report = pubsub.validate_messaging_compatibility()
    assert report["signing"]["stored"]["invalid"] == 1
    assert report["signing"]["stored"]["invalid_message_ids"] == [message.message_id]
    # Reported, but a historic row does not fail this node's health (#15, item 7).
    assert pubsub.is_compatible(report) is True


@pytest.mark.postgres
def test_a_payload_edited_in_postgresql_is_detected():
    message = pubsub.broadcast_health_update("c", "healthy").message
    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE opsmessaging_message SET payload = jsonb_set(payload, '{status}', '"unhealthy"')
               WHERE id = %s""",
            [message.pk],
        )
    tampered = fresh(message)
    assert tampered.to_wire()["payload"]["status"] == "unhealthy"
    assert tampered.to_wire()["signature_valid"] is False
    assert tampered.integrity == "invalid_signature"


@pytest.mark.parametrize("value", [1e16, -1e22, 1e23, 1.5e300, -0.0, 2.5, 1e-20])
def test_a_payload_of_any_float_reads_back_as_stored_and_verifies(value):
    # PostgreSQL's jsonb keeps decimals: a float like 1e+16 came back as an integer and
    # -0.0 as 0.0, so the signature over what was sent no longer matched (a false alarm).
    sent = pubsub.broadcast_diagnostic("trace", "db", {"v": value}).message
    stored = fresh(sent)
    assert stored.to_wire()["signature_valid"] is True
    assert stored.to_wire()["payload"] == sent.to_wire()["payload"]
    assert repr(stored.payload["trace_data"]["v"]) == repr(
        sent.payload["trace_data"]["v"]
    )


def test_the_admin_flags_a_tampered_row(admin_client):
    message = pubsub.broadcast_health_update("c", "healthy").message
    pubsub.broadcast_health_update("d", "healthy")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE opsmessaging_message SET node = %s WHERE id = %s",
            ["evil@h", message.pk],
        )
    page = admin_client.get("/admin/opsmessaging/message/").content.decode()
    assert page.count("TAMPERED (invalid_signature)") == 1
    detail = admin_client.get(
        f"/admin/opsmessaging/message/{message.pk}/change/"
    ).content.decode()
    assert "invalid_signature" in detail


def test_unsigned_rows_are_rejected_when_keys_exist():
    message = pubsub.broadcast_health_update("c", "healthy").message
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE opsmessaging_message SET signature = '', key_id = '' WHERE id = %s",
            [message.pk],
        )
    assert fresh(message).integrity == "unsecured_rejected"
    assert fresh(message).signature_valid is False


def test_an_unknown_key_id_is_an_invalid_format():
    message = pubsub.broadcast_health_update("c", "healthy").message
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE opsmessaging_message SET key_id = 'nope' WHERE id = %s",
            [message.pk],
        )
    assert fresh(message).integrity == "invalid_format"


def test_verify_maps_the_original_outcomes():
    envelope = Envelope.from_payload(system.system_lifecycle("started", "s", "1"))
    key_id, signature = integrity.sign(envelope)
    assert integrity.verify(envelope, key_id, signature) == "secured"
    assert (
        integrity.verify(replace(envelope, topic="x"), key_id, signature)
        == "invalid_signature"
    )
    assert integrity.verify(envelope, key_id, "") == "unsecured_rejected"
    assert integrity.verify(envelope, key_id, "abc") == "invalid_format"
    assert integrity.verify(envelope, "unknown", signature) == "invalid_format"


def test_signing_keys_rotate_without_breaking_old_messages():
    with override_settings(OPSMESSAGING={"SIGNING_KEYS": [K1]}):
        old = pubsub.broadcast_health_update("c", "healthy").message
    with override_settings(OPSMESSAGING={"SIGNING_KEYS": [K2, K1]}):
        new = pubsub.broadcast_health_update("c", "healthy").message
        assert (fresh(old).key_id, fresh(old).integrity) == ("k1", "secured")
        assert (fresh(new).key_id, fresh(new).integrity) == ("k2", "secured")
    with override_settings(OPSMESSAGING={"SIGNING_KEYS": [K2]}):
        assert fresh(old).integrity == "invalid_format"  # its key was dropped


def test_default_key_follows_secret_key_fallbacks(settings):
    message = pubsub.broadcast_health_update("c", "healthy").message
    old_secret = settings.SECRET_KEY
    settings.SECRET_KEY = "a brand new secret key of sufficient length for django"
    settings.SECRET_KEY_FALLBACKS = [old_secret]
    assert fresh(message).integrity == "secured"
    settings.SECRET_KEY_FALLBACKS = []
    assert fresh(message).integrity == "invalid_format"


def test_compatibility_signing_section_is_computed():
    pubsub.broadcast_health_update("c", "healthy")
    section = pubsub.validate_messaging_compatibility()["signing"]
    assert section["sign_and_verify"] == "secured"
    assert section["tampering_detected"] is True
    assert section["stored"] == {
        "checked": 1,
        "outcomes": {"secured": 1},
        "invalid": 0,
        "invalid_message_ids": [],
    }


def test_derived_signing_keys_follow_a_changed_secret_key():
    def expected(secret: str) -> keys.SigningKey:
        key = keys.derived_key(secret, keys.SIGNING_SALT)
        return keys.SigningKey("sk-" + hashlib.sha256(key).hexdigest()[:12], key)

    with override_settings(SECRET_KEY="first", SECRET_KEY_FALLBACKS=[]):
        assert keys.signing_keys() == [expected("first")]
    with override_settings(SECRET_KEY="second", SECRET_KEY_FALLBACKS=["first"]):
        assert keys.signing_keys() == [expected("second"), expected("first")]
        keys.signing_keys().clear()  # a caller's copy: the next call is intact
        assert len(keys.signing_keys()) == 2
    with override_settings(SECRET_KEY="first", SECRET_KEY_FALLBACKS=[]):
        assert keys.signing_keys() == [expected("first")]


# --- key rotation (issue 15, item 7) -------------------------------------------------


def test_messages_signed_with_the_derived_key_verify_after_explicit_keys():
    derived = pubsub.broadcast_health_update("c", "healthy").message
    with override_settings(OPSMESSAGING={"SIGNING_KEYS": [K1]}):
        explicit = pubsub.broadcast_health_update("c", "healthy").message
        assert fresh(derived).integrity == "secured"
        assert (fresh(explicit).key_id, fresh(explicit).integrity) == ("k1", "secured")
        assert [key.verify_only for key in keys.signing_keys()] == [False, True]


def test_a_verify_only_key_verifies_and_never_signs():
    with override_settings(OPSMESSAGING={"SIGNING_KEYS": [K2]}):
        newer = pubsub.broadcast_health_update("c", "healthy").message
    phase_one = [{**K2, "verify_only": True}, K1]
    with override_settings(OPSMESSAGING={"SIGNING_KEYS": phase_one}):
        here = pubsub.broadcast_health_update("c", "healthy").message
        assert (fresh(here).key_id, fresh(here).integrity) == ("k1", "secured")
        assert (fresh(newer).key_id, fresh(newer).integrity) == ("k2", "secured")


def test_messages_signed_by_an_unknown_newer_key_do_not_fail_compatibility():
    with override_settings(OPSMESSAGING={"SIGNING_KEYS": [K2, K1]}):
        for _ in range(3):
            pubsub.broadcast_health_update("c", "healthy")
    with override_settings(OPSMESSAGING={"SIGNING_KEYS": [K1]}):
        report = pubsub.validate_messaging_compatibility()
        assert report["signing"]["stored"]["outcomes"] == {"invalid_format": 3}
        assert pubsub.is_compatible(report) is True
