"""Licence plates: are they found, and are they still sharp after anonymisation?

Usage::

    CITYBRAIN_MODEL_DIR=../shared/models CITYBRAIN_DATASETS=../shared/datasets \\
        .venv/bin/python bench/plates.py [--split test|select] [--sweep]

On this project's test half of ``license-plates/valid`` (``training/plates_data.split_valid``:
images at odd positions by name; the even ones, the selection half, choose the epoch, the
threshold and the anonymiser's plate settings) it prints:

* detection: recall and precision at IoU >= 0.3 of the packaged plate detector on the whole
  image, in YOLOX-Nano's vehicle boxes as the anonymiser looks (``PlateDetector.detect_in``),
  and of OpenCV's bundled plate cascades (the weak baseline), with the detector's time;
* sharpness: a plate's sharpness is the variance of the Laplacian of its grey pixels in its
  labelled box (:func:`citybrain.vision.plates.sharpness`). A plate *stays readable* when the
  anonymised image keeps more than a third of that. The share of plates that stay readable
  after the engine's own anonymiser (``Anonymiser.apply``, faces and heads off) with the
  objects YOLOX-Nano (confidence 0.3) finds in the image, as the engine would pass them:

  (a) the fixed band (bottom 40 %) of each vehicle box only (plate detection off);
  (b) plates found in each vehicle box, and the band where none was found;
  (c) plates found in each vehicle box, and the band on every vehicle (the shipped setting);
  (c) again with the dataset's labelled vehicle boxes, as if the object detector were perfect.

``--sweep`` also prints (c) for other plate margins, vehicle margins and crop sides (to choose
them on the selection half). Plates are found only to be blurred; nothing here reads or stores
them.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from citybrain.core.detections import Detections, FloatArray, label_ids
from citybrain.core.frame import Image
from citybrain.vision.anonymise import Anonymiser, AnonymiserConfig
from citybrain.vision.detector import DetectorSpec, build_detector
from citybrain.vision.plates import PlateDetector, sharpness

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "training"))

from plates_data import (  # noqa: E402
    Sample,
    load_split,
    match,
    split_valid,
)

SHARED = ROOT.parent / "shared"
#: A plate stays readable when it keeps more than this share of its raw sharpness.
READABLE_SHARE = 1 / 3
CASCADES = ("haarcascade_russian_plate_number.xml", "haarcascade_license_plate_rus_16stages.xml")
#: The anonymiser's settings, less faces and heads (not what is measured here).
PLATES_ONLY = AnonymiserConfig(faces=False, heads=False)


def readable(samples: list[Sample], blurred: list[Image]) -> list[tuple[str, FloatArray]]:
    """The labelled plates that keep more than a third of their sharpness: (image, box)."""
    kept = []
    for sample, out in zip(samples, blurred, strict=True):
        for box in sample.plates:
            raw = sharpness(sample.image, box)
            if raw > 0 and sharpness(out, box) > READABLE_SHARE * raw:
                kept.append((sample.name, box))
    return kept


def detection_figures(found: list[FloatArray], samples: list[Sample]) -> tuple[float, float]:
    """Recall and precision at IoU >= 0.3."""
    hits = [match(f, s.plates) for f, s in zip(found, samples, strict=True)]
    n_truth = sum(len(s.plates) for s in samples)
    n_found = sum(len(f) for f in found)
    matched = sum(int(h.sum()) for h in hits)
    return matched / max(n_truth, 1), matched / max(n_found, 1)


def cascade_boxes(samples: list[Sample], name: str) -> list[FloatArray]:
    """Plates OpenCV's bundled cascade ``name`` finds in each image."""
    cascade = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / name))
    out = []
    for sample in samples:
        grey = cv2.cvtColor(sample.image, cv2.COLOR_BGR2GRAY)
        found = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=3)
        boxes = np.asarray(found, dtype=np.float32).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        out.append(boxes)
    return out


def labelled(sample: Sample) -> Detections:
    """The dataset's vehicle boxes as ``car`` detections."""
    n = len(sample.vehicles)
    return Detections(
        xyxy=sample.vehicles, confidence=np.ones(n, np.float32), class_id=np.full(n, 2, np.int64)
    )


def anonymised(
    samples: list[Sample],
    objects: list[Detections],
    config: AnonymiserConfig,
    plates: PlateDetector,
) -> tuple[list[Image], float]:
    """Each image through the engine's anonymiser, and the mean time per image."""
    anonymiser = Anonymiser(config, plate_detector=plates)
    started = time.perf_counter()
    out = [anonymiser.apply(s.image, d) for s, d in zip(samples, objects, strict=True)]
    return out, (time.perf_counter() - started) / max(len(samples), 1)


def _report(name: str, samples: list[Sample], blurred: list[Image], seconds: float) -> None:
    left = readable(samples, blurred)
    n = sum(len(s.plates) for s in samples)
    sizes = "".join(f"; {s[:16]} {b[2] - b[0]:.0f}x{b[3] - b[1]:.0f}" for s, b in left)
    print(f"{name}: {len(left) / max(n, 1):.3f} of {n} plates keep more than a third of their "
          f"sharpness ({seconds * 1000:.1f} ms per image){sizes}")  # fmt: skip


def main() -> int:
    """Print the detection and sharpness figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("test", "select"), default="test")
    parser.add_argument("--model", type=Path, help="plate ONNX model (default: packaged)")
    parser.add_argument("--threshold", type=float, help="plate score threshold (default: model's)")
    parser.add_argument("--sweep", action="store_true", help="other anonymiser settings too")
    args = parser.parse_args()
    datasets = Path(os.environ.get("CITYBRAIN_DATASETS") or SHARED / "datasets")
    models = Path(os.environ.get("CITYBRAIN_MODEL_DIR") or SHARED / "models")
    select, test = split_valid(load_split(datasets / "license-plates" / "valid"))
    samples = test if args.split == "test" else select
    plates = PlateDetector(args.model, threshold=args.threshold)
    started = time.perf_counter()
    found = [plates.detect(s.image)[0] for s in samples]
    per_image = (time.perf_counter() - started) / len(samples)
    recall, precision = detection_figures(found, samples)
    print(f"{args.split}: {len(samples)} images, {sum(len(s.plates) for s in samples)} plates")
    print(f"plate detector, whole image: recall {recall:.3f} precision {precision:.3f} "
          f"({per_image * 1000:.1f} ms per image, threshold {plates.threshold:.2f})")  # fmt: skip
    nano = build_detector(DetectorSpec(family="yolox", path=models / "yolox_nano.onnx"))
    objects = [nano.detect([s.image])[0] for s in samples]
    vehicle_ids = label_ids(["vehicle"])
    vehicles = [d.xyxy[np.isin(d.class_id, vehicle_ids)] for d in objects]
    started = time.perf_counter()
    in_crops = [plates.detect_in(s.image, v)[0] for s, v in zip(samples, vehicles, strict=True)]
    per_image = (time.perf_counter() - started) / len(samples)
    r, p = detection_figures(in_crops, samples)
    print(f"plate detector in Nano vehicle boxes (256 px): recall {r:.3f} precision {p:.3f} "
          f"({per_image * 1000:.1f} ms per image, {sum(map(len, vehicles))} vehicles)")  # fmt: skip
    for name in CASCADES:
        r, p = detection_figures(cascade_boxes(samples, name), samples)
        print(f"OpenCV {name}: recall {r:.3f} precision {p:.3f}")
    cases = {
        "(a) band only, Nano vehicles": (dataclasses.replace(PLATES_ONLY, plate_detection=False),
                                         objects),
        "(b) plates in vehicles + band where none, Nano": (
            dataclasses.replace(PLATES_ONLY, plate_band="missing"), objects),
        "(c) plates in vehicles + band on every vehicle, Nano (shipped)": (PLATES_ONLY, objects),
        "(c) with labelled vehicles": (PLATES_ONLY, [labelled(s) for s in samples]),
    }  # fmt: skip
    if args.sweep:
        for field, values in (
            ("plate_margin", (0.15, 0.35, 0.5)),
            ("vehicle_context", (0.0, 0.2)),
            ("plate_crop_side", (192, 320, 416)),
            ("plate_frame_side", (0, 320, 640)),
        ):
            for value in values:
                config = dataclasses.replace(PLATES_ONLY, **{field: value})
                cases[f"(c) {field} {value}"] = (config, objects)
    for name, (config, dets) in cases.items():
        _report(name, samples, *anonymised(samples, dets, config, plates))
    return 0


if __name__ == "__main__":
    sys.exit(main())
