"""Standard Webhooks signatures (https://www.standardwebhooks.com).

Each request carries ``webhook-id`` (the message id, the same on every retry),
``webhook-timestamp`` (seconds since the epoch, of this attempt) and ``webhook-signature``:
``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, one per secret, space-separated (two while
a secret is being rotated). Secrets are ``whsec_`` and base64 of 32 random bytes; receivers
verify with the ``standardwebhooks`` libraries.

Example:
    >>> headers = signature_headers(["whsec_" + "A" * 44], "msg_1", 1700000000, b"{}")
    >>> sorted(headers)
    ['webhook-id', 'webhook-signature', 'webhook-timestamp']
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence

__all__ = ["SECRET_PREFIX", "new_secret", "secret_key", "sign", "signature_headers"]

SECRET_PREFIX = "whsec_"
_SECRET_BYTES = 32


def new_secret() -> str:
    """A new signing secret (shown to the admin once)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret.

    Raises:
        ValueError: it is not ``whsec_`` and base64 of at least 24 bytes.
    """
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a signing secret starts with {SECRET_PREFIX!r}")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a signing secret is whsec_ and base64") from None
    if len(key) < 24:
        raise ValueError("a signing secret needs at least 24 bytes of key")
    return key


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 signature>`` of one message with one secret."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(
    secrets_: Sequence[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every secret in ``secrets_``."""
    if not secrets_:
        raise ValueError("no signing secret")
    signatures = " ".join(sign(s, message_id, timestamp, body) for s in secrets_)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }
