"""What the ONNX detector families share: loading, batch-or-loop, input-size checks."""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

import numpy as np
import onnxruntime as ort

from citybrain.core.detections import Detections
from citybrain.core.frame import Image
from citybrain.errors import ModelError
from citybrain.vision.detector import DetectorSpec
from citybrain.vision.onnx_runtime import load_model

__all__ = ["OnnxDetector"]

Context = TypeVar("Context")
Feeds = dict[str, Any]


class OnnxDetector(ABC, Generic[Context]):
    """A detector backed by one ONNX Runtime session.

    Subclasses turn images into input tensors (:meth:`_prepare`) and raw outputs into detections
    (:meth:`_decode`). Where the session takes a batch, :meth:`detect` makes one call for all
    images (on the CPU with several threads: one call per lane, the lanes side by side);
    otherwise it calls once per image.
    """

    #: Whether to try the dynamic-batch rewrite on load.
    try_batching: bool = True
    #: Whether to also free the input's height and width (inputs shaped like the frames).
    try_dynamic_size: bool = False
    #: Input side used when neither the spec nor the model fixes one.
    default_input_size: int = 640

    def __init__(self, spec: DetectorSpec) -> None:
        self.spec = spec
        loaded = load_model(
            spec.path,
            spec.session,
            dynamic_batch=self.try_batching,
            dynamic_size=self.try_dynamic_size,
            lanes=True,
        )
        self._session, self.batched, self._lanes = loaded.session, loaded.batched, loaded.lanes
        self._pool = (
            ThreadPoolExecutor(len(self._lanes), thread_name_prefix="detector-lane")
            if self._lanes
            else None
        )
        self.input_size = self._resolve_input_size()
        height, width = self._session.get_inputs()[0].shape[2:4]
        #: Whether inputs may take the frames' aspect ratio instead of a fixed square.
        self.rectangular = not isinstance(height, int) and not isinstance(width, int)

    @property
    @abstractmethod
    def labels(self) -> tuple[str, ...]:
        """Class names indexed by class id."""

    @property
    def lanes(self) -> int:
        """Single-threaded sessions the parts of a batch run on side by side (0: none)."""
        return len(self._lanes)

    @property
    def providers(self) -> list[str]:
        """The execution providers the session actually uses."""
        return list(self._session.get_providers())

    def frame_scale(self, height: int, width: int) -> float | None:
        """Network pixels per image pixel at which a whole ``height`` x ``width`` frame is fed,
        where the network also takes other input sizes (so that a crop of the frame can be fed
        at that same scale); ``None`` for fixed-size networks."""
        return None

    def detect(
        self, images: Sequence[Image], scales: Sequence[float | None] | None = None
    ) -> list[Detections]:
        """Objects in each image; see :class:`citybrain.vision.detector.Detector`.

        Args:
            images: ``(H, W, 3)`` uint8 BGR images.
            scales: per image, the scale to feed it at (see :meth:`frame_scale`); ``None``
                fits it to the input size.
        """
        for image in images:
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(
                    f"detector images must be (H, W, 3) uint8 BGR, got {image.shape} {image.dtype}"
                )
        given = list(scales) if scales is not None else [None] * len(images)
        if len(given) != len(images):
            raise ValueError(f"{len(given)} scales for {len(images)} images")
        if not images:
            return []
        if any(s is not None for s in given) and self.frame_scale(*images[0].shape[:2]) is None:
            raise ValueError(f"{self.spec.path.name} takes fixed-size inputs, not given scales")
        if not self.batched:
            return [
                dets
                for image, scale in zip(images, given, strict=True)
                for dets in self._run([image], [scale], self._session)
            ]
        if self._pool is None or len(images) == 1:
            return self._run(images, given, self._session)
        # On the CPU, the parts of a batch run side by side, one single-threaded lane each.
        parts = min(len(images), len(self._lanes))
        bounds = np.linspace(0, len(images), parts + 1).astype(int).tolist()
        pairs = list(itertools.pairwise(bounds))
        results = self._pool.map(
            self._run,
            [images[a:b] for a, b in pairs],
            [given[a:b] for a, b in pairs],
            self._lanes[:parts],
        )
        return [dets for chunk in results for dets in chunk]

    def _run(
        self,
        images: Sequence[Image],
        scales: Sequence[float | None],
        session: ort.InferenceSession,
    ) -> list[Detections]:
        feeds, context = self._prepare(images, scales)
        outputs: list[Any] = session.run(None, feeds)
        return self._decode(outputs, context)

    @abstractmethod
    def _prepare(
        self, images: Sequence[Image], scales: Sequence[float | None]
    ) -> tuple[Feeds, Context]:
        """Input tensors for ``images`` and what decoding needs to know about them.

        ``scales`` holds a scale per image only where :meth:`frame_scale` allows it.
        """

    @abstractmethod
    def _decode(self, outputs: list[Any], context: Context) -> list[Detections]:
        """One :class:`Detections` per image from the session's outputs."""

    def _resolve_input_size(self) -> int:
        shape = self._session.get_inputs()[0].shape
        height, width = shape[2], shape[3]
        static = height if isinstance(height, int) and height > 0 else None
        if static is not None and width != height:
            raise ModelError(f"{self.spec.path}: input {width}x{height} is not square")
        requested = self.spec.input_size
        if static is not None and requested is not None and requested != static:
            raise ModelError(
                f"{self.spec.path} takes {static}x{static} inputs, "
                f"but the detector config asks for input_size {requested}"
            )
        return static or requested or self.default_input_size
