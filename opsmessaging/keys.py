"""The keys: signing keys (HMAC) and encryption keys (Fernet), current first.

Each comes from its setting (``SIGNING_KEYS``, ``ENCRYPTION_KEYS``) or, when that is
empty, is derived from Django's ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS`` with a salt
of its own purpose, so one secret never serves two purposes. The derived keys stay as
verify-only (decrypt-only) fallbacks after the setting is filled, so messages stored
before still verify and decrypt; a ``SIGNING_KEYS`` entry with ``"verify_only": True``
verifies and never signs (the first phase of a rotation: see docs/security.md).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

from opsmessaging.conf import conf

SIGNING_SALT = b"opsmessaging.signing.v1"
ENCRYPTION_SALT = b"opsmessaging.encryption.v1"


@dataclass(frozen=True)
class SigningKey:
    id: str
    secret: bytes
    verify_only: bool = False


def derived_key(secret_key: str, salt: bytes) -> bytes:
    """Derive a 32-byte key of its own purpose (``salt``) from a Django ``SECRET_KEY``."""
    return hmac.new(salt, secret_key.encode(), hashlib.sha256).digest()


def signing_keys() -> list[SigningKey]:
    """Return the signing keys, current first: ``SIGNING_KEYS`` then, verify-only, those
    derived from ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS`` (only these without it)."""
    secrets = (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", []))
    derived = list(_derived_signing_keys(secrets))
    configured = [
        SigningKey(
            str(k["id"]), str(k["secret"]).encode(), k.get("verify_only") is True
        )
        for k in conf.SIGNING_KEYS
    ]
    if not configured:
        return derived
    ids = {key.id for key in configured}
    return configured + [
        SigningKey(key.id, key.secret, verify_only=True)
        for key in derived
        if key.id not in ids
    ]


def current_signing_key() -> SigningKey:
    """Return the key that signs: the first that is not verify-only."""
    return next(key for key in signing_keys() if not key.verify_only)


@functools.lru_cache(maxsize=16)
def _derived_signing_keys(secrets: tuple[str, ...]) -> tuple[SigningKey, ...]:
    """The signing keys of ``secrets``: derived once per set of secrets, not per message
    (the settings are still read on every call, so a changed key is used at once)."""
    keys = []
    for secret in secrets:
        key = derived_key(secret, SIGNING_SALT)
        keys.append(SigningKey("sk-" + hashlib.sha256(key).hexdigest()[:12], key))
    return tuple(keys)


def encryption_keys() -> list[bytes]:
    """Return the Fernet keys, current (encrypting) first: ``ENCRYPTION_KEYS`` then, to
    decrypt only, those derived from ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS`` (only
    these without it)."""
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    derived = [
        base64.urlsafe_b64encode(derived_key(s, ENCRYPTION_SALT)) for s in secrets
    ]
    configured = [str(k).encode() for k in conf.ENCRYPTION_KEYS]
    return configured + [key for key in derived if key not in configured]


def fingerprint() -> str:
    """Return a digest of every key in use (signing and encryption): what a message's
    verified, decrypted wire form depends on, so a cached one is dropped when it changes.
    """
    material = (
        tuple((key.id, key.secret) for key in signing_keys()),
        tuple(encryption_keys()),
    )
    return _fingerprint(material)


@functools.lru_cache(maxsize=16)
def _fingerprint(
    material: tuple[tuple[tuple[str, bytes], ...], tuple[bytes, ...]],
) -> str:
    digest = hashlib.sha256()
    for key_id, secret in material[0]:
        digest.update(b"s" + key_id.encode() + b"\0" + secret + b"\0")
    for key in material[1]:
        digest.update(b"e" + key + b"\0")
    return digest.hexdigest()[:16]


#: Names of settings (or of their keys) whose values are secrets.
SECRET_NAME = re.compile(
    r"secret|passw|pwd|token|credential|private|api_?key|signing_keys|encryption_keys"
    r"|(^|_)keys?($|_)",
    re.IGNORECASE,
)
PASSWORD_NAME = re.compile(r"passw|pwd", re.IGNORECASE)
#: Keys inside a secret setting that name a secret without being one (``SIGNING_KEYS``' ids).
PUBLIC_NAMES = frozenset({"id", "verify_only"})
FINGERPRINT_SALT = b"opsmessaging.fingerprint.v1"


def secret_fingerprint(secret: str | bytes) -> str:
    """Return a short, salted digest that tells secrets apart without revealing one."""
    raw = secret.encode() if isinstance(secret, str) else secret
    return "sha256:" + hashlib.sha256(FINGERPRINT_SALT + raw).hexdigest()[:12]


def redact(value: Any, name: str = "") -> Any:
    """Return ``value`` (settings as JSON-like data) with every secret replaced.

    A value under a secret-like name (``SECRET_NAME``: keys, secrets, passwords, tokens)
    becomes its ``secret_fingerprint``, except the ids of ``PUBLIC_NAMES``; a URL with a
    password keeps everything but the password. Nothing else is changed.
    """
    secret = bool(name) and SECRET_NAME.search(name) is not None
    if isinstance(value, Mapping):
        return {
            str(key): value[key]
            if secret and str(key) in PUBLIC_NAMES
            else redact(value[key], f"{name}.{key}" if secret else str(key))
            for key in value
        }
    if isinstance(value, list | tuple):
        return [redact(item, name) for item in value]
    if isinstance(value, str | bytes) and secret:
        if not value:
            return value
        # A password may be guessable: even a salted digest of it could be tested.
        return "***" if PASSWORD_NAME.search(name) else secret_fingerprint(value)
    if isinstance(value, str) and "://" in value:
        return _redact_url(value)
    return value


def _redact_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if not password:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))
