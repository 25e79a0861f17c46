"""Choose the plate detector's blurring threshold by what the anonymiser leaves readable.

Usage (from the repository root; needs ``onnx`` and YOLOX-Nano in ``CITYBRAIN_MODEL_DIR``)::

    .venv/bin/python training/plates_select.py [--model PATH] [--data DIR]

On the selection half of ``license-plates/valid`` (:func:`plates_data.split_valid`) each image
goes through the engine's own anonymiser (``Anonymiser.apply``, faces and heads off) with the
objects YOLOX-Nano finds in it, as the engine would pass them, at every threshold of a grid. A
plate *stays readable* when the anonymised image keeps more than a third of its sharpness
(:func:`citybrain.vision.plates.sharpness`). The thresholds that leave the fewest plates readable
form a range; the threshold is its middle: far from the edge where plates start to stay
readable, and well above the lowest, whose many false boxes each blur a patch of the picture.
The choice is written into the model's metadata (``threshold``). The test half is never read.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from citybrain.core.detections import Detections
from citybrain.vision.anonymise import Anonymiser, AnonymiserConfig
from citybrain.vision.detector import DetectorSpec, build_detector
from citybrain.vision.models import locate
from citybrain.vision.plates import PlateDetector, sharpness
from onnx_meta import write_metadata
from plates_data import Sample, load_split, split_valid

__all__ = ["GRID", "readable_count", "select"]

ROOT = Path(__file__).resolve().parents[1]
PACKAGED = ROOT / "src" / "citybrain" / "vision" / "weights" / "plates.onnx"
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "license-plates"
GRID = np.round(np.arange(0.05, 0.501, 0.05), 2)
#: A plate stays readable when it keeps more than this share of its raw sharpness.
READABLE_SHARE = 1 / 3


def readable_count(samples: list[Sample], objects: list[Detections], plates: PlateDetector) -> int:
    """Labelled plates that keep more than a third of their sharpness after the anonymiser."""
    anonymiser = Anonymiser(AnonymiserConfig(faces=False, heads=False), plate_detector=plates)
    count = 0
    for sample, found in zip(samples, objects, strict=True):
        out = anonymiser.apply(sample.image, found)
        for box in sample.plates:
            raw = sharpness(sample.image, box)
            count += int(raw > 0 and sharpness(out, box) > READABLE_SHARE * raw)
    return count


def select(model: Path, data: Path, threads: int = 1) -> dict[str, str]:
    """Choose the threshold on the selection half and write it into ``model``.

    Returns:
        The metadata written.
    """
    select_half, _ = split_valid(load_split(data / "valid"))
    nano = build_detector(
        DetectorSpec(family="yolox", path=locate("yolox_nano", allow_download=False))
    )
    objects = [nano.detect([s.image])[0] for s in select_half]
    counts = {
        float(t): readable_count(select_half, objects, PlateDetector(model, threshold=float(t),
                                                                     threads=threads))
        for t in GRID
    }  # fmt: skip
    fewest = min(counts.values())
    safe = [t for t, n in counts.items() if n == fewest]
    threshold = float(np.round((min(safe) + max(safe)) / 2, 2))
    chosen = {
        "threshold": f"{threshold:.2f}",
        "select_readable": ", ".join(f"{t:.2f}: {n}" for t, n in counts.items()),
        "selection": "the middle of the thresholds leaving the fewest selection-half plates "
        "readable after the engine's anonymiser (YOLOX-Nano vehicles)",
    }
    write_metadata(model, chosen)
    return chosen


def main() -> None:
    """Select on the selection half and write the threshold into the model file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=PACKAGED, help="the ONNX file to update")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="license-plates folder")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("CITYBRAIN_MODEL_DIR", str(ROOT.parent / "shared" / "models"))
    print(select(args.model, args.data, args.threads), flush=True)


if __name__ == "__main__":
    main()
