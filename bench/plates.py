"""Licence plates: are they found, and are they still sharp after anonymisation?

Usage::

    CITYBRAIN_MODEL_DIR=../shared/models CITYBRAIN_DATASETS=../shared/datasets \\
        .venv/bin/python bench/plates.py [--split test|select]

On this project's test half of ``license-plates/valid`` (``training/plates_data.split_valid``:
images at odd positions by name; the even ones select the epoch and threshold) it prints:

* detection: recall and precision at IoU >= 0.3 of the packaged plate detector and of OpenCV's
  bundled plate cascades (the weak baseline), and the detector's time per image;
* sharpness: a plate's sharpness is the variance of the Laplacian of its grey pixels in its
  labelled box (:func:`citybrain.vision.plates.sharpness`). A plate *stays readable* when the
  anonymised image keeps more than a third of that. The share of plates that stay readable, with
  the anonymiser's blur (``Anonymiser``, faces and heads off) applied to:

  (a) the fixed band (bottom 40 %) of each vehicle box, vehicles from YOLOX-Nano (the
      ``vehicle`` group, confidence 0.3) and, as if the detector were perfect, from the
      dataset's labelled vehicle boxes;
  (b) the detected plates (grown by a margin), plus the band of each vehicle on which no plate
      was found (:func:`citybrain.vision.plates.plate_regions`).

Plates are found only to be blurred; nothing here reads or stores them.
"""

from __future__ import annotations

import argparse
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
from citybrain.vision.plates import PlateDetector, plate_regions, sharpness

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


def _as_detections(boxes: FloatArray) -> Detections:
    """Boxes as ``car`` detections, the form the anonymiser takes."""
    n = len(boxes)
    return Detections(
        xyxy=boxes, confidence=np.ones(n, np.float32), class_id=np.full(n, 2, np.int64)
    )


def _blur(image: Image, band_vehicles: FloatArray, whole: FloatArray) -> Image:
    """The anonymiser's blur: the plate band of ``band_vehicles``, and all of ``whole``."""
    band = Anonymiser(AnonymiserConfig(faces=False, heads=False))
    full = Anonymiser(AnonymiserConfig(faces=False, heads=False, plate_fraction=1.0))
    out = band.apply(image, _as_detections(band_vehicles))
    return full.apply(out, _as_detections(whole))


def readable_share(samples: list[Sample], blurred: list[Image]) -> tuple[float, int]:
    """The share of labelled plates that keep more than a third of their sharpness."""
    kept = []
    for sample, out in zip(samples, blurred, strict=True):
        for box in sample.plates:
            raw = sharpness(sample.image, box)
            kept.append(raw > 0 and sharpness(out, box) > READABLE_SHARE * raw)
    return float(np.mean(kept)), len(kept)


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


def main() -> int:
    """Print the detection and sharpness figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("test", "select"), default="test")
    parser.add_argument("--model", type=Path, help="plate ONNX model (default: packaged)")
    parser.add_argument("--threshold", type=float, help="plate score threshold (default: model's)")
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
    print(f"plate detector: recall {recall:.3f} precision {precision:.3f} "
          f"({per_image * 1000:.1f} ms per image, threshold {plates.threshold:.2f})")  # fmt: skip
    for name in CASCADES:
        r, p = detection_figures(cascade_boxes(samples, name), samples)
        print(f"OpenCV {name}: recall {r:.3f} precision {p:.3f}")
    nano = build_detector(DetectorSpec(family="yolox", path=models / "yolox_nano.onnx"))
    vehicle_ids = label_ids(["vehicle"])
    nano_vehicles = []
    for sample in samples:
        (d,) = nano.detect([sample.image])
        nano_vehicles.append(d.xyxy[np.isin(d.class_id, vehicle_ids)])
    empty = np.zeros((0, 4), np.float32)
    crops = [
        np.concatenate([f, plates.detect_in(s.image, v)[0]])
        for s, f, v in zip(samples, found, nano_vehicles, strict=True)
    ]
    r, p = detection_figures(crops, samples)
    print(f"plate detector, whole frame + Nano vehicle crops at 256 px: recall {r:.3f} "
          f"precision {p:.3f}")  # fmt: skip
    cases = {
        "(a) band, Nano vehicles": [_blur(s.image, v, empty) for s, v in
                                    zip(samples, nano_vehicles, strict=True)],
        "(a) band, labelled vehicles": [_blur(s.image, s.vehicles, empty) for s in samples],
        "(b) plates + band backstop, Nano vehicles": [
            _blur(s.image, empty, plate_regions(f, v)) for s, f, v in
            zip(samples, found, nano_vehicles, strict=True)],
        "(b) plates + band backstop, labelled vehicles": [
            _blur(s.image, empty, plate_regions(f, s.vehicles)) for s, f in
            zip(samples, found, strict=True)],
        "(c) plates + band on every vehicle, Nano vehicles": [
            _blur(s.image, empty, plate_regions(f, v, band="always")) for s, f, v in
            zip(samples, found, nano_vehicles, strict=True)],
        "(b) frame + vehicle-crop plates + band backstop, Nano vehicles": [
            _blur(s.image, empty, plate_regions(f, v)) for s, f, v in
            zip(samples, crops, nano_vehicles, strict=True)],
        "(c) frame + vehicle-crop plates + band on every vehicle, Nano vehicles": [
            _blur(s.image, empty, plate_regions(f, v, band="always")) for s, f, v in
            zip(samples, crops, nano_vehicles, strict=True)],
        "plates alone (no band)": [_blur(s.image, empty, plate_regions(f, empty)) for s, f in
                                   zip(samples, found, strict=True)],
    }  # fmt: skip
    for name, blurred in cases.items():
        share, n = readable_share(samples, blurred)
        print(f"{name}: {share:.3f} of {n} plates keep more than a third of their sharpness")
    return 0


if __name__ == "__main__":
    sys.exit(main())
