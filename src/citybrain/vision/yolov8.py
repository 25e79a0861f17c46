"""YOLOv8 / YOLO11 style exports (Ultralytics): output ``[B, 4 + nc, N]``, decoded here.

Input: RGB, ``0..1``, letterboxed into the centre with grey 114. Each of the ``N`` columns holds a
box ``cx, cy, w, h`` in network-input pixels and ``nc`` class scores (no objectness).
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Any

import numpy as np

from citybrain.core.detections import COCO_LABELS, Detections
from citybrain.core.frame import Image
from citybrain.errors import ModelError
from citybrain.vision.boxes import Letterbox, LetterboxPlacement, to_detections
from citybrain.vision.detector import DetectorSpec, register_family
from citybrain.vision.onnx_detector import Feeds, OnnxDetector

__all__ = ["Yolov8Detector"]


@register_family("yolov8")
class Yolov8Detector(OnnxDetector[list[LetterboxPlacement]]):
    """An anchor-free YOLOv8 / YOLO11 detector on ONNX Runtime, batched across images."""

    default_input_size = 640

    def __init__(self, spec: DetectorSpec) -> None:
        super().__init__(spec)
        self._letterbox = Letterbox(self.input_size, center=True, rgb=True, scale=1 / 255)
        self._labels = self._read_labels()

    @property
    def labels(self) -> tuple[str, ...]:
        return self._labels

    def _prepare(
        self, images: Sequence[Image], scales: Sequence[float | None]
    ) -> tuple[Feeds, list[LetterboxPlacement]]:
        tensor, placements = self._letterbox(images)  # fixed size: no scales (frame_scale)
        return {self._session.get_inputs()[0].name: tensor}, placements

    def _decode(self, outputs: list[Any], context: list[LetterboxPlacement]) -> list[Detections]:
        raw = np.asarray(outputs[0], dtype=np.float32)
        if raw.ndim != 3 or raw.shape[1] != 4 + len(self._labels):
            raise ModelError(
                f"{self.spec.path}: output shape {raw.shape} is not [batch, 4 + "
                f"{len(self._labels)} classes, boxes]"
            )
        rows = raw.transpose(0, 2, 1)  # [B, N, 4 + nc]
        class_ids = rows[..., 4:].argmax(axis=-1)
        scores = np.take_along_axis(rows[..., 4:], class_ids[..., None], axis=-1)[..., 0]
        results = []
        for i, placement in enumerate(context):
            mask = scores[i] >= self.spec.confidence
            cxcywh = rows[i, mask, :4]
            half = cxcywh[:, 2:4] / 2
            xyxy = np.concatenate([cxcywh[:, :2] - half, cxcywh[:, :2] + half], axis=1)
            results.append(
                to_detections(
                    placement.to_original(xyxy),
                    scores[i][mask],
                    class_ids[i][mask].astype(np.int64),
                    confidence=self.spec.confidence,
                    iou_threshold=self.spec.nms_iou,
                )
            )
        return results

    def _read_labels(self) -> tuple[str, ...]:
        """Class names from the export's ``names`` metadata, else COCO for 80 classes."""
        channels = self._session.get_outputs()[0].shape[1]
        metadata = self._session.get_modelmeta().custom_metadata_map
        if "names" in metadata:
            try:
                names = ast.literal_eval(metadata["names"])
                return tuple(str(names[i]) for i in sorted(names))
            except (ValueError, SyntaxError, TypeError, KeyError) as exc:
                raise ModelError(
                    f"{self.spec.path}: cannot read class names from metadata: {exc}"
                ) from exc
        if channels == 4 + len(COCO_LABELS):
            return COCO_LABELS
        raise ModelError(
            f"{self.spec.path}: output has {channels} channels and no 'names' metadata; "
            "expected 84 (COCO-80) or an Ultralytics export with class names"
        )
