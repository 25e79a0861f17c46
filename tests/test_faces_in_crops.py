"""Faces looked for in crops around detected people and vehicles (issue 15): every face the
whole-frame pass finds, on every development clip and with the engine's own detections, is
blurred as well when the anonymiser looks in crops; and an independent CenterFace, more eager
than the anonymiser's, finds no face in what leaves."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from citybrain.config import parse_config
from citybrain.core.detections import FloatArray
from citybrain.ingest import Reader, ReaderOptions
from citybrain.pipeline import MOTION_WIDTH, CameraPipeline, Vision
from citybrain.vision.anonymise import Anonymiser
from citybrain.vision.centerface import CenterFace

pytestmark = pytest.mark.slow

#: The development clips, and how many seconds of each (one-by-one is 139 s long).
CLIPS = {
    "face-demographics-walking-and-pause.mp4": None,
    "worker-zone-detection.mp4": None,
    "person-bicycle-car-detection.mp4": None,
    "car-detection.mp4": None,
    "one-by-one-person-detection.mp4": 40.0,
}
CONFIG = parse_config("""
camera: {name: anywhere, fps: 5}
zones:
  all: {polygon: [[0, 0], [1, 0], [1, 1], [0, 1]]}
rules:
  anyone: {kind: restricted_zone, zone: all, labels: [person, vehicle]}
""")
#: The probe of tests/vision/test_anonymise.py: lower than the anonymiser's 0.25.
PROBE_THRESHOLD = 0.1


def same_face(face: FloatArray, boxes: FloatArray) -> bool:
    """Whether one of ``boxes`` is the same face (intersection over union at least 0.5)."""
    if not len(boxes):
        return False
    top_left = np.maximum(face[:2], boxes[:, :2])
    bottom_right = np.minimum(face[2:], boxes[:, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
    area = np.prod(face[2:] - face[:2])
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    return bool(np.max(inter / (area + areas - inter)) >= 0.5)


def blurred_share(face: FloatArray, regions: FloatArray, shape: tuple[int, ...]) -> float:
    """The share of ``face``'s pixels inside the regions the anonymiser blurs."""
    mask = np.zeros(shape[:2], dtype=bool)
    for x1, y1, x2, y2 in np.round(regions).astype(int):
        mask[max(y1, 0) : max(y2, 0), max(x1, 0) : max(x2, 0)] = True
    x1, y1, x2, y2 = np.round(face).astype(int)
    return float(mask[y1:y2, x1:x2].mean()) if x2 > x1 and y2 > y1 else 1.0


@pytest.fixture(scope="module")
def vision(model_dir: Path) -> Vision:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CITYBRAIN_MODEL_DIR", str(model_dir))
        vision = Vision.load(CONFIG, threads=1)
    assert vision.anonymiser is not None and vision.anonymiser.config.face_search == "crops"
    return vision


def test_faces_in_crops_are_the_faces_the_whole_frame_pass_finds(
    samples_dir: Path, vision: Vision
) -> None:
    crops = vision.anonymiser
    assert crops is not None
    whole = Anonymiser(replace(crops.config, face_search="frame"))
    probe = CenterFace(threshold=PROBE_THRESHOLD)
    faces = same = looked_in_crops = 0
    for clip, seconds in CLIPS.items():
        reader = Reader(str(samples_dir / clip), ReaderOptions(fps=5, thumbnail_width=MOTION_WIDTH))
        pipeline = CameraPipeline(CONFIG, vision, wall_origin=0.0)
        try:
            while (frame := reader.read(timeout=30)) is not None:
                if seconds is not None and frame.timestamp > seconds:
                    break
                result = pipeline.process(frame)
                image, detections = result.frame.image, result.detections
                before = crops.face_looks["crops"]
                found, regions = crops.faces(image, detections), crops.regions(image, detections)
                looked_in_crops += crops.face_looks["crops"] - before
                expected = whole.faces(image, detections)
                faces += len(expected)
                same += sum(same_face(face, found) for face in expected)
                for face in expected:  # blurred all the same (by a face or a head band)
                    share = blurred_share(face, regions, image.shape)
                    assert share >= 0.95, f"{clip} at {frame.timestamp:.1f} s: {face} {share}"
                if len(expected):  # what leaves: no face the probe can find
                    left, scores = probe.detect(crops.apply(image, detections))
                    assert not len(left), f"{clip} at {frame.timestamp:.1f} s: {scores}"
        finally:
            pipeline.close()
            reader.close()
    print(f"{faces} faces, {same} found as such in crops; crops used {looked_in_crops} times")
    assert faces >= 51  # three faces on each of the face clip's 17 analysed frames alone
    assert same >= 0.9 * faces  # and nearly all of them found as faces in the crops, too
    assert looked_in_crops >= 50, "crops were hardly ever used: the test says little"
