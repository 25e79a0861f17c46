"""Irreversible blurring of faces, heads and licence plates in every frame that leaves the engine.

Three sources of regions, so that one miss is covered by another:

- faces that CenterFace finds (low threshold, boxes enlarged);
- the head band (top of the box) of every ``person`` detection;
- the plate band (bottom of the box) of every vehicle detection.

Each region is a rectangle, pixelated to a few coarse blocks (block averages: the detail is gone
for good; a plain Gaussian alone could be partly inverted), then blurred across blocks and
upsampled smoothly (no block edges left to read). Rectangles rather than ellipses: measured on the
development face clip, a blurred ellipse keeps the head's silhouette, in which CenterFace still
finds a "face" with score 0.3-0.6. With 4 blocks over a 1.8x face box the best such score is
0.05 (3-4 blocks, 1.8-2x: at most 0.07; 5-6 blocks or 1.6x: up to 0.2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from citybrain.core.detections import Detections, FloatArray, label_ids
from citybrain.core.frame import Image
from citybrain.vision.centerface import CenterFace

__all__ = ["Anonymiser", "AnonymiserConfig"]

IntBoxes = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class AnonymiserConfig:
    """What the anonymiser blurs, and how hard.

    Attributes:
        faces: blur the faces the face detector finds.
        heads: blur the head band of every person detection.
        plates: blur the plate band of every vehicle detection.
        face_threshold: minimum face score; low, because a missed face is worse than a blurred
            patch of wall.
        face_input_size: long side, in pixels, the face detector sees.
        face_scale: face boxes are enlarged by this factor about their centre (hair, ears,
            chin: the silhouette a detector or a person recognises a head by).
        face_threads: ONNX Runtime threads of the face detector.
        head_fraction: the top fraction of a person box that is blurred.
        plate_fraction: the bottom fraction of a vehicle box that is blurred.
        blocks: a region is pixelated to this many blocks along its longer side.
        min_block: the smallest block, in pixels.
        person_labels: class names treated as people (COCO names).
        vehicle_labels: class names treated as vehicles with plates (COCO names).
    """

    faces: bool = True
    heads: bool = True
    plates: bool = True
    face_threshold: float = 0.25
    face_input_size: int = 640
    face_scale: float = 1.8
    face_threads: int = 1
    head_fraction: float = 0.22
    plate_fraction: float = 0.4
    blocks: int = 4
    min_block: int = 4
    person_labels: tuple[str, ...] = ("person",)
    vehicle_labels: tuple[str, ...] = ("car", "truck", "bus", "motorcycle")

    def __post_init__(self) -> None:
        # face_threshold comes from a camera's config, whose AnonymiseSection holds its range.
        for name in ("head_fraction", "plate_fraction"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"AnonymiserConfig.{name} must be in (0, 1], got {value}")
        if self.face_scale < 1:
            raise ValueError(f"AnonymiserConfig.face_scale must be >= 1, got {self.face_scale}")
        if self.blocks < 1 or self.min_block < 1:
            raise ValueError("AnonymiserConfig.blocks and min_block must be at least 1")


class Anonymiser:
    """Blurs faces, heads and plates; the only way a frame leaves the engine.

    Args:
        config: what to blur.
        face_detector: a ready detector; built from ``config`` (and the model found by
            :func:`citybrain.vision.centerface.find_model`) when omitted and faces are on.

    Raises:
        ModelError: faces are on and the face model cannot be found or loaded.

    Example:
        >>> safe = Anonymiser().apply(frame.image, detections)  # doctest: +SKIP
    """

    def __init__(
        self, config: AnonymiserConfig | None = None, face_detector: CenterFace | None = None
    ) -> None:
        self.config = config or AnonymiserConfig()
        cfg = self.config
        if cfg.faces and face_detector is None:
            face_detector = CenterFace(
                input_size=cfg.face_input_size,
                threshold=cfg.face_threshold,
                threads=cfg.face_threads,
            )
        self._faces = face_detector if cfg.faces else None
        self._person_ids = label_ids(cfg.person_labels)
        self._vehicle_ids = label_ids(cfg.vehicle_labels)

    def apply(self, image: Image, detections: Detections) -> Image:
        """A new image with every face, head and plate region irreversibly blurred.

        Args:
            image: ``(H, W, 3)`` uint8 BGR pixels; left unchanged.
            detections: the objects found in ``image`` (COCO class ids).

        Returns:
            A copy of ``image`` in which the regions are pixelated and blurred.
        """
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
        height, width = image.shape[:2]
        out = image.copy()
        for box in _clip(self.regions(image, detections), width, height):
            _obscure(out, box, self.config)
        return out

    def regions(self, image: Image, detections: Detections) -> FloatArray:
        """The ``(K, 4)`` boxes :meth:`apply` blurs, in pixels, not yet clipped to the image."""
        cfg = self.config
        parts = [np.zeros((0, 4), dtype=np.float32)]
        if self._faces is not None:
            boxes, _ = self._faces.detect(image, cfg.face_threshold)
            parts.append(_scale_about_centre(boxes, cfg.face_scale))
        if cfg.heads:
            people = detections.xyxy[np.isin(detections.class_id, self._person_ids)]
            parts.append(_band(people, cfg.head_fraction, top=True))
        if cfg.plates:
            vehicles = detections.xyxy[np.isin(detections.class_id, self._vehicle_ids)]
            parts.append(_band(vehicles, cfg.plate_fraction, top=False))
        return np.concatenate(parts).astype(np.float32)


def _scale_about_centre(boxes: FloatArray, factor: float) -> FloatArray:
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * (factor / 2)
    return np.concatenate([centre - half, centre + half], axis=1).astype(np.float32)


def _band(boxes: FloatArray, fraction: float, *, top: bool) -> FloatArray:
    """The top (or bottom) ``fraction`` of each box's height, full width."""
    band = boxes.copy()
    height = boxes[:, 3] - boxes[:, 1]
    if top:
        band[:, 3] = boxes[:, 1] + height * fraction
    else:
        band[:, 1] = boxes[:, 3] - height * fraction
    return band


def _clip(boxes: FloatArray, width: int, height: int) -> IntBoxes:
    """Integer pixel boxes that cover ``boxes`` (rounded outwards), inside the image, non-empty."""
    lo = np.floor(boxes[:, :2])
    hi = np.ceil(boxes[:, 2:])
    limits = np.array([width, height], dtype=np.float32)
    lo = np.clip(lo, 0, limits)
    hi = np.clip(hi, 0, limits)
    keep = np.all(hi - lo >= 1, axis=1)
    return np.concatenate([lo, hi], axis=1)[keep].astype(np.int32)


def _obscure(out: Image, box: IntBoxes, cfg: AnonymiserConfig) -> None:
    """Pixelates, then blurs, ``out`` inside ``box`` in place."""
    x1, y1, x2, y2 = (int(v) for v in box)
    roi = out[y1:y2, x1:x2]
    h, w = roi.shape[:2]
    block = max(cfg.min_block, math.ceil(max(h, w) / cfg.blocks))
    blocks = cv2.resize(
        roi, (max(1, round(w / block)), max(1, round(h / block))), interpolation=cv2.INTER_AREA
    )
    # Blurring at block scale, then upsampling smoothly, approximates a Gaussian a block wide on
    # the pixelated region, at a cost that does not grow with the kernel.
    blocks = cv2.GaussianBlur(blocks, (3, 3), 0, borderType=cv2.BORDER_REPLICATE)
    roi[...] = cv2.resize(blocks, (w, h), interpolation=cv2.INTER_LINEAR)
