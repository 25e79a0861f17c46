"""Cameras: where they are, what they see, and their analysis configuration."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citybrain.store.models.base import Base, utcnow
from citybrain.store.types import JSONType, UTCDateTime

__all__ = ["Camera"]


class Camera(Base):
    """One camera.

    ``source`` is a secret: stream URLs carry credentials. Repositories hand out
    :class:`~citybrain.store.repositories.cameras.CameraPublic` views with it redacted.
    ``config`` holds the camera's zones, lines, rules and anonymise flag as validated JSON.
    """

    __tablename__ = "cameras"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    source: Mapped[str] = mapped_column(Text)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    heading_deg: Mapped[float | None] = mapped_column(Float)
    fov_deg: Mapped[float | None] = mapped_column(Float)
    range_m: Mapped[float | None] = mapped_column(Float)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
