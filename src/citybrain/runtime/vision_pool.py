"""The models of one worker process, shared by all its cameras.

Every camera of a worker that asks for the same detector (family, model, input size,
thresholds) shares one :class:`~citybrain.vision.batching.BatchingDetector`; each camera sees it
through a :class:`SharedDetector`, which raises :class:`~citybrain.pipeline.DetectorBusyError`
when the batcher's queue is full, so that the camera drops that frame instead of queueing it.
The face detector of the anonymiser and the hard-hat classifier are shared too (ONNX Runtime
sessions may be run from several threads at once).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from citybrain.config.model import CameraConfig
from citybrain.core.detections import Detections
from citybrain.core.frame import Image
from citybrain.pipeline import DetectorBusyError, Vision
from citybrain.vision.anonymise import Anonymiser, AnonymiserConfig
from citybrain.vision.batching import BatchingDetector, BatchStats
from citybrain.vision.detector import DetectorSpec, build_detector
from citybrain.vision.hardhat import HardhatClassifier

__all__ = ["BatchSettings", "SharedDetector", "VisionPool"]


@dataclass(frozen=True, slots=True)
class BatchSettings:
    """How a worker's shared detectors batch.

    Attributes:
        max_batch: most images per detector call.
        max_wait: seconds a request waits for others to join its batch.
        max_queue: requests waiting at most; a camera that finds it full drops its frame.
        threads: ONNX Runtime threads per detector; ``None`` = its default.
    """

    max_batch: int = 4
    max_wait: float = 0.005
    max_queue: int = 8
    threads: int | None = None


class SharedDetector:
    """One camera's view of a shared :class:`BatchingDetector` (a :class:`Detector`)."""

    def __init__(self, batcher: BatchingDetector) -> None:
        self._batcher = batcher

    @property
    def labels(self) -> tuple[str, ...]:
        return self._batcher.labels

    def frame_scale(self, height: int, width: int) -> float | None:
        """The shared detector's scale for a whole frame (a crop may be fed at it)."""
        return self._batcher.frame_scale(height, width)

    def detect(
        self, images: Sequence[Image], scales: Sequence[float | None] | None = None
    ) -> list[Detections]:
        """Objects in each image (``scales`` as :class:`~citybrain.vision.detector.RegionDetector`).

        Raises:
            DetectorBusyError: the shared queue is full: drop the frame, do not wait.
        """
        futures: list[Future[Detections]] = []
        for image, scale in zip(images, scales or [None] * len(images), strict=True):
            future = self._batcher.submit(image, scale)
            if future is None:
                for waiting in futures:
                    waiting.cancel()
                raise DetectorBusyError("the shared detector's queue is full")
            futures.append(future)
        return [future.result() for future in futures]


class VisionPool:
    """The worker's models, each loaded once and shared by its cameras (a model source).

    Which models a camera needs, and with what settings, is decided by
    :meth:`Vision.load <citybrain.pipeline.Vision.load>` alone; the pool only keeps one of each.

    Args:
        settings: batching and threading of the shared detectors.
    """

    def __init__(self, settings: BatchSettings | None = None) -> None:
        self.settings = settings or BatchSettings()
        self._lock = threading.RLock()
        self._detectors: dict[DetectorSpec, BatchingDetector] = {}
        self._anonymisers: dict[AnonymiserConfig, Anonymiser] = {}
        self._hardhat: HardhatClassifier | None = None

    def vision(self, config: CameraConfig) -> Vision:
        """The models ``config`` asks for, loading each the first time it is needed.

        Raises:
            ModelError: a model file is missing or fails its checksum.
        """
        with self._lock:
            return Vision.load(config, threads=self.settings.threads, models=self)

    def detector(self, spec: DetectorSpec) -> SharedDetector:
        """A camera's view of the shared detector ``spec`` describes."""
        with self._lock:
            batcher = self._detectors.get(spec)
            if batcher is None:
                s = self.settings
                batcher = BatchingDetector(
                    build_detector(spec), max_batch=s.max_batch, max_wait=s.max_wait,
                    max_queue=s.max_queue,
                )  # fmt: skip
                self._detectors[spec] = batcher
            return SharedDetector(batcher)

    def hardhat(self) -> HardhatClassifier:
        """The shared hard-hat classifier."""
        with self._lock:
            if self._hardhat is None:
                self._hardhat = HardhatClassifier()
            return self._hardhat

    def anonymiser(self, settings: AnonymiserConfig) -> Anonymiser:
        """The shared anonymiser with ``settings``."""
        with self._lock:
            anonymiser = self._anonymisers.get(settings)
            if anonymiser is None:
                anonymiser = self._anonymisers[settings] = Anonymiser(settings)
            return anonymiser

    def stats(self) -> dict[str, BatchStats]:
        """Counters of each shared detector, by model file name.

        Further detectors of the same file (other input size or thresholds) are ``name#2``,
        ``name#3``, in the order they were loaded; detectors stay loaded until :meth:`close`,
        so a name keeps meaning the same detector.
        """
        with self._lock:
            batchers = [(spec.path.name, batcher) for spec, batcher in self._detectors.items()]
        stats: dict[str, BatchStats] = {}
        seen: dict[str, int] = {}
        for name, batcher in batchers:
            seen[name] = seen.get(name, 0) + 1
            stats[name if seen[name] == 1 else f"{name}#{seen[name]}"] = batcher.stats()
        return stats

    def close(self) -> None:
        """Stop the shared detectors (after the requests already queued)."""
        with self._lock:
            batchers = list(self._detectors.values())
            self._detectors.clear()
        for batcher in batchers:
            batcher.close(timeout=5.0)
