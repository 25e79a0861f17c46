"""One detector shared by many cameras: requests gathered into batches by one worker thread.

Camera threads :meth:`~BatchingDetector.submit` frames and get futures back. A single worker takes
the first waiting request, gathers more until it has ``max_batch`` or ``max_wait`` seconds have
passed, and makes one ``detect`` call for all of them. The request queue is bounded: when it is
full, ``submit`` returns ``None`` at once, the camera drops that frame and counts it, and no
backlog builds up behind a detector that cannot keep up.

The worker measures its waits on the monotonic clock: batching is about the machine's time, not
the streams' (rules never see it).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from citybrain.core.detections import Detections
from citybrain.core.frame import Image
from citybrain.vision.detector import Detector, RegionDetector

__all__ = ["BatchStats", "BatchingDetector"]


@dataclass(frozen=True, slots=True)
class _Request:
    image: Image
    scale: float | None
    future: Future[Detections]


@dataclass(frozen=True, slots=True)
class BatchStats:
    """Counters of a :class:`BatchingDetector` since it started.

    Attributes:
        batches: ``detect`` calls made.
        images: images detected.
        rejected: submissions refused because the queue was full.
        queue_depth: requests waiting right now.
        mean_batch_size: ``images / batches``.
        mean_latency: mean seconds per ``detect`` call.
        last_latency: seconds the latest ``detect`` call took.
    """

    batches: int
    images: int
    rejected: int
    queue_depth: int
    mean_batch_size: float
    mean_latency: float
    last_latency: float


class BatchingDetector:
    """Batches single-image requests from many threads into ``detect`` calls of one detector.

    Args:
        detector: the detector to share; only the worker thread calls it.
        max_batch: most images per ``detect`` call.
        max_wait: longest a request waits for others to join its batch, in seconds.
        max_queue: most requests waiting; beyond it ``submit`` refuses.

    Example:
        >>> shared = BatchingDetector(build_detector(spec), max_batch=4)  # doctest: +SKIP
        >>> future = shared.submit(frame.image)  # doctest: +SKIP
        >>> if future is None: dropped += 1  # doctest: +SKIP
        >>> else: detections = future.result()  # doctest: +SKIP
    """

    def __init__(
        self,
        detector: Detector,
        *,
        max_batch: int = 4,
        max_wait: float = 0.01,
        max_queue: int = 16,
    ) -> None:
        if max_batch < 1 or max_queue < 1 or max_wait < 0:
            raise ValueError("max_batch and max_queue must be >= 1 and max_wait >= 0")
        self.detector = detector
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._queue: queue.Queue[_Request | None] = queue.Queue(maxsize=max_queue)
        self._lock = threading.Lock()
        self._closed = False
        self._batches = self._images = self._rejected = 0
        self._latency_total = self._last_latency = 0.0
        self._worker = threading.Thread(target=self._serve, name="batching-detector", daemon=True)
        self._worker.start()

    @property
    def labels(self) -> tuple[str, ...]:
        """The wrapped detector's class names."""
        return self.detector.labels

    def frame_scale(self, height: int, width: int) -> float | None:
        """The wrapped detector's scale for a whole frame (see :class:`RegionDetector`)."""
        if isinstance(self.detector, RegionDetector):
            return self.detector.frame_scale(height, width)
        return None

    def submit(self, image: Image, scale: float | None = None) -> Future[Detections] | None:
        """Queue ``image`` for detection; ``None`` when the queue is full (drop the frame).

        ``scale`` feeds it at that scale (a crop of a frame; see :meth:`frame_scale`).

        Raises:
            ValueError: ``image`` is not ``(H, W, 3)`` uint8 (checked here, so that one bad
                frame cannot fail a whole batch of other cameras' frames).
            RuntimeError: the detector was closed.
        """
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"images must be (H, W, 3) uint8 BGR, got {image.shape} {image.dtype}")
        future: Future[Detections] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("BatchingDetector is closed")
            try:
                self._queue.put_nowait(_Request(image, scale, future))
            except queue.Full:
                self._rejected += 1
                return None
        return future

    def detect_one(self, image: Image, timeout: float | None = None) -> Detections | None:
        """Detect in one image, blocking; ``None`` when the queue was full."""
        future = self.submit(image)
        return None if future is None else future.result(timeout)

    def detect(
        self, images: Sequence[Image], scales: Sequence[float | None] | None = None
    ) -> list[Detections]:
        """The :class:`~citybrain.vision.detector.Detector` verb: waits for room, never drops."""
        futures: list[Future[Detections]] = []
        for image, scale in zip(images, scales or [None] * len(images), strict=True):
            future = self.submit(image, scale)
            while future is None:
                time.sleep(self.max_wait or 0.001)
                future = self.submit(image, scale)
            futures.append(future)
        return [future.result() for future in futures]

    def stats(self) -> BatchStats:
        """A snapshot of the counters."""
        with self._lock:
            batches = self._batches
            return BatchStats(
                batches=batches,
                images=self._images,
                rejected=self._rejected,
                queue_depth=self._queue.qsize(),
                mean_batch_size=self._images / batches if batches else 0.0,
                mean_latency=self._latency_total / batches if batches else 0.0,
                last_latency=self._last_latency,
            )

    def close(self, timeout: float | None = None) -> None:
        """Finish the requests already queued, then stop the worker. Safe to call twice."""
        with self._lock:
            first_close = not self._closed
            self._closed = True
        if first_close:
            # No submit gets past the flag now, so the worker drains the queue and this put
            # finds room (outside the lock: the worker takes it to count each batch).
            self._queue.put(None)
        self._worker.join(timeout)

    def __enter__(self) -> BatchingDetector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _serve(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = self._gather(first)
            self._run(batch)
            if stop:
                return

    def _gather(self, first: _Request) -> tuple[list[_Request], bool]:
        """``first`` plus whatever arrives before the batch is full or the wait is over."""
        batch = [first]
        deadline = time.monotonic() + self.max_wait
        while len(batch) < self.max_batch:
            remaining = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=max(remaining, 0.0))
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _run(self, batch: list[_Request]) -> None:
        live = [r for r in batch if r.future.set_running_or_notify_cancel()]
        if not live:
            return
        start = time.monotonic()
        try:
            images = [r.image for r in live]
            if any(r.scale is not None for r in live):
                if not isinstance(self.detector, RegionDetector):
                    raise ValueError("the shared detector takes no scales")
                results = self.detector.detect(images, [r.scale for r in live])
            else:
                results = self.detector.detect(images)
            if len(results) != len(live):
                raise RuntimeError(f"detector returned {len(results)} results for {len(live)}")
        except Exception as exc:  # handed to the callers, whose futures re-raise it
            for request in live:
                request.future.set_exception(exc)
            return
        finally:
            self._count(len(live), time.monotonic() - start)
        for request, result in zip(live, results, strict=True):
            request.future.set_result(result)

    def _count(self, images: int, elapsed: float) -> None:
        with self._lock:
            self._batches += 1
            self._images += images
            self._latency_total += elapsed
            self._last_latency = elapsed
