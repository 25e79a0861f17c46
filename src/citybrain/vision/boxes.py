"""Pre- and post-processing shared by the detector families: letterbox, per-class NMS."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from citybrain.core.detections import Detections, FloatArray, IntArray
from citybrain.core.frame import Image

__all__ = ["Letterbox", "LetterboxPlacement", "nms_per_class", "to_detections"]

_PAD_VALUE = 114.0


@dataclass(frozen=True, slots=True)
class LetterboxPlacement:
    """Where one original image went in the network input: ``input = original * ratio + offset``."""

    ratio: float
    offset_x: float
    offset_y: float
    width: int
    height: int

    def to_original(self, xyxy: FloatArray) -> FloatArray:
        """Boxes in network-input pixels, mapped back and clipped to the original image."""
        out = np.empty_like(xyxy)
        out[:, 0::2] = (xyxy[:, 0::2] - self.offset_x) / self.ratio
        out[:, 1::2] = (xyxy[:, 1::2] - self.offset_y) / self.ratio
        np.clip(out[:, 0::2], 0, self.width, out=out[:, 0::2])
        np.clip(out[:, 1::2], 0, self.height, out=out[:, 1::2])
        return out


@dataclass(frozen=True, slots=True)
class Letterbox:
    """Resize keeping the aspect ratio, pad with grey 114, stack as an ``NCHW`` float32 batch.

    Attributes:
        size: the square network input side in pixels.
        center: pad equally on both sides (Ultralytics) rather than only right and bottom (YOLOX).
        rgb: swap BGR frames to RGB.
        scale: multiply pixel values by this (``1/255`` for networks trained on ``0..1``).
    """

    size: int
    center: bool = False
    rgb: bool = False
    scale: float = 1.0
    stride: int | None = None

    def __call__(
        self, images: Sequence[Image], scales: Sequence[float | None] | None = None
    ) -> tuple[FloatArray, list[LetterboxPlacement]]:
        """The network input for ``images`` and where each image went.

        Args:
            images: BGR images.
            scales: per image, network pixels per image pixel; ``None`` (for all or for one
                image) fits the image to ``size``. A given scale needs ``stride`` (free-size
                inputs): a crop of a frame then keeps the scale the whole frame is fed at.
        """
        ratios = [
            self._ratio(image, s)
            for image, s in zip(images, scales or [None] * len(images), strict=True)
        ]
        height, width = self._canvas(images, ratios)
        canvas = np.full((len(images), height, width, 3), _PAD_VALUE, dtype=np.uint8)
        placements = [
            self._place(image, ratio, canvas[i])
            for i, (image, ratio) in enumerate(zip(images, ratios, strict=True))
        ]
        batch = canvas[..., ::-1] if self.rgb else canvas
        # One vectorised transpose and cast for the whole batch.
        tensor = np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)
        if self.scale != 1.0:
            tensor *= np.float32(self.scale)
        return tensor, placements

    def fit_ratio(self, height: int, width: int) -> float:
        """The scale at which a whole ``height`` x ``width`` image is fed."""
        return min(self.size / height, self.size / width)

    def canvas_size(self, images: Sequence[Image]) -> tuple[int, int]:
        """Input height and width: the square ``size``, or with ``stride`` the smallest multiple
        of it that holds every image scaled to a long side of ``size`` (rectangular inference).
        """
        return self._canvas(images, [self._ratio(image, None) for image in images])

    def _ratio(self, image: Image, scale: float | None) -> float:
        if scale is None:
            return self.fit_ratio(*image.shape[:2])
        if self.stride is None:
            raise ValueError("a letterbox of fixed size cannot feed an image at a given scale")
        if not 0 < scale <= self.fit_ratio(*image.shape[:2]):
            raise ValueError(f"scale {scale} would not fit the image into {self.size} pixels")
        return scale

    def _canvas(self, images: Sequence[Image], ratios: Sequence[float]) -> tuple[int, int]:
        if self.stride is None:
            return self.size, self.size
        stride = self.stride
        sizes = [_scaled(image, ratio) for image, ratio in zip(images, ratios, strict=True)]
        heights, widths = zip(*sizes, strict=True)
        return -(-max(heights) // stride) * stride, -(-max(widths) // stride) * stride

    def _place(self, image: Image, ratio: float, canvas: Image) -> LetterboxPlacement:
        height, width = image.shape[:2]
        new_h, new_w = _scaled(image, ratio)
        left = (canvas.shape[1] - new_w) // 2 if self.center else 0
        top = (canvas.shape[0] - new_h) // 2 if self.center else 0
        resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        canvas[top : top + new_h, left : left + new_w] = resized
        return LetterboxPlacement(ratio, float(left), float(top), width, height)


def _scaled(image: Image, ratio: float) -> tuple[int, int]:
    """Height and width of ``image`` at ``ratio`` (at least one pixel each)."""
    height, width = image.shape[:2]
    return max(1, round(height * ratio)), max(1, round(width * ratio))


def nms_per_class(
    xyxy: FloatArray, scores: FloatArray, class_ids: IntArray, iou_threshold: float
) -> IntArray:
    """Indices of the boxes greedy NMS keeps, classes suppressed independently, best first.

    Boxes of different classes are moved apart by more than the span of all coordinates, so one
    pass over all boxes suppresses only within a class.
    """
    if len(xyxy) == 0:
        return np.zeros(0, dtype=np.int64)
    span = float(xyxy.max() - xyxy.min()) + 1.0
    offset = class_ids.astype(np.float32)[:, None] * np.float32(span)
    boxes = xyxy + offset
    areas = (boxes[:, 2] - boxes[:, 0]).clip(0) * (boxes[:, 3] - boxes[:, 1]).clip(0)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        x1 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y1 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x2 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y2 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = (x2 - x1).clip(0) * (y2 - y1).clip(0)
        iou = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-9)
        order = rest[iou <= iou_threshold]
    return np.array(keep, dtype=np.int64)


def to_detections(
    xyxy: FloatArray,
    scores: FloatArray,
    class_ids: IntArray,
    *,
    confidence: float,
    iou_threshold: float,
) -> Detections:
    """Threshold, run per-class NMS and pack one image's candidates."""
    mask = scores >= confidence
    xyxy, scores, class_ids = xyxy[mask], scores[mask], class_ids[mask]
    keep = nms_per_class(xyxy, scores, class_ids, iou_threshold)
    return Detections(xyxy=xyxy[keep], confidence=scores[keep], class_id=class_ids[keep])
