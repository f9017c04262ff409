"""Payloads at rest: compression above a size, encryption for chosen categories.

A stored payload is either plain JSON (the ``payload`` column, searchable) or a blob in
``payload_blob`` whose ``payload_encoding`` says how to read it: ``zlib`` (compressed
JSON), ``fernet`` (encrypted JSON) or ``zlib+fernet``. Encryption uses MultiFernet: the
first key of ``ENCRYPTION_KEYS`` encrypts, every key decrypts, so keys rotate.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from opsmessaging.conf import conf
from opsmessaging.exceptions import OpsMessagingError
from opsmessaging.keys import encryption_keys

JSON = "json"
ZLIB = "zlib"
FERNET = "fernet"
ZLIB_FERNET = "zlib+fernet"
ENCODINGS = (JSON, ZLIB, FERNET, ZLIB_FERNET)
ENCRYPTED_ENCODINGS = (FERNET, ZLIB_FERNET)


def compact_json(content: Any) -> str:
    """Return ``content`` as compact UTF-8 JSON text: how payloads are stored and measured,
    and how the WebSocket endpoint and the API's exports write JSON."""
    return json.dumps(content, separators=(",", ":"), ensure_ascii=False)


def escape_surrogates(value: Any) -> Any:
    """Return ``value`` (text, or lists and dicts of it) with every lone UTF-16 surrogate
    written as its escape (``\\ud800``): text that can always be encoded as UTF-8."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode()
        return value
    if isinstance(value, dict):
        return {escape_surrogates(k): escape_surrogates(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [escape_surrogates(item) for item in value]
    return value


class UnreadablePayload(OpsMessagingError):
    """Raised when a stored payload cannot be decoded (no key decrypts it, or corrupt)."""


def fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in encryption_keys()])


def encode(
    category: str, payload: dict[str, Any], text: str | None = None
) -> tuple[dict[str, Any] | None, bytes | None, str]:
    """Return ``(json_payload, blob, encoding)`` to store for a payload of ``category``.

    ``text`` is the payload's compact JSON text when the caller has it already.
    """
    encrypt = category in conf.ENCRYPTED_CATEGORIES
    if text is None:
        text = compact_json(payload)
    raw = text.encode()
    threshold = conf.COMPRESS_MIN_BYTES
    compress = bool(threshold) and len(raw) >= threshold
    if not encrypt and not compress:
        return payload, None, JSON
    blob = zlib.compress(raw, 6) if compress else raw
    if encrypt:
        blob = fernet().encrypt(blob)
    return (
        None,
        blob,
        ZLIB_FERNET if compress and encrypt else FERNET if encrypt else ZLIB,
    )


def decode(
    payload: dict[str, Any] | None, blob: bytes | memoryview | None, encoding: str
) -> dict[str, Any]:
    """Return the JSON payload of a stored row."""
    if encoding == JSON:
        if payload is None:
            raise UnreadablePayload("the row has no JSON payload")
        return payload
    if blob is None or encoding not in ENCODINGS:
        raise UnreadablePayload(f"cannot read a payload encoded as {encoding!r}")
    data = bytes(blob)
    try:
        if encoding in (FERNET, ZLIB_FERNET):
            data = fernet().decrypt(data)
        if encoding in (ZLIB, ZLIB_FERNET):
            data = zlib.decompress(data)
        value = json.loads(data)
    except (InvalidToken, zlib.error, ValueError) as exc:
        raise UnreadablePayload(
            f"cannot decode a {encoding} payload: {type(exc).__name__}"
        ) from None
    if not isinstance(value, dict):
        raise UnreadablePayload("the decoded payload is not an object")
    return value


def encrypt_json(value: Any) -> str:
    """Return ``value`` as JSON encrypted with the current key (Fernet token text), for
    the sensitive values kept outside messages (``OccurrenceWindow`` details)."""
    return fernet().encrypt(compact_json(value).encode()).decode()


def decrypt_json(token: str) -> Any:
    """Return the value of an ``encrypt_json`` token; ``UnreadablePayload`` when no
    configured key decrypts it."""
    try:
        return json.loads(fernet().decrypt(token.encode()))
    except (InvalidToken, ValueError, TypeError):
        raise UnreadablePayload("no configured key decrypts the value") from None


def rotate(blob: bytes | memoryview) -> bytes:
    """Re-encrypt a Fernet token with the current key."""
    try:
        return fernet().rotate(bytes(blob))
    except InvalidToken:
        raise UnreadablePayload("no configured key decrypts a stored payload") from None


def check_roundtrip() -> dict[str, Any]:
    """Encrypt and decrypt a sample with the configured keys."""
    sample = {"check": "encryption", "n": 1}
    _, blob, encoding = encode(
        next(iter(conf.ENCRYPTED_CATEGORIES), "security"), sample
    )
    ok = (
        blob is not None
        and decode(None, blob, encoding) == sample
        and b"encryption" not in blob
    )
    return {
        "encrypted_categories": sorted(conf.ENCRYPTED_CATEGORIES),
        "keys": len(encryption_keys()),
        "roundtrip": "ok" if ok else "error: the sample did not survive encryption",
    }
