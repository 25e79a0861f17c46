"""The object-detector interface, its configuration, and the registry of model families.

A user's config names a family and a model file; :func:`build_detector` turns that into a
:class:`Detector`. Built-in families:

- ``"yolox"``: YOLOX exports (``[B, N, 5 + nc]``, undecoded; BGR 0-255, top-left letterbox).
- ``"yolov8"``: YOLOv8 / YOLO11 style exports (``[B, 4 + nc, N]``; RGB 0-1, centred letterbox).
- ``"picodet"``: PP-PicoDet exports with NMS inside the graph (RGB, normalised, plain resize).

Example:
    >>> spec = DetectorSpec(family="yolox", path=Path("models/yolox_nano.onnx"))
    >>> detector = build_detector(spec)  # doctest: +SKIP
    >>> [dets] = detector.detect([frame.image])  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from citybrain.core.detections import Detections
from citybrain.core.frame import Image
from citybrain.errors import ConfigError
from citybrain.vision.onnx_runtime import SessionConfig

__all__ = [
    "Detector",
    "DetectorFactory",
    "DetectorSpec",
    "RegionDetector",
    "build_detector",
    "families",
    "register_family",
]


@runtime_checkable
class Detector(Protocol):
    """Finds objects in images.

    Attributes:
        labels: class names, indexed by the ``class_id`` the detector returns (COCO-80 for the
            built-in models).
    """

    @property
    def labels(self) -> tuple[str, ...]: ...

    def detect(self, images: Sequence[Image]) -> list[Detections]:
        """Objects in each image, boxes in that image's pixels, thresholded and NMS-filtered.

        Args:
            images: ``(H, W, 3)`` uint8 BGR images, any sizes (several cameras at once).

        Returns:
            One :class:`Detections` per image, in order.
        """
        ...


@runtime_checkable
class RegionDetector(Detector, Protocol):
    """A :class:`Detector` that can also look at a crop of a frame at the whole frame's scale
    (a fully convolutional network with free input sizes), so that a crop costs less than the
    frame in proportion to its area and objects in it look exactly as big to the network."""

    def frame_scale(self, height: int, width: int) -> float | None:
        """Network pixels per image pixel for a whole ``height`` x ``width`` frame; ``None``
        when this network takes fixed-size inputs only (then no scales may be given)."""
        ...

    def detect(
        self, images: Sequence[Image], scales: Sequence[float | None] | None = None
    ) -> list[Detections]:
        """As :meth:`Detector.detect`; ``scales`` gives, per image, the scale to feed it at
        (``None``: fit it to the network input)."""
        ...


@dataclass(frozen=True, slots=True)
class DetectorSpec:
    """Which detector to build.

    Attributes:
        family: the model family, a key of :func:`families` (``"yolox"``, ``"yolov8"``, ...).
        path: the ``.onnx`` file.
        input_size: the square network input side, a multiple of 32; ``None`` reads it from the
            model (or uses the family's default when the model's input size is dynamic).
        confidence: minimum score of a reported object, in ``[0, 1]``.
        nms_iou: boxes of one class overlapping more than this (in ``(0, 1]``) are merged into
            the best one.
        threads: ONNX Runtime intra-op threads; ``None`` follows ``OMP_NUM_THREADS``.
        providers: ONNX Runtime execution providers, in order; ``None`` picks the best available.
    """

    family: str
    path: Path
    input_size: int | None = None
    confidence: float = 0.3
    nms_iou: float = 0.45
    threads: int | None = None
    providers: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        # input_size, confidence and nms_iou come from a camera's config, whose
        # DetectorSection holds their ranges (one place, so that the two cannot disagree).
        object.__setattr__(self, "path", Path(self.path))
        if self.threads is not None and self.threads <= 0:
            raise ConfigError(f"detector threads {self.threads} must be positive")

    @property
    def session(self) -> SessionConfig:
        """The ONNX Runtime settings this spec asks for."""
        return SessionConfig(threads=self.threads, providers=self.providers)


DetectorFactory = Callable[[DetectorSpec], Detector]

_FACTORIES: dict[str, DetectorFactory] = {}
# Built-in families are imported on first use, so that importing this module stays cheap.
_BUILTIN_MODULES = {
    "yolox": "citybrain.vision.yolox",
    "yolov8": "citybrain.vision.yolov8",
    "picodet": "citybrain.vision.picodet",
}


def register_family(name: str) -> Callable[[DetectorFactory], DetectorFactory]:
    """Class or function decorator that makes ``name`` buildable by :func:`build_detector`."""

    def decorate(factory: DetectorFactory) -> DetectorFactory:
        _FACTORIES[name] = factory
        return factory

    return decorate


def families() -> tuple[str, ...]:
    """Names of every family :func:`build_detector` accepts."""
    return tuple(sorted({*_BUILTIN_MODULES, *_FACTORIES}))


def build_detector(spec: DetectorSpec) -> Detector:
    """The detector ``spec`` describes.

    Raises:
        ConfigError: the family is unknown.
        ModelError: the model file is missing, unreadable, or does not fit the family.
    """
    if spec.family not in _FACTORIES and spec.family in _BUILTIN_MODULES:
        importlib.import_module(_BUILTIN_MODULES[spec.family])
    factory = _FACTORIES.get(spec.family)
    if factory is None:
        raise ConfigError(
            f"unknown detector family {spec.family!r}: use one of {', '.join(families())}"
        )
    return factory(spec)
