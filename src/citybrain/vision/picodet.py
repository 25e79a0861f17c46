"""PP-PicoDet exports (PaddleDetection) with post-processing inside the graph.

Inputs: ``image`` (RGB, plain resize to the square input, ``(x / 255 - mean) / std``) and
``scale_factor`` ``[[size / h, size / w]]``. Output rows ``class, score, x1, y1, x2, y2`` already
in original-image pixels, NMS applied. The export's ``scale_factor`` has a static batch of 1, so
this family runs one image per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from citybrain.core.detections import COCO_LABELS, Detections
from citybrain.core.frame import Image
from citybrain.errors import ModelError
from citybrain.vision.boxes import to_detections
from citybrain.vision.detector import DetectorSpec, register_family
from citybrain.vision.onnx_detector import Feeds, OnnxDetector

__all__ = ["PicodetDetector"]

_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32) * 255
_INV_STD = 1 / (np.array([0.229, 0.224, 0.225], dtype=np.float32) * 255)
_ROW_WIDTH = 6


@register_family("picodet")
class PicodetDetector(OnnxDetector[list[tuple[int, int]]]):
    """A post-processed PP-PicoDet model on ONNX Runtime, one image per call."""

    try_batching = False
    default_input_size = 320

    def __init__(self, spec: DetectorSpec) -> None:
        super().__init__(spec)
        self.batched = False  # scale_factor has a static batch of 1
        names = {i.name for i in self._session.get_inputs()}
        if names != {"image", "scale_factor"}:
            raise ModelError(
                f"{spec.path}: inputs {sorted(names)} are not PicoDet's 'image' and 'scale_factor'"
            )

    @property
    def labels(self) -> tuple[str, ...]:
        return COCO_LABELS

    def _prepare(
        self, images: Sequence[Image], scales: Sequence[float | None]
    ) -> tuple[Feeds, list[tuple[int, int]]]:
        (image,) = images
        height, width = image.shape[:2]
        size = self.input_size
        resized = cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)
        rgb = resized[..., ::-1].astype(np.float32)
        tensor = ((rgb - _MEAN) * _INV_STD).transpose(2, 0, 1)[None]
        scale = np.array([[size / height, size / width]], dtype=np.float32)
        feeds = {"image": np.ascontiguousarray(tensor), "scale_factor": scale}
        return feeds, [(height, width)]

    def _decode(self, outputs: list[Any], context: list[tuple[int, int]]) -> list[Detections]:
        rows = np.asarray(outputs[0], dtype=np.float32)
        if rows.ndim != 2 or rows.shape[1] != _ROW_WIDTH:
            raise ModelError(f"{self.spec.path}: output shape {rows.shape} is not [N, 6]")
        (height, width) = context[0]
        # Empty slots come back with class -1.
        rows = rows[(rows[:, 0] >= 0) & (rows[:, 0] < len(COCO_LABELS))]
        xyxy = rows[:, 2:6].copy()
        np.clip(xyxy[:, 0::2], 0, width, out=xyxy[:, 0::2])
        np.clip(xyxy[:, 1::2], 0, height, out=xyxy[:, 1::2])
        detections = to_detections(
            xyxy,
            rows[:, 1],
            rows[:, 0].astype(np.int64),
            confidence=self.spec.confidence,
            iou_threshold=self.spec.nms_iou,
        )
        return [detections]
