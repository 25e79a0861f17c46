"""Line-crossing counts per camera, line, interval, direction and label."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from citybrain.store.models.base import Base
from citybrain.store.types import UTCDateTime

__all__ = ["COUNT_KEY", "LineCountRow"]

#: The columns that identify one count; a second write of the same key adds to or replaces it.
COUNT_KEY = ("camera_id", "rule", "line", "interval_start", "direction", "label")


class LineCountRow(Base):
    """How many objects of one label crossed one line in one direction in one interval."""

    __tablename__ = "line_counts"
    __table_args__ = (
        UniqueConstraint(*COUNT_KEY, name="uq_line_counts_key"),
        Index("ix_line_counts_interval_start", "interval_start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(Integer, ForeignKey("cameras.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(120))
    line: Mapped[str] = mapped_column(String(120))
    interval_start: Mapped[datetime] = mapped_column(UTCDateTime)
    interval_seconds: Mapped[float] = mapped_column(Float)
    direction: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer)
