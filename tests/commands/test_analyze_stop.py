"""``citybrain analyze`` stopped by a signal keeps its results; one that fails leaves no folder.

The signal tests run the installed ``citybrain`` command in a process of its own, as a shell or a
service manager would, and signal it while it is in the middle of a real clip.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citybrain.cli import app

CLIP = "worker-zone-detection.mp4"
CONFIG = """\
camera: {name: dock, fps: 5}
zones:
  site: {polygon: [[0, 0], [1, 0], [1, 1], [0, 1]]}
rules:
  intruders: {kind: restricted_zone, zone: site, labels: [person]}
"""
CITYBRAIN = Path(sys.executable).with_name("citybrain")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "camera.yaml"
    path.write_text(CONFIG)
    return path


def _wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stop_signal_mid_run_keeps_what_was_found(
    signum: signal.Signals, code: int,
    samples_dir: Path, model_dir: Path, config: Path, tmp_path: Path,
) -> None:  # fmt: skip
    out = tmp_path / "out"
    env = {**os.environ, "CITYBRAIN_MODEL_DIR": str(model_dir), "OMP_NUM_THREADS": "1"}
    command = [
        str(CITYBRAIN), "analyze", str(samples_dir / CLIP), "-c", str(config), "-o", str(out),
        "--realtime", "--threads", "1",
    ]  # fmt: skip
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            # A snapshot is written when an event starts: the event is open now.
            _wait_for(lambda: any((out / "snapshots").glob("*.jpg")), 120, "an event to start")
            assert process.poll() is None, "the clip must still be playing"
            process.send_signal(signum)
            stdout, stderr = process.communicate(timeout=60)
        finally:
            process.kill()
    assert process.returncode == code, stderr
    assert signum.name in stderr
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert events, "the open event ends when the analysis stops, and is written"
    assert all(event["end"] is not None for event in events)
    assert all((out / event["snapshot"]).is_file() for event in events)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["interrupted"] is True and stats["events"] == len(events)
    assert stats["frames_analysed"] > 0
    assert json.loads(stdout.splitlines()[-1]) == stats


def _garbage(folder: Path) -> str:
    path = folder / "garbage.mp4"
    path.write_bytes(b"\x00not a video\xff" * 1000)
    return str(path)


def _missing(folder: Path) -> str:
    return str(folder / "missing.mp4")


@pytest.mark.parametrize("make_source", [_missing, _garbage], ids=["missing", "corrupt"])
@pytest.mark.parametrize("existing", [False, True], ids=["new-folder", "existing-folder"])
def test_a_source_that_cannot_be_read_leaves_no_half_made_folder(
    make_source: Callable[[Path], str], existing: bool,
    model_dir: Path, config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("CITYBRAIN_MODEL_DIR", str(model_dir))
    out = tmp_path / "results" / "run1"
    if existing:  # a folder the user named, with what was there before: left as it was
        out.mkdir(parents=True)
        (out / "notes.txt").write_text("mine")
    result = CliRunner().invoke(
        app, ["analyze", make_source(tmp_path), "-c", str(config), "-o", str(out), "-q"]
    )
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error: ")
    if existing:
        assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
        assert (out / "notes.txt").read_text() == "mine"
    else:
        assert not (tmp_path / "results").exists()


def test_a_bad_model_leaves_no_folder(config: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(CONFIG + f"detector: {{model: {tmp_path / 'nowhere.onnx'}}}\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["analyze", _garbage(tmp_path), "-c", str(bad), "-o", str(out)]
    )
    assert result.exit_code == 1, result.output
    assert "nowhere.onnx" in result.output
    assert not out.exists()


def test_an_output_path_that_cannot_be_a_folder_fails_before_any_work(
    config: Path, tmp_path: Path
) -> None:
    taken = tmp_path / "taken"
    taken.write_text("a file")
    result = CliRunner().invoke(
        app, ["analyze", _missing(tmp_path), "-c", str(config), "-o", str(taken / "out")]
    )
    assert result.exit_code == 1, result.output
    # Said before the source is even looked at (and before the models load).
    assert f"cannot write to output folder {taken / 'out'}" in result.output
