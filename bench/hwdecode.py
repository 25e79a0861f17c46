"""Decoding on a device against decoding in software, measured in one run.

Usage::

    CITYBRAIN_SAMPLES=../shared/footage .venv/bin/python bench/hwdecode.py [--rounds 3]

For each development clip and each way of decoding (software, then every device type that
citybrain's reader can use: ``cuda`` for NVDEC, ``vaapi``), it reads the clip through the
:class:`~citybrain.ingest.Reader` as a camera does (every frame, BGR pixels made for the frames
sampled at 5 fps) and prints the wall time, the process's CPU time, what in fact decoded the
stream (FFmpeg decodes a stream the device cannot take in software) and, for a device, the
CPU seconds it saved over software and the PSNR of its pictures against software's. A device
this machine lacks is printed with the reason and skipped: the bench needs none.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

from citybrain.core.decoding import HwaccelSetting
from citybrain.ingest import Reader, ReaderOptions
from citybrain.ingest.hwaccel import AUTO_DEVICES, device_problem

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ("one-by-one-person-detection.mp4", "car-detection.mp4")


def samples() -> Path:
    return Path(os.environ.get("CITYBRAIN_SAMPLES") or ROOT.parent / "shared" / "footage")


def read(path: Path, hwaccel: HwaccelSetting) -> tuple[float, float, str, list[np.ndarray]]:
    """Wall seconds, CPU seconds, the decoder used, and the first sampled frames' pixels."""
    wall, cpu = time.perf_counter(), time.process_time()
    kept: list[np.ndarray] = []
    options = ReaderOptions(fps=5, hwaccel=hwaccel, queue_size=64)
    with Reader(str(path), options) as reader:
        for frame in reader:
            image = frame.image  # converted as the engine converts the frames it analyses
            if len(kept) < 8:
                kept.append(image)
        decoder = reader.stats.decoder
    return time.perf_counter() - wall, time.process_time() - cpu, decoder, kept


def psnr(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    pairs = zip(a, b, strict=True)
    errors = [np.mean((x.astype(np.float32) - y.astype(np.float32)) ** 2) for x, y in pairs]
    return float(10 * np.log10(255**2 / max(float(np.mean(errors)), 1e-9)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per clip")
    args = parser.parse_args()
    devices: list[HwaccelSetting] = []
    for device in AUTO_DEVICES:
        problem = device_problem(device)
        if problem is None:
            devices.append(device)
        else:
            print(f"{device}: not measured: {problem}")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    for clip in CLIPS:
        path = samples() / clip
        ways: list[HwaccelSetting] = ["none", *devices]
        runs: dict[str, list[tuple[float, float]]] = {way: [] for way in ways}
        pictures: dict[str, list[np.ndarray]] = {}
        used: dict[str, str] = {}
        for _ in range(args.rounds):  # interleaved, so that load hits each way alike
            for way in ways:
                wall, cpu, used[way], pictures[way] = read(path, way)
                runs[way].append((wall, cpu))
        soft_cpu = statistics.median(c for _, c in runs["none"])
        for name, times in runs.items():
            wall = statistics.median(w for w, _ in times)
            cpu = statistics.median(c for _, c in times)
            line = f"{clip}, {name}: decoded by {used[name]}, wall {wall:.3f} s, CPU {cpu:.3f} s"
            if name != "none":
                line += (
                    f", CPU / software {cpu / soft_cpu:.2f}, "
                    f"PSNR against software {psnr(pictures[name], pictures['none']):.1f} dB"
                )
            print(line)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
