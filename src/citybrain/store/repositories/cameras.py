"""Cameras: create, read (secret-free views), change and delete."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citybrain.errors import StoreError
from citybrain.store.models import Camera, EventRow
from citybrain.store.redact import redacted_source

__all__ = ["CameraChanges", "CameraPublic", "CameraRepo"]


class CameraChanges(TypedDict, total=False):
    """The camera fields :meth:`CameraRepo.update` may change (absent keys stay as they are)."""

    name: str
    source: str
    lat: float | None
    lon: float | None
    heading_deg: float | None
    fov_deg: float | None
    range_m: float | None
    enabled: bool
    config: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CameraPublic:
    """A camera as anyone may see it: ``source`` has its credentials redacted."""

    id: int
    name: str
    source: str
    lat: float | None
    lon: float | None
    heading_deg: float | None
    fov_deg: float | None
    range_m: float | None
    enabled: bool
    config: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, camera: Camera) -> CameraPublic:
        """The public view of ``camera``."""
        return cls(
            id=camera.id,
            name=camera.name,
            source=redacted_source(camera.source),
            lat=camera.lat,
            lon=camera.lon,
            heading_deg=camera.heading_deg,
            fov_deg=camera.fov_deg,
            range_m=camera.range_m,
            enabled=camera.enabled,
            config=dict(camera.config),
            created_at=camera.created_at,
            updated_at=camera.updated_at,
        )


class CameraRepo:
    """Camera rows in one session (the caller commits)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def create(self, *, name: str, source: str, **fields: Any) -> CameraPublic:
        """Add a camera; ``fields`` are any other :class:`CameraChanges` keys.

        Raises:
            StoreError: the name is taken or a field is unknown.
        """
        camera = Camera(name=name, source=source, config={})
        self._apply(camera, fields)
        self._session.add(camera)
        self._flush(name)
        return CameraPublic.of(camera)

    def get_with_source(self, *, camera_id: int) -> Camera | None:
        """The camera row, secret source included: for the runtime only, never for a response."""
        return self._session.get(Camera, camera_id)

    def by_name(self, *, name: str) -> Camera | None:
        """The camera row called ``name`` (secret source included)."""
        return self._session.scalar(select(Camera).where(Camera.name == name))

    def public(self, *, camera_id: int) -> CameraPublic | None:
        """The camera's public view, or ``None`` if there is no such camera."""
        camera = self._session.get(Camera, camera_id)
        return None if camera is None else CameraPublic.of(camera)

    def list_public(
        self, *, camera_ids: Collection[int] | None = None, enabled: bool | None = None
    ) -> list[CameraPublic]:
        """Public views ordered by name, of ``camera_ids`` only when given (``None``: all)."""
        query = select(Camera).order_by(Camera.name)
        if camera_ids is not None:
            query = query.where(Camera.id.in_(list(camera_ids)))
        if enabled is not None:
            query = query.where(Camera.enabled == enabled)
        return [CameraPublic.of(c) for c in self._session.scalars(query)]

    def update(self, *, camera_id: int, changes: CameraChanges) -> CameraPublic | None:
        """Change some fields; ``None`` if there is no such camera.

        Raises:
            StoreError: the new name is taken or a field is unknown.
        """
        camera = self._session.get(Camera, camera_id)
        if camera is None:
            return None
        self._apply(camera, dict(changes))
        self._flush(camera.name)
        return CameraPublic.of(camera)

    def delete(self, *, camera_id: int) -> list[str] | None:
        """Delete a camera with its events and counts.

        Returns:
            The snapshot paths of the deleted events (the caller deletes the files), or ``None``
            if there is no such camera.
        """
        camera = self._session.get(Camera, camera_id)
        if camera is None:
            return None
        gone = delete(EventRow).where(EventRow.camera_id == camera_id).returning(EventRow.snapshot)
        snapshots = [path for path in self._session.scalars(gone) if path]
        self._session.delete(camera)
        self._session.flush()
        return snapshots

    @staticmethod
    def _apply(camera: Camera, fields: dict[str, Any]) -> None:
        unknown = set(fields) - set(CameraChanges.__annotations__)
        if unknown:
            raise StoreError(f"unknown camera field(s) {sorted(unknown)}")
        for key, value in fields.items():
            setattr(camera, key, value)

    def _flush(self, name: str) -> None:
        try:
            self._session.flush()
        except IntegrityError as exc:
            raise StoreError(f"a camera named {name!r} already exists") from exc
