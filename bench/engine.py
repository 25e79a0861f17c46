"""Engine speed against pure decoding, measured in one run on the same threads.

Usage::

    CITYBRAIN_MODEL_DIR=../shared/models CITYBRAIN_SAMPLES=../shared/footage \\
        .venv/bin/python bench/engine.py [--threads 2] [--rounds 3]

For each clip it times, in interleaved rounds (so load from other processes hits both alike):

* pure PyAV decoding of every frame (no conversion), the floor any engine sits on;
* the whole engine as ``citybrain analyze`` runs it (decode thread, sampling at 5 fps, motion
  gate, detector, tracker, rules, anonymised snapshots, output files). The engine leaves
  undecoded the non-reference frames its sampler would not take; the pure decode does not.

It prints the median of each, their ratio (goal <= 1.5 now, 1.2 later), the CPU time of the
engine's analysis thread (the calling one: with one detector thread ONNX Runtime runs there) and
of its other threads (the decode thread, mostly), whichever is larger being what bounds the
engine on two cores, detector frames over analysed frames, and YOLOX-Nano throughput at batch 4
over batch 1 on real frames. With ``--quality`` it also runs the engine with the analytics of
issue 13 switched on (a ``hardhat_required`` rule: two looks per head; the ``vehicle`` group,
tracked as one class) and with the anonymiser's plate detection off, to show what each adds. The
throughput is measured on a detector set up as a server worker's shared one is (ONNX Runtime
threads = the cores, at most 4, which on the CPU also gives one single-threaded lane per core
for the parts of a batch); batch 1 and batch 4 go through that same detector object.
``--hwaccel cuda`` (or ``auto``) decodes the engine's frames on that device where it works
(the pure decoding stays in software, so the ratio then shows what the device takes off);
each line says what decoded the clip. ``bench/hwdecode.py`` compares the decoding alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from citybrain.config import parse_config
from citybrain.core.frame import Image
from citybrain.pipeline import Vision
from citybrain.runtime.analyze import AnalysisOptions, AnalysisReport, analyze
from citybrain.vision.anonymise import Anonymiser, AnonymiserConfig
from citybrain.vision.detector import Detector

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ("one-by-one-person-detection.mp4", "car-detection.mp4")
CONFIG = """
camera: {name: bench, fps: 5}
zones:
  all: {polygon: [[0, 0], [1, 0], [1, 1], [0, 1]]}
lines:
  middle: {points: [[0, 0.5], [1, 0.5]]}
rules:
  intruders: {kind: restricted_zone, zone: all, labels: [person]}
  parked: {kind: dwell, zone: all, labels: [car, truck, bus], seconds: 10}
  crowd: {kind: occupancy, zone: all, labels: [person, car], max: 3, seconds: 1}
  counts: {kind: line_crossing, line: middle, labels: [person, car, truck, bus]}
"""

#: The same rules with a hard-hat rule and the vehicle group (issue 13's analytics).
QUALITY_CONFIG = CONFIG.replace("[car, truck, bus]", "[vehicle]").replace(
    "[person, car, truck, bus]", "[person, vehicle]"
).replace("[person, car]", "[person, vehicle]") + (
    "  hardhats: {kind: hardhat_required, zone: all, seconds: 1}\n"
)


def samples() -> Path:
    return Path(os.environ.get("CITYBRAIN_SAMPLES") or ROOT.parent / "shared" / "footage")


def decode_seconds(path: Path) -> float:
    started = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "SLICE"  # what the reader uses
        for _ in container.decode(stream):
            pass
    return time.perf_counter() - started


def engine_run(path: Path, vision: Vision, threads: int, text: str = CONFIG) -> AnalysisReport:
    config = parse_config(text)
    with tempfile.TemporaryDirectory() as out:
        return analyze(
            str(path), config, Path(out), AnalysisOptions(threads=threads), vision=vision
        )


def frames(path: Path, count: int) -> list[Image]:
    images: list[Image] = []
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i % 40 == 0:
                images.append(np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8))
            if len(images) == count:
                break
    return images


def throughput(detector: Detector, images: list[Image], batch: int, seconds: float) -> float:
    """Images per second through ``detect`` at ``batch`` images per call."""
    done = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for i in range(0, len(images), batch):
            detector.detect(images[i : i + batch])
            done += len(images[i : i + batch])
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--threads", type=int, default=max(1, (os.cpu_count() or 2) - 1), help="detector threads"
    )
    parser.add_argument(
        "--batch-threads",
        type=int,
        default=max(1, min(4, os.cpu_count() or 1)),
        help="detector threads for the batch throughput (a server worker's default)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per clip")
    parser.add_argument("--quality", action="store_true", help="issue 13's analytics too")
    parser.add_argument(
        "--hwaccel",
        default="none",
        choices=["none", "auto", "cuda", "vaapi"],
        help="decode the engine's frames on this device (the pure decoding stays in software)",
    )
    args = parser.parse_args()
    decoding = f"fps: 5, hwaccel: {args.hwaccel}}}"
    config, quality_config = (t.replace("fps: 5}", decoding) for t in (CONFIG, QUALITY_CONFIG))
    variants = {"engine": (config, Vision.load(parse_config(config), threads=args.threads))}
    if args.quality:
        quality = Vision.load(parse_config(quality_config), threads=args.threads)
        variants["hard hats + vehicle group"] = (quality_config, quality)
        no_plates = Vision.load(parse_config(config), threads=args.threads)
        no_plates.anonymiser = Anonymiser(AnonymiserConfig(plate_detection=False))
        variants["engine, plate detection off"] = (config, no_plates)
    print(f"load average before: {os.getloadavg()[0]:.2f}; detector threads {args.threads}")
    for clip in CLIPS:
        path = samples() / clip
        decode: list[float] = []
        engine: dict[str, list[float]] = {name: [] for name in variants}
        cpu: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
        reports: dict[str, AnalysisReport] = {}
        for _ in range(args.rounds):  # interleaved, so that load hits every variant alike
            decode.append(decode_seconds(path))
            for name, (text, vision) in variants.items():
                started = time.perf_counter()
                mine, ours = time.thread_time(), time.process_time()
                reports[name] = engine_run(path, vision, args.threads, text)
                engine[name].append(time.perf_counter() - started)
                analysis = time.thread_time() - mine
                cpu[name].append((analysis, time.process_time() - ours - analysis))
        d = statistics.median(decode)
        for name, times in engine.items():
            e, report = statistics.median(times), reports[name]
            p, r = report.pipeline, report.reader
            analysis = statistics.median(a for a, _ in cpu[name])
            others = statistics.median(o for _, o in cpu[name])
            print(
                f"{clip}, {name}: decode {d:.3f} s, engine {e:.3f} s, engine/decode {e / d:.2f} "
                f"(goal <= 1.5); detector frames / analysed {p.detector_frames}/"
                f"{p.frames_analysed} = {p.detector_frames / max(1, p.frames_analysed):.2f} "
                f"({p.detector_regions} in a crop); frames decoded {r.frames_decoded}, skipped "
                f"{r.frames_skipped}, by {r.decoder}; events {report.events}; CPU: analysis "
                f"thread {analysis:.3f} s, other threads (decoding) {others:.3f} s"
            )
    images = frames(samples() / CLIPS[0], 8)
    shared = Vision.load(parse_config(config), threads=args.batch_threads).detector
    ones: list[float] = []
    fours: list[float] = []
    for _ in range(3):  # interleaved, like the clips
        ones.append(throughput(shared, images, 1, 2.0))
        fours.append(throughput(shared, images, 4, 2.0))
    one, four = statistics.median(ones), statistics.median(fours)
    print(
        f"detector throughput ({args.batch_threads} threads): batch 1 {one:.1f} img/s, "
        f"batch 4 {four:.1f} img/s, batch4/batch1 {four / one:.2f} (goal >= 1.5)"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
