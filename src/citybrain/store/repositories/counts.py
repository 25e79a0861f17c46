"""Line-crossing counts: write, sum and expire."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from citybrain.records import CountTotal, LineCountRecord
from citybrain.store.repositories.upserts import CountMode, upsert_counts
from citybrain.store.schema import line_counts
from citybrain.store.types import Bucket, time_bucket, utc

__all__ = ["CountRepo"]


class CountRepo:
    """Line-count rows in one session (the caller commits)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, *, rows: Sequence[LineCountRecord], mode: CountMode = "add") -> None:
        """Store counts; a count for a key already stored is added to it or replaces it."""
        upsert_counts(self._session, rows, mode)

    def totals(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        camera_ids: Collection[int] | None = None,
        line: str | None = None,
        bucket: Bucket | None = None,
    ) -> list[CountTotal]:
        """Summed counts of intervals starting in ``[since, until)``, per camera, rule, line,
        direction and label.

        Args:
            camera_ids: only these cameras (``None``: all; empty: none).
            line: only this line.
            bucket: also split the sums per UTC ``"hour"`` or ``"day"``.
        """
        if camera_ids is not None and not camera_ids:
            return []
        c = line_counts.c
        keys = (c.camera_id, c.rule, c.line, c.direction, c.label)
        start = time_bucket(bucket, c.interval_start).label("bucket_start") if bucket else None
        groups = (*keys, start) if start is not None else keys
        rows = self._session.execute(
            select(*groups, func.sum(c.count).label("count"))
            .where(*_clauses(since, until, camera_ids, line))
            .group_by(*groups)
            .order_by(*((start,) if start is not None else ()), *keys)
        )
        return [CountTotal.model_validate(row._mapping) for row in rows]

    def delete_before(self, *, cutoff: datetime) -> int:
        """Delete counts of intervals that started before ``cutoff``; returns how many."""
        gone = delete(line_counts).where(line_counts.c.interval_start < utc(cutoff))
        return len(self._session.execute(gone.returning(line_counts.c.id)).all())


def _clauses(
    since: datetime | None,
    until: datetime | None,
    camera_ids: Collection[int] | None,
    line: str | None,
) -> list[ColumnElement[bool]]:
    c = line_counts.c
    clauses: list[ColumnElement[bool]] = []
    if since is not None:
        clauses.append(c.interval_start >= utc(since))
    if until is not None:
        clauses.append(c.interval_start < utc(until))
    if camera_ids is not None:
        clauses.append(c.camera_id.in_(sorted(camera_ids)))
    if line is not None:
        clauses.append(c.line == line)
    return clauses
