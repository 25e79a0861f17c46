"""YOLOv8 decoding and the dynamic-batch rewrite, on tiny ONNX graphs run by ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from citybrain.core.detections import COCO_LABELS
from citybrain.errors import ModelError
from citybrain.vision.detector import DetectorSpec, build_detector
from citybrain.vision.onnx_runtime import SessionConfig, load_session

SIZE = 64
BOXES = 5


def known_head(classes: int = 80) -> np.ndarray:
    """A ``[1, 4 + classes, BOXES]`` head output with boxes in 64x64 network-input pixels."""
    head = np.zeros((1, 4 + classes, BOXES), dtype=np.float32)
    columns = [
        # cx, cy, w, h, class, score
        (32, 32, 20, 10, 2, 0.9),  # a car
        (33, 32, 20, 10, 2, 0.8),  # the same car again: NMS removes it
        (32, 32, 20, 10, 7, 0.7),  # same place, class "truck": per-class NMS keeps it
        (10, 40, 8, 8, 0, 0.2),  # below the confidence threshold
    ]  # the fifth column stays all zero
    for i, (cx, cy, w, h, cls, score) in enumerate(columns):
        head[0, :4, i] = (cx, cy, w, h)
        head[0, 4 + cls % classes, i] = score
    return head


def head_model(head: np.ndarray, names: str | None = None) -> onnx.ModelProto:
    """Outputs ``head`` for any image, through a ``Reshape`` that pins the batch to 1."""
    channels = head.shape[1]
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),  # [B, 1, 1]
        helper.make_node("Add", ["nothing", "head"], ["sum"]),  # [B, C, N]
        helper.make_node("Reshape", ["sum", "shape"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "yolov8_head",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, channels, BOXES])],
        initializer=[
            numpy_helper.from_array(np.zeros(1, dtype=np.float32), "zero"),
            numpy_helper.from_array(head, "head"),
            numpy_helper.from_array(np.array([1, channels, -1], dtype=np.int64), "shape"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    if names is not None:
        helper.set_model_props(model, {"names": names})
    onnx.checker.check_model(model)
    return model


def save(model: onnx.ModelProto, tmp_path: Path, name: str = "head.onnx") -> Path:
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def test_decodes_known_head_into_original_pixels(tmp_path: Path) -> None:
    path = save(head_model(known_head()), tmp_path)
    detector = build_detector(DetectorSpec("yolov8", path, threads=1))
    assert detector.labels == COCO_LABELS
    # 128x64: scaled by 0.5 to 64x32, centred with 16 rows of padding above and below.
    wide = np.zeros((64, 128, 3), dtype=np.uint8)
    # 32x64: scaled by 1 into a 32-column strip centred with 16 columns of padding left.
    tall = np.zeros((64, 32, 3), dtype=np.uint8)
    wide_dets, tall_dets = detector.detect([wide, tall])
    assert getattr(detector, "batched", False), "the Reshape [1, C, -1] was freed for batches"
    assert wide_dets.class_id.tolist() == [2, 7]
    np.testing.assert_allclose(wide_dets.confidence, [0.9, 0.7], rtol=1e-6)
    # Input box (22, 27, 42, 37) -> ((22 - 0) / 0.5, (27 - 16) / 0.5, ...).
    np.testing.assert_allclose(wide_dets.xyxy, [[44, 22, 84, 42]] * 2, atol=1e-4)
    # Input box (22, 27, 42, 37) -> x - 16, clipped to the 32-pixel-wide image.
    np.testing.assert_allclose(tall_dets.xyxy[0], [6, 27, 26, 37], atol=1e-4)


def test_threshold_and_iou_come_from_the_spec(tmp_path: Path) -> None:
    path = save(head_model(known_head()), tmp_path)
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    loose = build_detector(DetectorSpec("yolov8", path, confidence=0.1, nms_iou=0.95))
    (detections,) = loose.detect([image])
    assert sorted(detections.class_id.tolist()) == [0, 2, 2, 7]


def test_class_names_from_metadata_or_refused(tmp_path: Path) -> None:
    named = save(head_model(known_head(2), names="{0: 'helmet', 1: 'head'}"), tmp_path, "a.onnx")
    assert build_detector(DetectorSpec("yolov8", named)).labels == ("helmet", "head")
    unnamed = save(head_model(known_head(3)), tmp_path, "b.onnx")
    with pytest.raises(ModelError, match="no 'names' metadata"):
        build_detector(DetectorSpec("yolov8", unnamed))


def test_an_export_with_a_dynamic_batch_is_used_as_it_is(tmp_path: Path) -> None:
    model = head_model(known_head())
    for value in (model.graph.input[0], model.graph.output[0]):
        value.type.tensor_type.shape.dim[0].dim_param = "N"
    shape = next(init for init in model.graph.initializer if init.name == "shape")
    shape.CopyFrom(numpy_helper.from_array(np.array([0, 84, -1], dtype=np.int64), "shape"))
    detector = build_detector(DetectorSpec("yolov8", save(model, tmp_path)))
    assert getattr(detector, "batched", False)
    square = np.zeros((64, 64, 3), dtype=np.uint8)
    first, second = detector.detect([square, square])
    assert first.class_id.tolist() == second.class_id.tolist() == [2, 7]


def test_batch_rewrite_falls_back_when_rows_interact(tmp_path: Path) -> None:
    """A graph that sums over the batch cannot be batched: it must run one image per call."""
    nodes = [helper.make_node("ReduceSum", ["images", "axes"], ["output"], keepdims=1)]
    graph = helper.make_graph(
        nodes,
        "mixes_rows",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, 1, 1])],
        initializer=[numpy_helper.from_array(np.array([0, 1, 2, 3], dtype=np.int64), "axes")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = save(model, tmp_path)
    session, batched = load_session(path, SessionConfig(threads=1), dynamic_batch=True)
    assert not batched
    assert session.get_inputs()[0].shape[0] == 1
