"""The audit trail: append and search; rows are never changed."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from citybrain.records import AuditEntry
from citybrain.store.schema import audit
from citybrain.store.types import utc, utcnow

__all__ = ["AuditPage", "AuditRepo"]


@dataclass(frozen=True, slots=True)
class AuditPage:
    """One page of the audit trail, newest first, and how many rows match."""

    items: list[AuditEntry]
    total: int


class AuditRepo:
    """Audit rows in one session (the caller commits)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def record(
        self,
        *,
        action: str,
        username: str | None = None,
        camera_id: int | None = None,
        target: str | None = None,
        client: str | None = None,
        detail: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> AuditEntry:
        """Append one action to the trail."""
        values = {
            "at": utc(at) if at is not None else utcnow(), "username": username,
            "action": action, "camera_id": camera_id, "target": target, "client": client,
            "detail": detail or {},
        }  # fmt: skip
        row = self._session.execute(insert(audit).values(values).returning(*audit.c)).one()
        return AuditEntry.model_validate(row._mapping)

    def search(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        username: str | None = None,
        action: str | None = None,
        camera_ids: Collection[int] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> AuditPage:
        """Matching actions, newest first.

        ``camera_ids`` restricts to actions on those cameras *or on no camera*; ``None`` means
        no restriction.
        """
        clauses = _clauses(since, until, username, action, camera_ids)
        rows = self._session.execute(
            select(audit)
            .where(*clauses)
            .order_by(audit.c.at.desc(), audit.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
        total = self._session.scalar(select(func.count()).select_from(audit).where(*clauses))
        return AuditPage(
            items=[AuditEntry.model_validate(r._mapping) for r in rows], total=int(total or 0)
        )

    def delete_before(self, *, cutoff: datetime) -> int:
        """Delete actions older than ``cutoff`` (the retention policy's call); returns how many."""
        gone = delete(audit).where(audit.c.at < utc(cutoff)).returning(audit.c.id)
        return len(self._session.execute(gone).all())


def _clauses(
    since: datetime | None,
    until: datetime | None,
    username: str | None,
    action: str | None,
    camera_ids: Collection[int] | None,
) -> list[ColumnElement[bool]]:
    c = audit.c
    clauses: list[ColumnElement[bool]] = []
    if since is not None:
        clauses.append(c.at >= utc(since))
    if until is not None:
        clauses.append(c.at < utc(until))
    if username is not None:
        clauses.append(c.username == username)
    if action is not None:
        clauses.append(c.action == action)
    if camera_ids is not None:
        clauses.append(or_(c.camera_id.in_(sorted(camera_ids)), c.camera_id.is_(None)))
    return clauses
