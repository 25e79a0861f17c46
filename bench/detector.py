"""YOLOX-Nano throughput at batch 1 and batch 4, measured in one run, and session-option sweeps.

Usage::

    CITYBRAIN_MODEL_DIR=../shared/models CITYBRAIN_SAMPLES=../shared/footage \\
        .venv/bin/python bench/detector.py [--seconds 2] [--threads 2] [--no-sweep]

Part 1 times the whole ``detect`` call (letterbox, inference, decode, NMS) on real frames of two
development clips, at batch 1 and batch 4, in interleaved rounds so that load from other
processes hits both alike; it prints the median rate of each and their ratio, and the per-image
latency. Part 2 times ``session.run`` alone for several ONNX Runtime settings (threads, thread
spinning, graph optimisation level, execution mode). The load average is printed before and
after: on a shared machine it says how far to trust the numbers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import onnxruntime as ort

from citybrain.core.frame import Image
from citybrain.vision.detector import DetectorSpec, build_detector
from citybrain.vision.onnx_runtime import SessionConfig, load_session

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
BATCH = 4
ROUNDS = 5


def _dir(var: str, default: str) -> Path:
    return Path(os.environ.get(var) or ROOT.parent / "shared" / default)


def load_frames() -> list[Image]:
    """Eight frames from two development clips of different sizes (480x270, 768x432)."""
    samples = _dir("CITYBRAIN_SAMPLES", "footage")
    frames: list[Image] = []
    for name, indices in (
        ("worker-zone-detection.mp4", {10, 30, 50, 70}),
        ("one-by-one-person-detection.mp4", {131, 300, 560, 1132}),
    ):
        with av.open(str(samples / name)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i in indices:
                    image = np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)
                    frames.append(image)
                if i >= max(indices):
                    break
    return frames


@dataclass(frozen=True, slots=True)
class Measure:
    """One timed stretch of calls at one batch size."""

    images_per_s: float
    wall_ms_per_call: float
    cpu_ms_per_image: float  # this process's CPU time: less sensitive to other processes' load


def rate(call: Callable[[int], None], batch: int, seconds: float) -> Measure:
    """Time ``call(batch)`` repeatedly for about ``seconds``."""
    call(batch)  # warm-up
    calls, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds or calls < 3:
        call(batch)
        calls += 1
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return Measure(calls * batch / elapsed, elapsed / calls * 1e3, cpu / (calls * batch) * 1e3)


def interleaved(call: Callable[[int], None], seconds: float) -> dict[int, Measure]:
    """Median measures at batch 1 and ``BATCH``, alternating in ``ROUNDS`` rounds."""
    rounds: dict[int, list[Measure]] = {1: [], BATCH: []}
    for _ in range(ROUNDS):
        for batch, measured in rounds.items():
            measured.append(rate(call, batch, seconds / ROUNDS))
    return {
        batch: Measure(
            statistics.median(m.images_per_s for m in measured),
            statistics.median(m.wall_ms_per_call for m in measured),
            statistics.median(m.cpu_ms_per_image for m in measured),
        )
        for batch, measured in rounds.items()
    }


def end_to_end(frames: list[Image], threads: int, seconds: float) -> None:
    model = _dir("CITYBRAIN_MODEL_DIR", "models") / "yolox_nano.onnx"
    detector = build_detector(DetectorSpec("yolox", model, threads=threads))
    batched = getattr(detector, "batched", False)
    print(f"YOLOX-Nano detect(), {threads} intra-op threads, one call per batch: {batched}")
    results = interleaved(_Rotating(detector.detect, frames), seconds)
    for batch, m in results.items():
        print(
            f"  batch {batch}: {m.images_per_s:6.1f} images/s  {m.wall_ms_per_call:6.1f} ms per "
            f"call  {m.wall_ms_per_call / batch:5.1f} ms/image  "
            f"(CPU {m.cpu_ms_per_image:5.1f} ms/image)"
        )
    one, four = results[1], results[BATCH]
    print(
        f"  batch {BATCH} / batch 1 throughput: {four.images_per_s / one.images_per_s:.2f}x "
        f"(CPU-time ratio {one.cpu_ms_per_image / four.cpu_ms_per_image:.2f}x)"
    )


class _Rotating:
    """Calls ``detect`` on the next ``batch`` frames, so that each call sees other images."""

    def __init__(self, detect: Callable[[list[Image]], object], frames: list[Image]) -> None:
        self.detect, self.frames, self.offset = detect, frames, 0

    def __call__(self, batch: int) -> None:
        n = len(self.frames)
        self.detect([self.frames[(self.offset + i) % n] for i in range(batch)])
        self.offset = (self.offset + batch) % n


SWEEP: tuple[tuple[str, SessionConfig], ...] = (
    ("1 thread", SessionConfig(threads=1)),
    ("2 threads", SessionConfig(threads=2)),
    ("2 threads, spinning", SessionConfig(threads=2, spinning=True)),
    ("2 threads, optimisation extended", SessionConfig(threads=2, optimization="extended")),
    ("2 threads, optimisation basic", SessionConfig(threads=2, optimization="basic")),
    ("2 threads, ORT_PARALLEL", SessionConfig(threads=2, parallel=True)),
)


def sweep(seconds: float) -> None:
    model = _dir("CITYBRAIN_MODEL_DIR", "models") / "yolox_nano.onnx"
    tensor = np.random.default_rng(0).uniform(0, 255, (BATCH, 3, 416, 416)).astype(np.float32)
    print("session.run only (no pre/post-processing), batch 1 / batch 4:")
    for name, config in SWEEP:
        session, batched = load_session(model, config, dynamic_batch=True)
        if not batched:
            raise SystemExit("the dynamic-batch rewrite failed: nothing to compare")

        def run(batch: int, session: ort.InferenceSession = session) -> None:
            session.run(None, {"images": tensor[:batch]})

        results = interleaved(run, seconds)
        one, four = results[1], results[BATCH]
        print(
            f"  {name:<34} {one.images_per_s:6.1f} / {four.images_per_s:6.1f}   "
            f"ratio {four.images_per_s / one.images_per_s:.2f}   CPU ms/image "
            f"{one.cpu_ms_per_image:5.1f} / {four.cpu_ms_per_image:5.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per measured configuration")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads for part 1")
    parser.add_argument("--no-sweep", action="store_true", help="skip the session-option sweep")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    started = time.perf_counter()
    end_to_end(load_frames(), args.threads, args.seconds)
    if not args.no_sweep:
        sweep(args.seconds / 2)
    print(
        f"load average after: {os.getloadavg()[0]:.2f}; took {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
