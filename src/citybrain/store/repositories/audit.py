"""The audit trail: append and search; rows are never changed."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.orm import Session

from citybrain.store.models import AuditRow, utcnow
from citybrain.store.types import utc

__all__ = ["AuditPage", "AuditRecord", "AuditRepo"]


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audited action."""

    id: int
    at: datetime
    username: str | None
    action: str
    camera_id: int | None
    target: str | None
    client: str | None
    detail: dict[str, Any]

    @classmethod
    def of(cls, row: AuditRow) -> AuditRecord:
        """The record of an ORM row."""
        return cls(
            id=row.id,
            at=row.at,
            username=row.username,
            action=row.action,
            camera_id=row.camera_id,
            target=row.target,
            client=row.client,
            detail=dict(row.detail),
        )


@dataclass(frozen=True, slots=True)
class AuditPage:
    """One page of the audit trail, newest first, and how many rows match."""

    items: list[AuditRecord]
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
    ) -> AuditRecord:
        """Append one action to the trail."""
        row = AuditRow(
            at=utc(at) if at is not None else utcnow(),
            username=username,
            action=action,
            camera_id=camera_id,
            target=target,
            client=client,
            detail=detail or {},
        )
        self._session.add(row)
        self._session.flush()
        return AuditRecord.of(row)

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
        clauses = self._filters(since, until, username, action, camera_ids)
        rows = self._session.scalars(
            select(AuditRow)
            .where(*clauses)
            .order_by(AuditRow.at.desc(), AuditRow.id.desc())
            .offset(offset)
            .limit(limit)
        )
        total = self._session.scalar(select(func.count()).select_from(AuditRow).where(*clauses))
        return AuditPage(items=[AuditRecord.of(r) for r in rows], total=int(total or 0))

    def delete_before(self, *, cutoff: datetime) -> int:
        """Delete actions older than ``cutoff`` (the retention policy's call); returns how many."""
        gone = delete(AuditRow).where(AuditRow.at < utc(cutoff)).returning(AuditRow.id)
        return len(self._session.execute(gone).all())

    @staticmethod
    def _filters(
        since: datetime | None,
        until: datetime | None,
        username: str | None,
        action: str | None,
        camera_ids: Collection[int] | None,
    ) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if since is not None:
            clauses.append(AuditRow.at >= utc(since))
        if until is not None:
            clauses.append(AuditRow.at < utc(until))
        if username is not None:
            clauses.append(AuditRow.username == username)
        if action is not None:
            clauses.append(AuditRow.action == action)
        if camera_ids is not None:
            clauses.append(
                or_(AuditRow.camera_id.in_(sorted(camera_ids)), AuditRow.camera_id.is_(None))
            )
        return clauses
