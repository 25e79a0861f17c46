"""End-to-end fixtures: the server's environment and a real RTSP server."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.serving import SYSTEM_PYTHON, RtspProcess


@pytest.fixture(scope="module")
def server_env(model_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("CITYBRAIN_SAMPLES", "CITYBRAIN_DATA"):  # no demo cameras; --data decides
        env.pop(var, None)
    env.update(CITYBRAIN_MODEL_DIR=str(model_dir), OMP_NUM_THREADS="1")
    return env


@pytest.fixture
def rtsp(samples_dir: Path, tmp_path: Path) -> Iterator[RtspProcess]:
    """A running RTSP server looping worker-zone-detection.mp4; skips without GStreamer."""
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0')"],
        capture_output=True, check=False, timeout=60,
    )  # fmt: skip
    if probe.returncode != 0:
        pytest.skip("GStreamer RTSP server bindings missing (scripts/apt-packages.txt)")
    server = RtspProcess(samples_dir / "worker-zone-detection.mp4", tmp_path / "rtsp.log")
    server.start()
    yield server
    server.kill()
