"""Cheap motion detection that decides when (and where) the object detector needs to look.

Each frame is shrunk to a small grey image (about 200 px wide) and compared with a running-average
background; pixels that differ by more than a threshold are dilated into blobs, and blobs large
enough become motion regions. The background learns at a rate set in seconds of stream time, so
the gate behaves the same at 5 or 25 frames per second. A change over most of the frame at once
(lights switched, auto-exposure, the camera moved) re-seeds the background instead of reporting
motion until the average catches up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from citybrain.core.detections import FloatArray
from citybrain.core.frame import Frame, Image

__all__ = ["Motion", "MotionConfig", "MotionGate"]

_EMPTY_REGIONS = np.zeros((0, 4), dtype=np.float32)


@dataclass(frozen=True, slots=True)
class MotionConfig:
    """Motion gate settings.

    ``threshold`` and ``min_area`` come from a camera's config, whose
    :class:`~citybrain.config.model.MotionSection` holds their ranges (one place); the other
    settings are the gate's own and are checked here.

    Attributes:
        frame_width: width in pixels of the grey image motion is computed on.
        threshold: grey-level difference (1-254) from the background that counts as change.
        min_area: smallest region kept, as a share of the frame's area (``[0, 1)``).
        background_seconds: time constant of the running-average background, in stream seconds.
        reseed_fraction: a change over more than this share of the frame re-seeds the background.
        blur: side of the Gaussian blur (odd) that removes sensor noise before differencing.
        dilation: dilation iterations that join the parts of one moving object.
    """

    frame_width: int = 200
    threshold: int = 25
    min_area: float = 0.002
    background_seconds: float = 1.0
    reseed_fraction: float = 0.5
    blur: int = 5
    dilation: int = 2

    def __post_init__(self) -> None:
        if self.frame_width < 16:
            raise ValueError(f"motion frame_width {self.frame_width} is below 16 pixels")
        if not 0.0 < self.reseed_fraction <= 1.0:
            raise ValueError(f"motion reseed_fraction {self.reseed_fraction} is not in (0, 1]")
        if self.background_seconds <= 0 or self.blur % 2 == 0 or self.dilation < 0:
            raise ValueError("motion background_seconds > 0, odd blur and dilation >= 0 needed")


@dataclass(frozen=True, slots=True)
class Motion:
    """Where a frame moved.

    Attributes:
        regions: ``(K, 4)`` float32 boxes ``x1, y1, x2, y2`` in the frame's pixels.
        fraction: share of the frame's area that changed (before the min-area filter).
        reseeded: the change covered most of the frame, so the background was re-seeded and
            no region is reported.
    """

    regions: FloatArray
    fraction: float
    reseeded: bool = False

    @property
    def moving(self) -> bool:
        """Whether any motion region was found."""
        return len(self.regions) > 0


class MotionGate:
    """Finds moving regions in consecutive frames of one camera (one instance per camera).

    Example:
        >>> gate = MotionGate()
        >>> motion = gate.detect(frame)  # doctest: +SKIP
        >>> if motion.moving: detections = detector.detect([frame.image])  # doctest: +SKIP
    """

    def __init__(self, config: MotionConfig | None = None) -> None:
        self.config = config or MotionConfig()
        self._background: npt.NDArray[np.float32] | None = None
        self._last_time = 0.0
        self._source_shape: tuple[int, ...] = ()
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))

    def reset(self) -> None:
        """Forget the background (e.g. after a stream restarts)."""
        self._background = None

    def detect(self, frame: Frame) -> Motion:
        """Motion in ``frame`` since the frames before it, at its stream time.

        The frame's grey thumbnail is used where the decoder made one (its BGR pixels are then
        never touched, so a deferred frame stays unconverted); otherwise the BGR image is shrunk.
        """
        size = (frame.height, frame.width)
        thumbnail = frame.thumbnail
        grey = self._shrink(frame.image) if thumbnail is None else self._smooth(size, thumbnail)
        timestamp = frame.timestamp
        background = self._background
        if background is None or timestamp < self._last_time:
            self._seed(grey, timestamp)
            return Motion(_EMPTY_REGIONS, 0.0)
        cv2.convertScaleAbs(background, dst=self._background_u8)
        cv2.absdiff(grey, self._background_u8, dst=self._diff)
        cv2.threshold(self._diff, self.config.threshold, 255, cv2.THRESH_BINARY, dst=self._mask)
        fraction = cv2.countNonZero(self._mask) / self._mask.size
        if fraction > self.config.reseed_fraction:
            self._seed(grey, timestamp)
            return Motion(_EMPTY_REGIONS, fraction, reseeded=True)
        seconds = max(timestamp - self._last_time, 0.0)
        alpha = 1.0 - math.exp(-seconds / self.config.background_seconds)
        cv2.accumulateWeighted(grey, background, alpha)
        self._last_time = timestamp
        scale = (frame.width / grey.shape[1], frame.height / grey.shape[0])
        return Motion(self._regions(scale), fraction)

    def _shrink(self, image: Image) -> npt.NDArray[np.uint8]:
        """The blurred small grey frame, in buffers reused from frame to frame."""
        if image.shape != self._source_shape:
            self._allocate(image.shape)
        cv2.resize(image, self._small.shape[1::-1], dst=self._small, interpolation=cv2.INTER_AREA)
        cv2.cvtColor(self._small, cv2.COLOR_BGR2GRAY, dst=self._grey)
        side = self.config.blur
        cv2.GaussianBlur(self._grey, (side, side), 0, dst=self._grey)
        return self._grey

    def _smooth(self, size: tuple[int, int], thumbnail: Image) -> npt.NDArray[np.uint8]:
        """The blurred thumbnail, in buffers reused from frame to frame."""
        shape = (*size, *thumbnail.shape[:2])
        if shape != self._source_shape:
            self._allocate(size, thumbnail.shape[:2])
            self._source_shape = shape
        side = self.config.blur
        cv2.GaussianBlur(thumbnail, (side, side), 0, dst=self._grey)
        return self._grey

    def _allocate(self, shape: tuple[int, ...], small: tuple[int, ...] | None = None) -> None:
        height, width = shape[:2]
        small_w = min(self.config.frame_width, width) if small is None else small[1]
        small_h = max(1, round(height * small_w / width)) if small is None else small[0]
        self._small = np.empty((small_h, small_w, 3), dtype=np.uint8)
        self._grey = np.empty((small_h, small_w), dtype=np.uint8)
        self._background_u8 = np.empty_like(self._grey)
        self._diff = np.empty_like(self._grey)
        self._mask = np.empty_like(self._grey)
        self._dilated = np.empty_like(self._grey)
        self._source_shape = shape
        self._background = None  # a new size means a new stream

    def _seed(self, grey: npt.NDArray[np.uint8], timestamp: float) -> None:
        self._background = grey.astype(np.float32)
        self._last_time = timestamp

    def _regions(self, scale: tuple[float, float]) -> FloatArray:
        mask = self._mask
        if self.config.dilation:
            cv2.dilate(mask, self._kernel, dst=self._dilated, iterations=self.config.dilation)
            mask = self._dilated
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        min_pixels = self.config.min_area * mask.size
        boxes = [cv2.boundingRect(c) for c in contours]
        kept = [(x, y, x + w, y + h) for x, y, w, h in boxes if w * h >= min_pixels]
        if not kept:
            return _EMPTY_REGIONS
        factors = np.array([scale[0], scale[1], scale[0], scale[1]], dtype=np.float32)
        return np.array(kept, dtype=np.float32) * factors
