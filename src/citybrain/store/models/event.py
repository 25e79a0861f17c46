"""Events: incidents found by the rules, and their handling by operators."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citybrain.store.models.base import Base
from citybrain.store.types import JSONType, UTCDateTime

__all__ = ["EventRow", "EventStatus"]


class EventStatus(StrEnum):
    """Where an operator is with an event."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


_STATUSES = ", ".join(f"'{s.value}'" for s in EventStatus)


class EventRow(Base):
    """One event, one row from start to end (``id`` is the engine's event id)."""

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUSES})", name="status"),
        Index("ix_events_started_at", "started_at"),
        Index("ix_events_camera_id_started_at", "camera_id", "started_at"),
        Index("ix_events_kind_started_at", "kind", "started_at"),
        Index("ix_events_status_started_at", "status", "started_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    camera_id: Mapped[int] = mapped_column(Integer, ForeignKey("cameras.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(120))
    zone: Mapped[str | None] = mapped_column(String(120))
    line: Mapped[str | None] = mapped_column(String(120))
    label: Mapped[str | None] = mapped_column(String(64))
    track_id: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    score: Mapped[float] = mapped_column(Float)
    bbox: Mapped[list[float] | None] = mapped_column(JSONType)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    snapshot: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(
        String(16), default=EventStatus.OPEN.value, server_default=EventStatus.OPEN.value
    )
    acknowledged_by: Mapped[str | None] = mapped_column(String(120))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(120))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
