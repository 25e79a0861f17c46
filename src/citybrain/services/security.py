"""Passwords (argon2), signed login tokens, hashed API tokens and the login rate limit.

Login tokens are ``cb1.<payload>.<signature>``: the user's id, the expiry and a fingerprint of
the password hash, signed with HMAC-SHA256 under a random key generated once into
``<data_dir>/secret.key`` (mode 0600). Changing a password therefore ends every login made with
the old one. API tokens are ``cbt_`` plus 32 random bytes; only their SHA-256 is stored (they are
random, so a slow hash would add nothing but latency).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import stat
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from citybrain.errors import ConfigError

__all__ = [
    "API_TOKEN_PREFIX",
    "SECRET_FILE",
    "LoginGuard",
    "LoginLimiter",
    "LoginTokens",
    "Passwords",
    "TokenClaims",
    "TokenError",
    "hash_api_token",
    "load_secret",
    "new_api_token",
    "password_fingerprint",
]

SECRET_FILE = "secret.key"
API_TOKEN_PREFIX = "cbt_"
_LOGIN_PREFIX = "cb1"
_SECRET_BYTES = 32
MIN_PASSWORD_LENGTH = 10


class TokenError(Exception):
    """A bearer token is malformed, forged or expired; the message says which."""


class Passwords:
    """Argon2id hashing with argon2-cffi's defaults (RFC 9106's low-memory profile)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._dummy: str | None = None
        self._lock = threading.Lock()

    def hash(self, password: str) -> str:
        """The encoded hash of ``password``.

        Raises:
            ValueError: the password is shorter than ``MIN_PASSWORD_LENGTH``.
        """
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
        return self._hasher.hash(password)

    def verify(self, encoded: str, password: str) -> bool:
        """Whether ``password`` matches ``encoded`` (a malformed hash never matches)."""
        try:
            return self._hasher.verify(encoded, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def burn(self, password: str) -> None:
        """Spend the time of one verification, so that unknown users answer as slowly."""
        with self._lock:
            if self._dummy is None:
                self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
            dummy = self._dummy
        self.verify(dummy, password)


def password_fingerprint(password_hash: str) -> str:
    """A short digest of a password hash: tokens carry it, so a new password voids them."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def load_secret(data_dir: Path) -> bytes:
    """The token-signing key in ``data_dir/secret.key``, created (0600) if missing.

    Raises:
        ConfigError: the file cannot be made or read, or others may read it.
    """
    path = data_dir / SECRET_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret(path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create the token key: {exc}") from exc
    with os.fdopen(fd, "wb") as out:
        out.write(secrets.token_bytes(_SECRET_BYTES))
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode
        secret = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the token key: {exc}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path}: the token key is readable by others; run chmod 600 {path}")
    if len(secret) < _SECRET_BYTES:
        raise ConfigError(f"{path}: the token key is too short; delete it to make a new one")
    return secret


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a verified login token says."""

    user_id: int
    expires_at: int
    fingerprint: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LoginTokens:
    """Issues and checks signed login tokens."""

    def __init__(self, secret: bytes, *, lifetime_s: float) -> None:
        self._secret = secret
        self._lifetime_s = lifetime_s

    @property
    def lifetime_s(self) -> float:
        return self._lifetime_s

    def issue(self, *, user_id: int, password_hash: str, now: float) -> str:
        """A token for ``user_id`` that expires ``lifetime_s`` after ``now`` (POSIX seconds)."""
        expires = int(now + self._lifetime_s)
        payload = (
            f"{user_id}:{expires}:{password_fingerprint(password_hash)}:{secrets.token_hex(8)}"
        )
        body = _b64(payload.encode())
        return f"{_LOGIN_PREFIX}.{body}.{_b64(self._sign(body))}"

    def verify(self, token: str, *, now: float) -> TokenClaims:
        """The claims of a genuine, unexpired token.

        Raises:
            TokenError: the token is malformed, its signature is wrong, or it has expired.
        """
        prefix, _, rest = token.partition(".")
        body, _, signature = rest.partition(".")
        if prefix != _LOGIN_PREFIX or not body or not signature:
            raise TokenError("malformed bearer token")
        try:
            genuine = hmac.compare_digest(_unb64(signature), self._sign(body))
            user_id, expires, fingerprint, _nonce = _unb64(body).decode().split(":")
            claims = TokenClaims(int(user_id), int(expires), fingerprint)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise TokenError("malformed bearer token") from None
        if not genuine:
            raise TokenError("invalid bearer token")
        if claims.expires_at <= now:
            raise TokenError("the token has expired; log in again")
        return claims

    def _sign(self, body: str) -> bytes:
        return hmac.new(self._secret, body.encode(), hashlib.sha256).digest()


def new_api_token() -> str:
    """A new random API token (shown once, stored only as :func:`hash_api_token`)."""
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_api_token(token: str) -> str:
    """The stored form of an API token."""
    return hashlib.sha256(token.encode()).hexdigest()


class LoginLimiter:
    """Failed logins per key (user name and client address) in a sliding window.

    Example:
        >>> limiter = LoginLimiter(attempts=2, window_s=60)
        >>> limiter.failure(("ann", "10.0.0.1"), now=0); limiter.failure(("ann", "10.0.0.1"), now=1)
        >>> limiter.retry_after(("ann", "10.0.0.1"), now=2)
        58.0
    """

    def __init__(self, *, attempts: int = 5, window_s: float = 60.0, max_keys: int = 10_000):
        self._attempts = attempts
        self._window_s = window_s
        self._max_keys = max_keys
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: tuple[str, str], *, now: float) -> float | None:
        """Seconds until ``key`` may try again, or ``None`` if it may try now."""
        with self._lock:
            times = self._recent(key, now)
            if times is None or len(times) < self._attempts:
                return None
            return max(0.0, times[0] + self._window_s - now)

    def failure(self, key: tuple[str, str], *, now: float) -> None:
        """Count one failed attempt."""
        with self._lock:
            if len(self._failures) >= self._max_keys:
                self._prune(now)
            times = self._failures.setdefault(key, deque(maxlen=self._attempts))
            times.append(now)

    def success(self, key: tuple[str, str]) -> None:
        """Forget ``key``'s failures."""
        with self._lock:
            self._failures.pop(key, None)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float] | None:
        times = self._failures.get(key)
        while times and times[0] + self._window_s <= now:
            times.popleft()
        return times

    def _prune(self, now: float) -> None:
        for key in list(self._failures):
            if not self._recent(key, now):
                del self._failures[key]
        if len(self._failures) >= self._max_keys:
            # Still full of live keys (an attack on many names): drop the oldest half.
            oldest = sorted(self._failures, key=lambda k: self._failures[k][-1])
            for key in oldest[: len(oldest) // 2]:
                del self._failures[key]


class LoginGuard:
    """The login lock-out: per user name and address, and per user name from any address.

    Five failures for one name from one address lock that pair out; ``per_user`` failures for
    one name from any addresses (an attacker rotating addresses) lock the name out too, for
    the rest of the window. The second limit is higher: it lets an attacker delay a user's
    login for a minute, never guess on.

    Args:
        per_pair: failures of one name from one address within ``window_s``.
        per_user: failures of one name from all addresses within ``window_s``.
    """

    def __init__(self, *, per_pair: int = 5, per_user: int = 20, window_s: float = 60.0) -> None:
        self._pairs = LoginLimiter(attempts=per_pair, window_s=window_s)
        self._users = LoginLimiter(attempts=per_user, window_s=window_s)

    @staticmethod
    def _keys(username: str, client: str | None) -> tuple[tuple[str, str], tuple[str, str]]:
        name = username.casefold()
        return (name, client or "-"), (name, "*")

    def retry_after(self, username: str, client: str | None, *, now: float) -> float | None:
        """Seconds until this name may try again from ``client``, or ``None`` if it may now."""
        pair, user = self._keys(username, client)
        waits = [w for w in (self._pairs.retry_after(pair, now=now),
                             self._users.retry_after(user, now=now)) if w is not None]  # fmt: skip
        return max(waits) if waits else None

    def failure(self, username: str, client: str | None, *, now: float) -> None:
        """Count one failed attempt."""
        pair, user = self._keys(username, client)
        self._pairs.failure(pair, now=now)
        self._users.failure(user, now=now)

    def success(self, username: str, client: str | None) -> None:
        """Forget the name's failures (its owner got in)."""
        pair, user = self._keys(username, client)
        self._pairs.success(pair)
        self._users.success(user)
