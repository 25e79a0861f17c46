"""How many looping 720p demo cameras one server sustains at 5 analysed fps without backlog.

Usage::

    CITYBRAIN_MODEL_DIR=../shared/models CITYBRAIN_SAMPLES=../shared/footage \\
        .venv/bin/python bench/serve.py [--workers 1] [--max-cameras 16] [--budget 270]

At start it makes a 1280x720 loop by upscaling a development clip (worker-zone-detection.mp4:
a person walks through the whole clip, so the motion gate rarely spares the detector) with PyAV
into a temporary H.264 file. It then runs the server's camera runtime exactly as ``citybrain
serve`` does (supervisor, spawned worker processes, shared batched detector, anonymised live
frames and snapshots, a SQLite store) and adds cameras one at a time, each with a restricted
zone rule. After each addition it waits for the cameras to settle, then reads their health for
a few seconds. The ramp stops when a camera's analysed rate falls below 4.5 fps or frames start
being dropped (more than 2% of the frames the cameras should have analysed), or when the time
budget runs out. The answer is the largest count that passed. The load average is printed
before and after: on a shared machine it says how far to trust the figure.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from citybrain.records import CameraFields
from citybrain.runtime.camera import RunnerOptions
from citybrain.runtime.messages import CameraHealth, HealthMessage, WorkerMessage
from citybrain.runtime.supervisor import Supervisor, SupervisorOptions
from citybrain.runtime.worker_process import WorkerOptions
from citybrain.store import CameraRepo, Store, open_store, sqlite_url

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
CLIP = "worker-zone-detection.mp4"
TARGET_FPS = 5.0
MIN_FPS = 4.5
MAX_DROP_SHARE = 0.02
CONFIG = {
    "camera": {"fps": TARGET_FPS},
    "zones": {"floor": {"polygon": [[0, 0.45], [1, 0.45], [1, 1], [0, 1]]}},
    "rules": {"no_entry": {"kind": "restricted_zone", "zone": "floor"}},
}


def upscale(source: Path, target: Path, width: int = 1280, height: int = 720) -> Path:
    """Re-encode ``source`` at ``width`` x ``height`` (H.264, same frame rate) into ``target``."""
    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        stream_in = inp.streams.video[0]
        rate = Fraction(stream_in.average_rate or 15)
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = 1 / rate
        stream.options = {"crf": "23", "preset": "veryfast", "g": str(round(rate))}
        for index, frame in enumerate(inp.decode(stream_in)):
            big = frame.reformat(width=width, height=height, format="yuv420p")
            big.pts, big.time_base = index, 1 / rate
            out.mux(stream.encode(big))
        out.mux(stream.encode(None))
    return target


class HealthLog:
    """Keeps every health report, by camera (the supervisor's sink)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reports: dict[int, list[CameraHealth]] = {}

    def __call__(self, message: WorkerMessage) -> None:
        if isinstance(message, HealthMessage):
            with self._lock:
                self.reports.setdefault(message.health.camera_id, []).append(message.health)

    def window(self, camera_id: int, since: float) -> list[CameraHealth]:
        with self._lock:
            return [h for h in self.reports.get(camera_id, []) if h.at.timestamp() >= since]


@dataclass(frozen=True)
class Step:
    """One ramp step: cameras running and what they did during the measurement."""

    cameras: int
    fps: dict[int, float]
    dropped: int
    expected_frames: float

    @property
    def passed(self) -> bool:
        if not self.fps or min(self.fps.values()) < MIN_FPS:
            return False
        return self.dropped <= MAX_DROP_SHARE * self.expected_frames

    def line(self) -> str:
        rates = " ".join(f"{v:.2f}" for v in self.fps.values())
        verdict = "ok" if self.passed else "FAIL"
        return (
            f"{self.cameras:2d} cameras: min {min(self.fps.values(), default=0):.2f} fps, "
            f"dropped {self.dropped} of ~{self.expected_frames:.0f} [{verdict}]  per camera: "
            f"{rates}"
        )


def measure(log: HealthLog, ids: list[int], settle: float, seconds: float) -> Step:
    time.sleep(settle)
    start = time.time()
    time.sleep(seconds)
    fps: dict[int, float] = {}
    dropped = 0
    for camera_id in ids:
        reports = log.window(camera_id, start)
        if len(reports) < 2:
            fps[camera_id] = 0.0
            continue
        fps[camera_id] = statistics.mean(h.fps_analysed for h in reports)
        dropped += reports[-1].frames_dropped - reports[0].frames_dropped
    return Step(len(ids), fps, dropped, TARGET_FPS * seconds * len(ids))


def add_camera(store: Store, index: int, source: Path) -> int:
    with store.session() as session:
        repo = CameraRepo(session)
        fields = CameraFields(name=f"bench-{index}", source=str(source), config=CONFIG)
        return repo.create(fields).id


def ramp(args: argparse.Namespace, clip: Path, data: Path) -> list[Step]:
    store = open_store(sqlite_url(data))
    log = HealthLog()
    options = SupervisorOptions(
        workers=args.workers,
        worker=WorkerOptions(runner=RunnerOptions(live_fps=2.0), log_level=logging.WARNING),
    )
    supervisor = Supervisor(store, log, options)
    supervisor.start()
    steps: list[Step] = []
    deadline = time.monotonic() + args.budget
    ids: list[int] = []
    try:
        while len(ids) < args.max_cameras and time.monotonic() < deadline:
            ids.append(add_camera(store, len(ids), clip))
            supervisor.sync(ids[-1])
            step = measure(log, ids, args.settle, args.seconds)
            steps.append(step)
            print(step.line(), flush=True)
            if not step.passed:
                break
    finally:
        supervisor.close()
        store.close()
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--max-cameras", type=int, default=16)
    parser.add_argument("--settle", type=float, default=6.0, help="seconds after each addition")
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds measured per step")
    parser.add_argument("--budget", type=float, default=270.0, help="seconds for the whole ramp")
    args = parser.parse_args()
    os.environ.setdefault("CITYBRAIN_MODEL_DIR", str(ROOT.parent / "shared" / "models"))
    samples = Path(os.environ.get("CITYBRAIN_SAMPLES") or ROOT.parent / "shared" / "footage")
    logging.basicConfig(level=logging.WARNING)
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)", flush=True)
    with tempfile.TemporaryDirectory(prefix="citybrain-bench-") as tmp:
        began = time.monotonic()
        clip = upscale(samples / CLIP, Path(tmp) / "loop-720p.mp4")
        print(f"720p loop made in {time.monotonic() - began:.1f} s: {clip.name}", flush=True)
        steps = ramp(args, clip, Path(tmp) / "data")
    sustained = max((s.cameras for s in steps if s.passed), default=0)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(
        f"RESULT: {sustained} camera(s) of 1280x720 at {TARGET_FPS:.0f} analysed fps sustained "
        f"by one server with {args.workers} worker process(es) on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
