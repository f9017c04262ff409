"""Message signatures: HMAC-SHA256 over a canonical JSON encoding, with rotating keys.

The canonical encoding of a stored message, which another language can reproduce:

    json.dumps(
        {"category", "message_id", "node", "originating_node", "payload", "payload_type",
         "severity", "source_node", "tag", "timestamp", "topic", "version"},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    ).encode("utf-8")

with ``timestamp`` in the wire form (``2026-11-27T07:19:35.486Z``), ``severity`` its label
or null, ``payload`` the JSON payload as stored (its stored ``version``). ``id`` and
``sequence`` are assigned by the database after signing and are not covered. The signature
is the lowercase hex HMAC-SHA256 of those bytes under the key named by ``key_id``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from django.conf import settings

from opsmessaging.conf import conf
from opsmessaging.helpers import format_timestamp
from opsmessaging.severity import severity_label

if TYPE_CHECKING:
    from opsmessaging.envelope import Envelope

SIGNING_SALT = b"opsmessaging.signing.v1"

#: The original's five outcomes of ``validate_secure_message``.
Outcome = Literal[
    "secured",
    "unsecured_accepted",
    "unsecured_rejected",
    "invalid_signature",
    "invalid_format",
]
VALID_OUTCOMES = ("secured", "unsecured_accepted")


@dataclass(frozen=True)
class SigningKey:
    id: str
    secret: bytes


def derived_key(secret_key: str, salt: bytes) -> bytes:
    """Derive a 32-byte key of its own purpose (``salt``) from a Django ``SECRET_KEY``."""
    return hmac.new(salt, secret_key.encode(), hashlib.sha256).digest()


def signing_keys() -> list[SigningKey]:
    """Return the signing keys, current first: ``SIGNING_KEYS``, else derived from
    ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS``."""
    configured = conf.SIGNING_KEYS
    if configured:
        return [SigningKey(str(k["id"]), str(k["secret"]).encode()) for k in configured]
    secrets = (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", []))
    return list(_derived_signing_keys(secrets))


@functools.lru_cache(maxsize=16)
def _derived_signing_keys(secrets: tuple[str, ...]) -> tuple[SigningKey, ...]:
    """The signing keys of ``secrets``: derived once per set of secrets, not per message
    (the settings are still read on every call, so a changed key is used at once)."""
    keys = []
    for secret in secrets:
        key = derived_key(secret, SIGNING_SALT)
        keys.append(SigningKey("sk-" + hashlib.sha256(key).hexdigest()[:12], key))
    return tuple(keys)


def canonical_bytes(envelope: Envelope) -> bytes:
    """Return the canonical encoding of an envelope (see the module docstring)."""
    document = {
        "category": envelope.category.value,
        "message_id": envelope.message_id,
        "node": envelope.node,
        "originating_node": envelope.originating_node,
        "payload": envelope.payload,
        "payload_type": envelope.payload_type,
        "severity": severity_label(envelope.severity),
        "source_node": envelope.source_node,
        "tag": envelope.tag,
        "timestamp": format_timestamp(envelope.timestamp),
        "topic": envelope.topic,
        "version": envelope.version,
    }
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


def _digest(key: SigningKey, data: bytes) -> str:
    return hmac.new(key.secret, data, hashlib.sha256).hexdigest()


def sign(envelope: Envelope) -> tuple[str, str]:
    """Return ``(key_id, signature)`` of an envelope under the current key."""
    key = signing_keys()[0]
    return key.id, _digest(key, canonical_bytes(envelope))


def verify(envelope: Envelope, key_id: str, signature: str) -> Outcome:
    """Check a stored signature; the outcome names what was found."""
    keys = signing_keys()
    if not signature:
        return "unsecured_rejected" if keys else "unsecured_accepted"
    key = next((k for k in keys if k.id == key_id), None)
    if key is None or len(signature) != 64:
        return "invalid_format"
    expected = _digest(key, canonical_bytes(envelope))
    return (
        "secured" if hmac.compare_digest(expected, signature) else "invalid_signature"
    )


def check_roundtrip() -> dict[str, Any]:
    """Sign a sample, verify it, and verify that a changed copy is caught."""
    from dataclasses import replace

    from opsmessaging.catalogue import system
    from opsmessaging.envelope import Envelope

    sample = Envelope.from_payload(
        system.system_lifecycle("started", "opsmessaging", "1.0.0")
    )
    key_id, signature = sign(sample)
    tampered = replace(sample, payload={**sample.payload, "version": "6.6.6"})
    return {
        "current_key_id": key_id,
        "keys": len(signing_keys()),
        "sign_and_verify": verify(sample, key_id, signature),
        "tampering_detected": verify(tampered, key_id, signature)
        == "invalid_signature",
    }
