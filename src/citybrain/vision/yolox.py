"""YOLOX (Megvii) exports: ``[B, N, 5 + nc]`` raw head outputs, decoded here with numpy.

Input: BGR, 0-255, letterboxed into the top-left corner with grey 114. For strides 8, 16 and 32,
each of the ``N`` rows is one grid cell: centre ``(p_xy + cell) * stride``, size
``exp(p_wh) * stride``, score ``objectness * class probability``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from citybrain.core.detections import COCO_LABELS, Detections, FloatArray
from citybrain.core.frame import Image
from citybrain.errors import ModelError
from citybrain.vision.boxes import Letterbox, LetterboxPlacement, to_detections
from citybrain.vision.detector import DetectorSpec, register_family
from citybrain.vision.onnx_detector import Feeds, OnnxDetector

__all__ = ["YoloxDetector", "yolox_grid"]

STRIDES = (8, 16, 32)


@lru_cache(maxsize=8)
def yolox_grid(size: int, strides: tuple[int, ...] = STRIDES) -> tuple[FloatArray, FloatArray]:
    """Cell offsets ``(N, 2)`` and strides ``(N, 1)`` for a square input, computed once per size."""
    cells, scales = [], []
    for stride in strides:
        side = size // stride
        ys, xs = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
        cells.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        scales.append(np.full((side * side, 1), stride))
    grid = np.concatenate(cells).astype(np.float32)
    stride_column = np.concatenate(scales).astype(np.float32)
    grid.setflags(write=False)
    stride_column.setflags(write=False)
    return grid, stride_column


@register_family("yolox")
class YoloxDetector(OnnxDetector[list[LetterboxPlacement]]):
    """A YOLOX model (nano, tiny, s, ...) on ONNX Runtime, batched across images."""

    default_input_size = 416

    def __init__(self, spec: DetectorSpec) -> None:
        super().__init__(spec)
        self._letterbox = Letterbox(self.input_size)
        self._grid, self._strides = yolox_grid(self.input_size)
        self._labels = _labels_for(self._session.get_outputs()[0].shape, spec)

    @property
    def labels(self) -> tuple[str, ...]:
        return self._labels

    def _prepare(self, images: Sequence[Image]) -> tuple[Feeds, list[LetterboxPlacement]]:
        tensor, placements = self._letterbox(images)
        return {self._session.get_inputs()[0].name: tensor}, placements

    def _decode(self, outputs: list[Any], context: list[LetterboxPlacement]) -> list[Detections]:
        raw = np.asarray(outputs[0], dtype=np.float32)
        if raw.ndim != 3 or raw.shape[1] != len(self._grid):
            raise ModelError(
                f"{self.spec.path}: output shape {raw.shape} does not fit a YOLOX head with "
                f"{len(self._grid)} cells for input {self.input_size}"
            )
        centres = (raw[..., 0:2] + self._grid) * self._strides
        sizes = np.exp(raw[..., 2:4]) * self._strides
        boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=-1)
        class_scores = raw[..., 5:] * raw[..., 4:5]
        class_ids = class_scores.argmax(axis=-1)
        scores = np.take_along_axis(class_scores, class_ids[..., None], axis=-1)[..., 0]
        results = []
        for i, placement in enumerate(context):
            # Cheap pre-filter before mapping boxes back: most cells are background.
            mask = scores[i] >= self.spec.confidence
            results.append(
                to_detections(
                    placement.to_original(boxes[i][mask]),
                    scores[i][mask],
                    class_ids[i][mask].astype(np.int64),
                    confidence=self.spec.confidence,
                    iou_threshold=self.spec.nms_iou,
                )
            )
        return results


def _labels_for(output_shape: Sequence[object], spec: DetectorSpec) -> tuple[str, ...]:
    classes = output_shape[-1]
    if isinstance(classes, int) and classes - 5 != len(COCO_LABELS):
        raise ModelError(
            f"{spec.path}: YOLOX output has {classes - 5} classes; only COCO-80 models are "
            "supported"
        )
    return COCO_LABELS
