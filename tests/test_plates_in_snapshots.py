"""Licence plates in stored snapshots, checked independently of the engine's plate detector.

Photos of parked cars with labelled plates (the selection half of ``license-plates/valid``, see
``training/plates_data.split_valid``; the test half is read only by ``bench/plates.py``) are put
one after another into a lossless video, each in a quarter of a grey picture (the quarters in
turn, with a moment of grey between two photos: a camera sees cars come and go, not its whole
picture change at once, which its motion gate takes for a change of light). ``citybrain
analyze`` runs the video with a ``vehicle`` rule, as a camera would. Each event's stored
snapshot is then compared, at the *labelled* plate boxes of the photo it shows, with the frame
itself: no plate may keep more than a third of its sharpness (the variance of the Laplacian: the
edges of its characters).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from citybrain.config import parse_config
from citybrain.runtime.analyze import AnalysisOptions, analyze
from citybrain.vision.plates import sharpness

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
#: Seconds each photo is shown, then grey, and the rate of the video (the engine analyses 5 fps).
SHOWN, GAP, FPS = 1.2, 0.4, 10
CONFIG = """
camera: {name: car-park-photos, fps: 5}
zones:
  all: {polygon: [[0, 0], [1, 0], [1, 1], [0, 1]]}
rules:
  cars: {kind: restricted_zone, zone: all, labels: [vehicle]}
"""


@pytest.fixture(scope="module")
def photos() -> list[Any]:
    data = Path(os.environ.get("CITYBRAIN_DATASETS") or ROOT.parent / "shared" / "datasets")
    if not (data / "license-plates" / "valid").is_dir():
        pytest.skip(f"license-plates dataset not found in {data}: set CITYBRAIN_DATASETS")
    sys.path.insert(0, str(ROOT / "training"))
    from plates_data import load_split, split_valid  # noqa: PLC0415 (training/ is not a package)

    select, _ = split_valid(load_split(data / "license-plates" / "valid"))
    return select


def pictures(images: list[np.ndarray]) -> list[tuple[np.ndarray, int, int]]:
    """Each photo in a quarter of a grey picture (the quarters in turn), and its x, y offset."""
    height, width = images[0].shape[:2]
    out = []
    for i, image in enumerate(images):
        picture = np.full((2 * height, 2 * width, 3), 128, np.uint8)
        x, y = (i % 2) * width, (i // 2 % 2) * height
        picture[y : y + height, x : x + width] = image
        out.append((picture, x, y))
    return out


def write_video(path: Path, shown: list[np.ndarray]) -> list[np.ndarray]:
    """Each picture for :data:`SHOWN` seconds, then grey for :data:`GAP`, in YUV 4:4:4 as
    cameras send colour, without further loss (FFV1); returns each picture as the video holds
    it."""
    height, width = shown[0].shape[:2]
    on, off = round(SHOWN * FPS), round(GAP * FPS)
    grey = av.VideoFrame.from_ndarray(np.full((height, width, 3), 128, np.uint8), format="bgr24")
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv444p"
        for picture in shown:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="bgr24")
            for still in [frame] * on + [grey] * off:
                container.mux(stream.encode(still.reformat(format="yuv444p")))
        container.mux(stream.encode(None))
    with av.open(str(path)) as container:
        decoded = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    return [np.asarray(decoded[i * (on + off) + on // 2]) for i in range(len(shown))]


def test_no_labelled_plate_stays_sharp_in_a_stored_snapshot(
    photos: list[Any], models: Path, tmp_path: Path
) -> None:
    size = photos[0].image.shape[:2]
    photos = [p for p in photos if p.image.shape[:2] == size]
    shown = pictures([p.image for p in photos])
    held = write_video(tmp_path / "photos.mkv", [picture for picture, _, _ in shown])
    out = tmp_path / "out"
    analyze(str(tmp_path / "photos.mkv"), parse_config(CONFIG), out, AnalysisOptions(threads=2))
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    checked: set[tuple[int, int]] = set()
    sharp: set[tuple[str, tuple[float, ...]]] = set()
    for event in events:
        if not event["snapshot"]:
            continue
        index, into = divmod(event["snapshot_at"] + 1e-6, SHOWN + GAP)
        if into > SHOWN - 0.1:
            continue  # taken while the picture was grey
        snapshot = cv2.imread(str(out / event["snapshot"]))
        (_, x, y), picture = shown[int(index)], held[int(index)]
        assert snapshot is not None and snapshot.shape == picture.shape
        for n, plate in enumerate(photos[int(index)].plates):
            box = plate + np.array([x, y, x, y], np.float32)
            raw = sharpness(picture, box)
            if raw <= 0:
                continue
            checked.add((int(index), n))
            if sharpness(snapshot, box) > raw / 3:
                sharp.add((photos[int(index)].name[:16], tuple(plate.round().tolist())))
    # Snapshots are taken where the engine sees a vehicle: most photos (measured: ~30 of 35).
    assert len(checked) >= 25, f"only {len(checked)} plates in snapshots: the check saw too little"
    assert not sharp, f"{len(sharp)} of {len(checked)} plates stay readable in snapshots: {sharp}"
