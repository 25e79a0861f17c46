"""API tokens: only hashes are stored; the caller hashes what the client presents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citybrain.errors import StoreError
from citybrain.store.models import ApiToken, User, utcnow
from citybrain.store.types import utc

__all__ = ["TokenRecord", "TokenRepo"]


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An API token's metadata (never the token, nor its hash)."""

    id: int
    user_id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool

    @classmethod
    def of(cls, token: ApiToken) -> TokenRecord:
        """The record of an ORM row."""
        return cls(
            id=token.id,
            user_id=token.user_id,
            name=token.name,
            created_at=token.created_at,
            last_used_at=token.last_used_at,
            revoked=token.revoked,
        )


class TokenRepo:
    """API-token rows in one session (the caller commits)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def create(self, *, user_id: int, name: str, token_hash: str) -> TokenRecord:
        """Store a new token's hash for ``user_id``.

        Raises:
            StoreError: the user does not exist or the hash is already stored.
        """
        token = ApiToken(user_id=user_id, name=name, token_hash=token_hash)
        self._session.add(token)
        try:
            self._session.flush()
        except IntegrityError as exc:
            raise StoreError(f"cannot store token {name!r} for user id {user_id}") from exc
        return TokenRecord.of(token)

    def find_active(self, *, token_hash: str) -> tuple[TokenRecord, int] | None:
        """The unrevoked token with this hash and its enabled user's id, or ``None``."""
        row = self._session.execute(
            select(ApiToken, User.id)
            .join(User, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == token_hash)
            .where(ApiToken.revoked.is_(False))
            .where(User.disabled.is_(False))
        ).first()
        return None if row is None else (TokenRecord.of(row[0]), row[1])

    def touch(self, *, token_id: int, at: datetime | None = None) -> None:
        """Record that the token was just used."""
        when = utc(at) if at is not None else utcnow()
        self._session.execute(
            update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=when)
        )

    def revoke(self, *, token_id: int) -> bool:
        """Revoke a token; whether it existed."""
        token = self._session.get(ApiToken, token_id)
        if token is None:
            return False
        token.revoked = True
        self._session.flush()
        return True

    def list_for(self, *, user_id: int) -> list[TokenRecord]:
        """The user's tokens, newest first."""
        tokens = self._session.scalars(
            select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())
        )
        return [TokenRecord.of(token) for token in tokens]
