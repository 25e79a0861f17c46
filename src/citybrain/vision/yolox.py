"""YOLOX (Megvii) exports: ``[B, N, 5 + nc]`` raw head outputs, decoded here with numpy.

Input: BGR, 0-255, letterboxed into the top-left corner with grey 114. For strides 8, 16 and 32,
each of the ``N`` rows is one grid cell: centre ``(p_xy + cell) * stride``, size
``exp(p_wh) * stride``, score ``objectness * class probability``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class _Batch:
    """The input height and width of one call, and where each image went in it."""

    size: tuple[int, int]
    placements: list[LetterboxPlacement]


#: Input sizes whose grids are kept: crops of motion regions come in many sizes (whole strides
#: up to the frame's), and recomputing a grid cost more than a small crop's inference.
GRID_CACHE = 256


@lru_cache(maxsize=GRID_CACHE)
def yolox_grid(
    height: int, width: int | None = None, strides: tuple[int, ...] = STRIDES
) -> tuple[FloatArray, FloatArray]:
    """Cell offsets ``(N, 2)`` and strides ``(N, 1)`` for an input size, computed once per size."""
    width = height if width is None else width
    cells, scales = [], []
    for stride in strides:
        rows, columns = height // stride, width // stride
        ys, xs = np.meshgrid(np.arange(rows), np.arange(columns), indexing="ij")
        cells.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        scales.append(np.full((rows * columns, 1), stride))
    grid = np.concatenate(cells).astype(np.float32)
    stride_column = np.concatenate(scales).astype(np.float32)
    grid.setflags(write=False)
    stride_column.setflags(write=False)
    return grid, stride_column


@register_family("yolox")
class YoloxDetector(OnnxDetector["_Batch"]):
    """A YOLOX model (nano, tiny, s, ...) on ONNX Runtime, batched across images."""

    default_input_size = 416
    try_dynamic_size = True

    def __init__(self, spec: DetectorSpec) -> None:
        super().__init__(spec)
        # YOLOX is fully convolutional: with a free input size, a 16:9 frame is fed as 416x256
        # instead of 416x416 — the same scale, 40% less work.
        stride = max(STRIDES) if self.rectangular else None
        self._letterbox = Letterbox(self.input_size, stride=stride)
        self._labels = _labels_for(self._session.get_outputs()[0].shape, spec)

    @property
    def labels(self) -> tuple[str, ...]:
        return self._labels

    def frame_scale(self, height: int, width: int) -> float | None:
        return self._letterbox.fit_ratio(height, width) if self.rectangular else None

    def _prepare(
        self, images: Sequence[Image], scales: Sequence[float | None]
    ) -> tuple[Feeds, _Batch]:
        tensor, placements = self._letterbox(images, scales)
        size = (int(tensor.shape[2]), int(tensor.shape[3]))
        return {self._session.get_inputs()[0].name: tensor}, _Batch(size, placements)

    def _decode(self, outputs: list[Any], context: _Batch) -> list[Detections]:
        raw = np.asarray(outputs[0], dtype=np.float32)
        grid, strides = yolox_grid(*context.size)
        if raw.ndim != 3 or raw.shape[1] != len(grid):
            raise ModelError(
                f"{self.spec.path}: output shape {raw.shape} does not fit a YOLOX head with "
                f"{len(grid)} cells for input {context.size}"
            )
        results = []
        for i, placement in enumerate(context.placements):
            # A score is objectness times a class probability, so cells whose objectness is
            # below the threshold cannot pass it: most cells are background, skip them first.
            rows = np.flatnonzero(raw[i, :, 4] >= self.spec.confidence)
            cells = raw[i, rows]
            centres = (cells[:, 0:2] + grid[rows]) * strides[rows]
            sizes = np.exp(cells[:, 2:4]) * strides[rows]
            boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=-1)
            class_scores = cells[:, 5:] * cells[:, 4:5]
            class_ids = class_scores.argmax(axis=-1)
            scores = np.take_along_axis(class_scores, class_ids[:, None], axis=-1)[:, 0]
            mask = scores >= self.spec.confidence
            results.append(
                to_detections(
                    placement.to_original(boxes[mask]),
                    scores[mask],
                    class_ids[mask].astype(np.int64),
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
