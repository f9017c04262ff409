"""Message signatures: HMAC-SHA256 over a canonical JSON encoding, with rotating keys.

The canonical encoding of a stored message, which another language can reproduce:

    json.dumps(
        {"category", "message_id", "node", "originating_node", "payload", "payload_type",
         "severity", "source_node", "tag", "timestamp", "topic", "version"},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    ).encode("utf-8")

with ``timestamp`` in the wire form (``2026-11-27T07:19:35.486Z``), ``severity`` its label
or null, ``payload`` the JSON payload as stored (its stored ``version``). ``id`` and
``sequence`` are assigned by the database after signing and are not covered. A message
received through the API also has ``sender`` (the authenticated user) and ``received_by``
(the node that received it) in that object; a message without them leaves both keys out. The signature
is the lowercase hex HMAC-SHA256 of those bytes under the key named by ``key_id``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace
from typing import Any, Literal

from opsmessaging.catalogue.samples import sample
from opsmessaging.categories import Category
from opsmessaging.envelope import Envelope
from opsmessaging.keys import SigningKey, current_signing_key, signing_keys

#: The original's five outcomes of ``validate_secure_message``.
Outcome = Literal[
    "secured",
    "unsecured_accepted",
    "unsecured_rejected",
    "invalid_signature",
    "invalid_format",
]
VALID_OUTCOMES = ("secured", "unsecured_accepted")


def canonical_bytes(envelope: Envelope) -> bytes:
    """Return the canonical encoding of an envelope (see the module docstring)."""
    document = {**envelope.signed_fields(), "payload": envelope.payload}
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


def _digest(key: SigningKey, data: bytes) -> str:
    return hmac.new(key.secret, data, hashlib.sha256).hexdigest()


def sign(envelope: Envelope) -> tuple[str, str]:
    """Return ``(key_id, signature)`` of an envelope under the current key (the first
    that is not verify-only)."""
    key = current_signing_key()
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
    sample_envelope = Envelope.from_payload(sample(Category.SYSTEM))
    key_id, signature = sign(sample_envelope)
    tampered = replace(
        sample_envelope, payload={**sample_envelope.payload, "version": "6.6.6"}
    )
    return {
        "current_key_id": key_id,
        "keys": len(signing_keys()),
        "sign_and_verify": verify(sample_envelope, key_id, signature),
        "tampering_detected": verify(tampered, key_id, signature)
        == "invalid_signature",
    }
