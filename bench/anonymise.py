"""What the anonymiser costs per rendered frame, looking for faces in crops or the whole frame.

Usage::

    CITYBRAIN_MODEL_DIR=../shared/models CITYBRAIN_SAMPLES=../shared/footage \\
        .venv/bin/python bench/anonymise.py [--seconds 40] [--repeat 1]

Each development clip, and the 1280x720 loop ``bench/serve.py`` serves (worker-zone-detection
upscaled), runs through the engine at 5 analysed fps; every analysed frame is then anonymised
with the engine's own detections twice, once with ``face_search: crops`` (the default: faces
looked for around people and vehicles, a coarse look at the whole frame, the whole frame when
nobody was detected) and once with ``face_search: frame``. It prints the mean milliseconds of
each (``Anonymiser.apply``: faces, head bands, plates and the blur), their ratio, and how often
the crops were used. One thread, as a worker's renderer runs. The load average is printed
before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from citybrain.config import parse_config
from citybrain.ingest import Reader, ReaderOptions
from citybrain.pipeline import MOTION_WIDTH, CameraPipeline, Vision
from citybrain.vision.anonymise import Anonymiser
from serve import upscale

ROOT = Path(__file__).resolve().parents[1]
CLIPS = (
    "face-demographics-walking-and-pause.mp4",
    "worker-zone-detection.mp4",
    "person-bicycle-car-detection.mp4",
    "car-detection.mp4",
    "one-by-one-person-detection.mp4",
)
CONFIG = parse_config("""
camera: {name: anywhere, fps: 5}
zones:
  all: {polygon: [[0, 0], [1, 0], [1, 1], [0, 1]]}
rules:
  anyone: {kind: restricted_zone, zone: all, labels: [person, vehicle]}
""")


def timed(anonymiser: Anonymiser, frames: list[tuple[object, object]], repeat: int) -> float:
    """Mean milliseconds of one ``apply`` over ``frames``."""
    began = time.perf_counter()
    for _ in range(repeat):
        for image, detections in frames:
            anonymiser.apply(image, detections)  # type: ignore[arg-type]
    return (time.perf_counter() - began) * 1000 / max(len(frames) * repeat, 1)


def analysed(path: Path, vision: Vision, seconds: float) -> list[tuple[object, object]]:
    """Each analysed frame's image with the engine's detections on it."""
    reader = Reader(str(path), ReaderOptions(fps=5, thumbnail_width=MOTION_WIDTH))
    pipeline = CameraPipeline(CONFIG, vision, wall_origin=0.0)
    frames: list[tuple[object, object]] = []
    try:
        while (frame := reader.read(timeout=30)) is not None and frame.timestamp <= seconds:
            result = pipeline.process(frame)
            frames.append((result.frame.image, result.detections))
    finally:
        pipeline.close()
        reader.close()
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0, help="seconds of each clip")
    parser.add_argument("--repeat", type=int, default=1, help="passes over each clip's frames")
    args = parser.parse_args()
    os.environ.setdefault("CITYBRAIN_MODEL_DIR", str(ROOT.parent / "shared" / "models"))
    samples = Path(os.environ.get("CITYBRAIN_SAMPLES") or ROOT.parent / "shared" / "footage")
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)", flush=True)
    vision = Vision.load(CONFIG, threads=1)
    crops = vision.anonymiser
    assert crops is not None
    whole = Anonymiser(replace(crops.config, face_search="frame"))
    ratios: list[float] = []
    with tempfile.TemporaryDirectory(prefix="citybrain-bench-") as tmp:
        loop = upscale(samples / "worker-zone-detection.mp4", Path(tmp) / "loop-720p.mp4")
        paths = [samples / clip for clip in CLIPS] + [loop]
        for path in paths:
            frames = analysed(path, vision, args.seconds)
            before = crops.face_looks["crops"]
            in_crops = timed(crops, frames, args.repeat)
            used = (crops.face_looks["crops"] - before) / max(len(frames) * args.repeat, 1)
            in_frame = timed(whole, frames, args.repeat)
            ratios.append(in_crops / in_frame)
            print(
                f"{path.name:42s} {len(frames):4d} frames: crops {in_crops:6.1f} ms, whole frame "
                f"{in_frame:6.1f} ms, ratio {in_crops / in_frame:.2f} (crops on {used:.0%})",
                flush=True,
            )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"RESULT: crops / whole frame, median over clips {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
