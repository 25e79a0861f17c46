"""Zones and lines in normalised image coordinates, tested against many detections at once."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

from citybrain.core.detections import BoolArray, Detections, FloatArray

__all__ = ["Line", "PolygonZone", "normalised_anchors"]


def normalised_anchors(
    detections: Detections, width: int, height: int, anchor: str = "bottom_center"
) -> FloatArray:
    """``(N, 2)`` anchor points of ``detections`` divided by the frame size."""
    scale = np.array([width, height], dtype=np.float32)
    return (detections.anchors(anchor) / scale).astype(np.float32)


class PolygonZone:
    """A named polygon; :meth:`trigger` says which detections stand inside it.

    Example:
        >>> zone = PolygonZone("yard", [(0, 0), (0.5, 0), (0.5, 1), (0, 1)])
        >>> d = Detections(xyxy=np.array([[10, 10, 20, 90], [80, 10, 90, 90]]),
        ...                confidence=np.ones(2), class_id=np.zeros(2))
        >>> zone.trigger(d, width=100, height=100).tolist()
        [True, False]
    """

    def __init__(
        self, name: str, polygon: Sequence[tuple[float, float]], anchor: str = "bottom_center"
    ) -> None:
        if len(polygon) < 3:
            raise ValueError(f"zone {name!r} needs at least 3 points, got {len(polygon)}")
        self.name = name
        self.anchor = anchor
        self._polygon = shapely.Polygon(polygon)
        if not self._polygon.is_valid:
            # A self-intersecting outline still means "this area": repair rather than refuse.
            self._polygon = shapely.make_valid(self._polygon)
        shapely.prepare(self._polygon)

    def trigger(self, detections: Detections, *, width: int, height: int) -> BoolArray:
        """Boolean mask: which detections' anchor points lie inside (or on the edge of) the zone."""
        if len(detections) == 0:
            return np.zeros(0, dtype=bool)
        points = normalised_anchors(detections, width, height, self.anchor)
        inside = shapely.intersects_xy(self._polygon, points[:, 0], points[:, 1])
        return np.asarray(inside, dtype=bool)


class Line:
    """A directed segment from ``a`` to ``b``.

    Crossing from its left (looking from ``a`` to ``b``, image y pointing down) to its right is
    direction ``"in"``; the reverse is ``"out"``.
    """

    def __init__(
        self,
        name: str,
        a: tuple[float, float],
        b: tuple[float, float],
        anchor: str = "bottom_center",
    ) -> None:
        if a == b:
            raise ValueError(f"line {name!r} has two equal points")
        self.name = name
        self.anchor = anchor
        self.a = np.asarray(a, dtype=np.float64)
        self.b = np.asarray(b, dtype=np.float64)

    def side(self, points: FloatArray) -> FloatArray:
        """Signed side of each point: positive right of the line, negative left, 0 on it."""
        d = self.b - self.a
        rel = points.astype(np.float64) - self.a
        return np.asarray(d[0] * rel[:, 1] - d[1] * rel[:, 0])

    def crossed(self, before: FloatArray, after: FloatArray) -> FloatArray:
        """For each movement ``before[i] -> after[i]``: +1 crossed in, -1 crossed out, 0 none.

        A movement crosses only when it passes through the segment itself, not its extension.
        """
        s0, s1 = self.side(before), self.side(after)
        changed = np.sign(s0) * np.sign(s1) < 0
        # The segment a-b must also straddle the movement, or the object passed beside the line.
        move = after.astype(np.float64) - before
        rel_a = self.a - before
        rel_b = self.b - before
        t_a = move[:, 0] * rel_a[:, 1] - move[:, 1] * rel_a[:, 0]
        t_b = move[:, 0] * rel_b[:, 1] - move[:, 1] * rel_b[:, 0]
        straddles = np.sign(t_a) * np.sign(t_b) <= 0
        direction = np.where(s1 > 0, 1.0, -1.0)
        return np.where(changed & straddles, direction, 0.0)
