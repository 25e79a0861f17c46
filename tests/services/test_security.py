"""Security parts on their own: token key file, login tokens, rate limiter, passwords."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from citybrain.errors import ConfigError
from citybrain.services.security import (
    LoginLimiter,
    LoginTokens,
    Passwords,
    TokenError,
    hash_api_token,
    load_secret,
    new_api_token,
)

# Real argon2id with cheap parameters, so that the test does not wait on hashing.
FAST_PASSWORDS = Passwords(PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))


def test_the_token_key_is_made_once_and_private(tmp_path: Path) -> None:
    key = load_secret(tmp_path / "data")
    path = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) == 32 and load_secret(tmp_path / "data") == key
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others; run chmod 600"):
        load_secret(tmp_path / "data")
    other = load_secret(tmp_path / "elsewhere")
    assert other != key


def test_login_tokens_are_signed_and_expire() -> None:
    tokens = LoginTokens(b"k" * 32, lifetime_s=60)
    token = tokens.issue(user_id=7, password_hash="$argon2id$abc", now=1000.0)
    claims = tokens.verify(token, now=1059.0)
    assert (claims.user_id, claims.expires_at) == (7, 1060)
    with pytest.raises(TokenError, match="expired"):
        tokens.verify(token, now=1060.0)
    with pytest.raises(TokenError, match="invalid"):
        LoginTokens(b"x" * 32, lifetime_s=60).verify(token, now=1000.0)
    prefix, body, signature = token.split(".")
    forged_body = body[:-2] + ("AA" if body[-2:] != "AA" else "BB")
    for bad in ("", "cb1.", f"{prefix}.{forged_body}.{signature}", "cb1.!!.??", token + "x"):
        with pytest.raises(TokenError):
            tokens.verify(bad, now=1000.0)


def test_api_tokens_are_random_and_stored_hashed() -> None:
    first, second = new_api_token(), new_api_token()
    assert first != second and first.startswith("cbt_") and len(first) > 40
    assert hash_api_token(first) == hash_api_token(first) != hash_api_token(second)
    assert first not in hash_api_token(first)


def test_the_limiter_counts_failures_in_a_sliding_window() -> None:
    limiter = LoginLimiter(attempts=3, window_s=60, max_keys=4)
    key = ("ann", "10.0.0.1")
    for t in (0.0, 10.0, 20.0):
        assert limiter.retry_after(key, now=t) is None
        limiter.failure(key, now=t)
    assert limiter.retry_after(key, now=30.0) == pytest.approx(30.0)
    assert limiter.retry_after(("ann", "10.0.0.2"), now=30.0) is None
    assert limiter.retry_after(key, now=60.5) is None  # the first failure has aged out
    limiter.success(key)
    limiter.failure(key, now=61.0)
    assert limiter.retry_after(key, now=61.0) is None
    for i in range(10):  # many names: memory stays bounded
        limiter.failure((f"user{i}", "10.0.0.9"), now=100.0 + i)
    assert len(limiter._failures) <= 4


def test_passwords_are_argon2id_and_short_ones_refused() -> None:
    encoded = FAST_PASSWORDS.hash("a long passphrase")
    assert encoded.startswith("$argon2id$")
    assert FAST_PASSWORDS.verify(encoded, "a long passphrase")
    assert not FAST_PASSWORDS.verify(encoded, "a long passphrasE")
    assert not FAST_PASSWORDS.verify("not a hash", "a long passphrase")
    with pytest.raises(ValueError, match="at least 10 characters"):
        FAST_PASSWORDS.hash("short")
