"""Cameras: create, read, change and delete."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citybrain.errors import StoreError
from citybrain.records import CameraFields, CameraRecord
from citybrain.store.schema import cameras, events
from citybrain.store.types import utcnow

__all__ = ["CameraRepo"]

#: The fields a change may touch (what an admin sets about a camera).
SETTABLE = frozenset(CameraFields.model_fields)


class CameraRepo:
    """Camera rows in one session (the caller commits).

    Records carry the secret ``source``: views shown to people redact it.
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    def create(self, fields: CameraFields) -> CameraRecord:
        """Add a camera.

        Raises:
            StoreError: the name is taken.
        """
        now = utcnow()
        values = fields.model_dump() | {"created_at": now, "updated_at": now}
        stmt = insert(cameras).values(values).returning(*cameras.c)
        return CameraRecord.model_validate(self._write(stmt, fields.name).one()._mapping)

    def get(self, *, camera_id: int) -> CameraRecord | None:
        """The camera, or ``None`` if there is no such camera."""
        row = self._session.execute(select(cameras).where(cameras.c.id == camera_id)).first()
        return None if row is None else CameraRecord.model_validate(row._mapping)

    def by_name(self, *, name: str) -> CameraRecord | None:
        """The camera called ``name``, or ``None``."""
        row = self._session.execute(select(cameras).where(cameras.c.name == name)).first()
        return None if row is None else CameraRecord.model_validate(row._mapping)

    def list(
        self, *, camera_ids: Collection[int] | None = None, enabled: bool | None = None
    ) -> list[CameraRecord]:
        """Cameras by name, of ``camera_ids`` only when given (``None``: all)."""
        query = select(cameras).order_by(cameras.c.name)
        if camera_ids is not None:
            query = query.where(cameras.c.id.in_(sorted(camera_ids)))
        if enabled is not None:
            query = query.where(cameras.c.enabled == enabled)
        return [CameraRecord.model_validate(row._mapping) for row in self._session.execute(query)]

    def update(self, *, camera_id: int, changes: Mapping[str, Any]) -> CameraRecord | None:
        """Change some fields; ``None`` if there is no such camera.

        Raises:
            StoreError: the new name is taken or a field is not one an admin sets.
        """
        unknown = set(changes) - SETTABLE
        if unknown:
            raise StoreError(f"unknown camera field(s) {sorted(unknown)}")
        stmt = (
            update(cameras)
            .where(cameras.c.id == camera_id)
            .values({**changes, "updated_at": utcnow()})
            .returning(*cameras.c)
        )
        row = self._write(stmt, str(changes.get("name", camera_id))).first()
        return None if row is None else CameraRecord.model_validate(row._mapping)

    def delete(self, *, camera_id: int) -> builtins.list[str] | None:
        """Delete a camera with its events and counts.

        Returns:
            The snapshot paths of the deleted events (the caller deletes the files), or ``None``
            if there is no such camera.
        """
        gone = delete(events).where(events.c.camera_id == camera_id).returning(events.c.snapshot)
        snapshots = [path for path in self._session.scalars(gone) if path]
        deleted = self._session.execute(
            delete(cameras).where(cameras.c.id == camera_id).returning(cameras.c.id)
        ).first()
        return None if deleted is None else snapshots

    def _write(self, stmt: Any, name: str) -> Any:
        try:
            return self._session.execute(stmt)
        except IntegrityError as exc:
            raise StoreError(f"a camera named {name!r} already exists") from exc
