"""API tokens: only hashes are stored; the caller hashes what the client presents."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citybrain.errors import StoreError
from citybrain.records import ApiTokenRecord
from citybrain.store.schema import api_tokens, users
from citybrain.store.types import utc, utcnow

__all__ = ["TokenRepo"]

#: The record's columns: everything but the hash.
_PUBLIC = [api_tokens.c[name] for name in ApiTokenRecord.model_fields]


class TokenRepo:
    """API-token rows in one session (the caller commits)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def create(self, *, user_id: int, name: str, token_hash: str) -> ApiTokenRecord:
        """Store a new token's hash for ``user_id``.

        Raises:
            StoreError: the user does not exist or the hash is already stored.
        """
        values = {
            "user_id": user_id, "name": name, "token_hash": token_hash,
            "created_at": utcnow(), "revoked": False,
        }  # fmt: skip
        try:
            row = self._session.execute(insert(api_tokens).values(values).returning(*_PUBLIC))
            return ApiTokenRecord.model_validate(row.one()._mapping)
        except IntegrityError as exc:
            raise StoreError(f"cannot store token {name!r} for user id {user_id}") from exc

    def find_active(self, *, token_hash: str) -> tuple[ApiTokenRecord, int] | None:
        """The unrevoked token with this hash and its enabled user's id, or ``None``."""
        row = self._session.execute(
            select(*_PUBLIC)
            .join(users, api_tokens.c.user_id == users.c.id)
            .where(api_tokens.c.token_hash == token_hash)
            .where(api_tokens.c.revoked.is_(False))
            .where(users.c.disabled.is_(False))
        ).first()
        return None if row is None else (ApiTokenRecord.model_validate(row._mapping), row.user_id)

    def touch(self, *, token_id: int, at: datetime | None = None) -> None:
        """Record that the token was just used."""
        when = utc(at) if at is not None else utcnow()
        self._session.execute(
            update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=when)
        )

    def revoke(self, *, token_id: int) -> bool:
        """Revoke a token; whether it existed."""
        stmt = (
            update(api_tokens)
            .where(api_tokens.c.id == token_id)
            .values(revoked=True)
            .returning(api_tokens.c.id)
        )
        return self._session.execute(stmt).first() is not None

    def list_for(self, *, user_id: int) -> list[ApiTokenRecord]:
        """The user's tokens, newest first."""
        rows = self._session.execute(
            select(*_PUBLIC).where(api_tokens.c.user_id == user_id).order_by(api_tokens.c.id.desc())
        )
        return [ApiTokenRecord.model_validate(row._mapping) for row in rows]
