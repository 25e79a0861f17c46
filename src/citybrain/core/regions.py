"""Where in a frame the detector needs to look: the crop around motion that tracks do not explain.

A fully convolutional detector fed a crop at the whole frame's scale sees every object in it at
the size it has in the whole frame, at a cost in proportion to the crop's area. After the first
look at the whole frame, the pipeline only needs to look where something moved that no tracked
box accounts for (a newcomer, a walker leaving their box), and at refresh time where the tracked
objects are; objects elsewhere did not move and keep their boxes. A crop that would cover most of
the frame is not worth it: the whole frame is looked at instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from citybrain.core.detections import BoolArray, Detections, FloatArray

__all__ = ["Crop", "RegionPlanner", "explained", "mostly_inside", "touches"]


def explained(regions: FloatArray, boxes: FloatArray, margin: float = 0.15) -> BoolArray:
    """Per motion region, whether it lies inside some box grown by ``margin`` of its size."""
    if len(boxes) == 0 or len(regions) == 0:
        return np.zeros(len(regions), dtype=bool)
    size = boxes[:, 2:] - boxes[:, :2]
    grown = np.concatenate([boxes[:, :2] - margin * size, boxes[:, 2:] + margin * size], axis=1)
    r = regions[:, None, :]
    g = grown[None, :, :]
    inside = (r[..., 0] >= g[..., 0]) & (r[..., 1] >= g[..., 1])
    inside &= (r[..., 2] <= g[..., 2]) & (r[..., 3] <= g[..., 3])
    return np.asarray(inside.any(axis=1), dtype=bool)


def touches(boxes: FloatArray, regions: FloatArray) -> BoolArray:
    """Per box, whether it overlaps any of ``regions``."""
    if len(boxes) == 0 or len(regions) == 0:
        return np.zeros(len(boxes), dtype=bool)
    b = boxes[:, None, :]
    r = regions[None, :, :]
    overlap = (b[..., 0] < r[..., 2]) & (b[..., 2] > r[..., 0])
    overlap &= (b[..., 1] < r[..., 3]) & (b[..., 3] > r[..., 1])
    return np.asarray(overlap.any(axis=1), dtype=bool)


def mostly_inside(pieces: Detections, boxes: Detections, share: float = 0.5) -> BoolArray:
    """Per detection of ``pieces``, whether at least ``share`` of its area lies inside a box of
    the same class in ``boxes`` (a piece, or a second sighting, of that object)."""
    if len(pieces) == 0 or len(boxes) == 0:
        return np.zeros(len(pieces), dtype=bool)
    p = pieces.xyxy[:, None, :]
    b = boxes.xyxy[None, :, :]
    w = (np.minimum(p[..., 2], b[..., 2]) - np.maximum(p[..., 0], b[..., 0])).clip(0)
    h = (np.minimum(p[..., 3], b[..., 3]) - np.maximum(p[..., 1], b[..., 1])).clip(0)
    xyxy = pieces.xyxy
    area = ((xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1]))[:, None]
    inside = w * h >= share * np.maximum(area, 1e-9)
    inside &= pieces.class_id[:, None] == boxes.class_id[None, :]
    return np.asarray(inside.any(axis=1), dtype=bool)


@dataclass(frozen=True, slots=True)
class Crop:
    """A crop of a frame, in whole pixels: ``image[y1:y2, x1:x2]``, and the scale (network
    pixels per frame pixel) it was planned to be fed at."""

    x1: int
    y1: int
    x2: int
    y2: int
    scale: float

    @property
    def area(self) -> int:
        return (self.x2 - self.x1) * (self.y2 - self.y1)

    def contains(self, xyxy: FloatArray, tolerance: float = 1.0) -> BoolArray:
        """Per box, whether it lies wholly inside the crop (give or take ``tolerance``)."""
        return np.asarray(
            (xyxy[:, 0] >= self.x1 - tolerance)
            & (xyxy[:, 1] >= self.y1 - tolerance)
            & (xyxy[:, 2] <= self.x2 + tolerance)
            & (xyxy[:, 3] <= self.y2 + tolerance),
            dtype=bool,
        )

    def cut(self, xyxy: FloatArray, width: int, height: int, tolerance: float = 2.0) -> BoolArray:
        """Per box (in frame pixels), whether it touches an edge of the crop that is not an edge
        of the frame: the object may go on beyond the crop, so its box may be cut short."""
        inner_left = self.x1 > 0
        inner_top = self.y1 > 0
        inner_right = self.x2 < width
        inner_bottom = self.y2 < height
        return np.asarray(
            (inner_left & (xyxy[:, 0] <= self.x1 + tolerance))
            | (inner_top & (xyxy[:, 1] <= self.y1 + tolerance))
            | (inner_right & (xyxy[:, 2] >= self.x2 - tolerance))
            | (inner_bottom & (xyxy[:, 3] >= self.y2 - tolerance)),
            dtype=bool,
        )

    def to_frame(self, detections: Detections) -> Detections:
        """``detections`` found in the crop, with boxes moved to frame pixels."""
        if len(detections) == 0:
            return detections
        offset = np.array([self.x1, self.y1, self.x1, self.y1], dtype=np.float32)
        return Detections(
            xyxy=(detections.xyxy + offset).astype(np.float32),
            confidence=detections.confidence,
            class_id=detections.class_id,
        )


@dataclass(frozen=True, slots=True)
class RegionPlanner:
    """Chooses the crop the detector looks at for motion that tracked boxes do not explain.

    Attributes:
        margin: the crop reaches this share of the moving area's size beyond it on each side
            (the parts of a moving object that happen not to differ from the background).
        min_margin: and at least this many frame pixels.
        max_fraction: a crop covering more than this share of the frame is not worth it (the
            detector looks at the whole frame instead).
        stride: the network's input granularity; the crop grows to use the whole input.
    """

    margin: float = 0.25
    min_margin: float = 24.0
    max_fraction: float = 0.8
    stride: int = 32

    def plan(
        self,
        motion: FloatArray,
        unexplained: BoolArray,
        tracked: FloatArray,
        size: tuple[int, int],
        scale: float,
    ) -> Crop | None:
        """The crop for the motion regions ``motion[unexplained]`` (at least one).

        Tracked boxes that any motion touches are taken in whole: an object leaving its box,
        or leaving the frame from inside it, must be looked at again, since only the tracked
        objects that did not move at all may keep their boxes without a look. ``motion`` is
        ``(K, 4)`` in frame pixels, ``size`` the frame's ``(width, height)`` and ``scale``
        the network pixels per frame pixel. ``None``: look at the whole frame.
        """
        width, height = size
        area = motion[unexplained]
        x1, y1 = area[:, 0].min(), area[:, 1].min()
        x2, y2 = area[:, 2].max(), area[:, 3].max()
        moving = tracked[touches(tracked, np.concatenate([motion, [[x1, y1, x2, y2]]]))]
        if len(moving):
            x1, y1 = min(x1, moving[:, 0].min()), min(y1, moving[:, 1].min())
            x2, y2 = max(x2, moving[:, 2].max()), max(y2, moving[:, 3].max())
        grow_x = max(self.margin * (x2 - x1), self.min_margin)
        grow_y = max(self.margin * (y2 - y1), self.min_margin)
        left, right = _fit(float(x1 - grow_x), float(x2 + grow_x), width, scale, self.stride)
        top, bottom = _fit(float(y1 - grow_y), float(y2 + grow_y), height, scale, self.stride)
        crop = Crop(left, top, right, bottom, scale)
        if crop.area > self.max_fraction * width * height:
            return None
        return crop


def _fit(low: float, high: float, limit: int, scale: float, stride: int) -> tuple[int, int]:
    """``[low, high)`` clipped to ``[0, limit)`` and widened (within it) to fill whole strides
    of the network input: the padding is computed anyway, it may as well hold picture."""
    low, high = max(0.0, low), min(float(limit), high)
    cells = math.ceil((high - low) * scale / stride - 1e-6)
    # Rounded down, so that the crop at ``scale`` stays within ``cells`` strides.
    span = min(limit, math.floor(cells * stride / scale + 1e-6))
    first = min(max(0, round((low + high - span) / 2)), limit - span)
    return first, first + span
