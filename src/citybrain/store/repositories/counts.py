"""Line-crossing counts: write, sum and expire."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from citybrain.store.models import LineCountRow
from citybrain.store.repositories.upserts import CountMode, CountValues, upsert_counts
from citybrain.store.types import Bucket, time_bucket, utc

__all__ = ["CountRepo", "CountTotal"]


@dataclass(frozen=True, slots=True)
class CountTotal:
    """Crossings of one line, in one direction, by one label (in one bucket when asked)."""

    camera_id: int
    rule: str
    line: str
    direction: str
    label: str
    count: int
    bucket_start: datetime | None = None


class CountRepo:
    """Line-count rows in one session (the caller commits)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, *, rows: Sequence[CountValues], mode: CountMode = "add") -> None:
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
        """Summed counts of intervals starting in ``[since, until)``.

        Args:
            since: first interval start included.
            until: interval starts before this only.
            camera_ids: only these cameras (``None``: all; empty: none).
            line: only this line.
            bucket: also split the sums per UTC ``"hour"`` or ``"day"``.
        """
        if camera_ids is not None and not camera_ids:
            return []
        keys = (
            LineCountRow.camera_id,
            LineCountRow.rule,
            LineCountRow.line,
            LineCountRow.direction,
            LineCountRow.label,
        )
        start = time_bucket(bucket, LineCountRow.interval_start) if bucket else None
        groups = (*keys, start) if start is not None else keys
        query = (
            select(*groups, func.sum(LineCountRow.count))
            .where(*self._filters(since, until, camera_ids, line))
            .group_by(*groups)
            .order_by(*((start,) if start is not None else ()), *keys)
        )
        return [self._total(row, bucket is not None) for row in self._session.execute(query)]

    def delete_before(self, *, cutoff: datetime) -> int:
        """Delete counts of intervals that started before ``cutoff``; returns how many."""
        gone = delete(LineCountRow).where(LineCountRow.interval_start < utc(cutoff))
        return len(self._session.execute(gone.returning(LineCountRow.id)).all())

    @staticmethod
    def _filters(
        since: datetime | None,
        until: datetime | None,
        camera_ids: Collection[int] | None,
        line: str | None,
    ) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if since is not None:
            clauses.append(LineCountRow.interval_start >= utc(since))
        if until is not None:
            clauses.append(LineCountRow.interval_start < utc(until))
        if camera_ids is not None:
            clauses.append(LineCountRow.camera_id.in_(sorted(camera_ids)))
        if line is not None:
            clauses.append(LineCountRow.line == line)
        return clauses

    @staticmethod
    def _total(row: Sequence[object], bucketed: bool) -> CountTotal:
        camera_id, rule, line, direction, label = row[:5]
        return CountTotal(
            camera_id=int(camera_id),  # type: ignore[call-overload]
            rule=str(rule),
            line=str(line),
            direction=str(direction),
            label=str(label),
            count=int(row[-1]),  # type: ignore[call-overload]
            bucket_start=row[5] if bucketed else None,  # type: ignore[arg-type]
        )
