"""Shared fixtures: where the real footage and models live (read from ../shared, never copied)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = ROOT.parent / "shared"

#: Clips the footage README lists for development. The evaluation clips are never used in tests.
DEVELOPMENT_CLIPS = (
    "worker-zone-detection.mp4",
    "person-bicycle-car-detection.mp4",
    "car-detection.mp4",
    "one-by-one-person-detection.mp4",
    "face-demographics-walking-and-pause.mp4",
)


def _dir_from_env(var: str, default: Path) -> Path:
    return Path(os.environ.get(var) or default)


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The folder of development clips (``CITYBRAIN_SAMPLES``, default ``../shared/footage``)."""
    path = _dir_from_env("CITYBRAIN_SAMPLES", DEFAULT_SHARED / "footage")
    if not (path / DEVELOPMENT_CLIPS[0]).is_file():
        pytest.skip(f"development clips not found in {path}: set CITYBRAIN_SAMPLES")
    return path


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The local model folder (``CITYBRAIN_MODEL_DIR``, default ``../shared/models``)."""
    path = _dir_from_env("CITYBRAIN_MODEL_DIR", DEFAULT_SHARED / "models")
    if not (path / "yolox_nano.onnx").is_file():
        pytest.skip(f"yolox_nano.onnx not found in {path}: set CITYBRAIN_MODEL_DIR")
    return path


@pytest.fixture(scope="session")
def hardhat_dataset() -> Path:
    """The hard-hat dataset (``CITYBRAIN_DATASETS``, default ``../shared/datasets``)."""
    path = _dir_from_env("CITYBRAIN_DATASETS", DEFAULT_SHARED / "datasets") / "hard-hat-workers"
    if not (path / "valid" / "images").is_dir():
        pytest.skip(f"hard-hat dataset not found in {path}: set CITYBRAIN_DATASETS")
    return path


@pytest.fixture
def models(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the engine, and worker processes (spawned: they inherit the environment), at the
    model folder."""
    monkeypatch.setenv("CITYBRAIN_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return model_dir


# The real RTSP server and its fixtures, for every test folder.
from support.rtsp import closed_port, rtsp_available, rtsp_server  # noqa: E402

__all__ = [
    "closed_port",
    "hardhat_dataset",
    "model_dir",
    "models",
    "rtsp_available",
    "rtsp_server",
    "samples_dir",
]
