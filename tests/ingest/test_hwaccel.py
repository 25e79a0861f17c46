"""Hardware decoding: used where a device works, software decoding (and the same frames)
wherever it does not, and never a failed camera because of it.

The machines the suite runs on have no GPU, so a named device fails for real here (FFmpeg
cannot create a CUDA device context). Where a test needs a device that passes the probe but
fails when the stream is opened, it skips the probe (``choose_device``) and lets FFmpeg fail
at the open, as it does on a machine whose driver refuses the stream.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from citybrain.config import parse_config
from citybrain.core.decoding import HwaccelSetting
from citybrain.errors import ConfigError, CorruptSourceError, SourceUnreachableError
from citybrain.ingest import Reader, ReaderOptions
from citybrain.ingest import hwaccel as hw
from citybrain.ingest import reader as reader_module

CLIP = "worker-zone-detection.mp4"  # 480x270, 15 fps, 71 frames
CUDA_PROBLEM = hw.device_problem("cuda")
needs_no_cuda = pytest.mark.skipif(CUDA_PROBLEM is None, reason="this machine decodes on CUDA")


def images(path: Path, hwaccel: HwaccelSetting) -> tuple[list[np.ndarray], str]:
    with Reader(str(path), ReaderOptions(fps=5, hwaccel=hwaccel)) as reader:
        frames = list(reader)
        return [f.image for f in frames], reader.stats.decoder


@pytest.fixture
def forced_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """Readers decode on ``cuda`` without asking the probe first."""
    monkeypatch.setattr(reader_module, "choose_device", lambda setting, name: "cuda")


@needs_no_cuda
def test_named_device_that_does_not_work_means_software_and_the_same_frames(
    samples_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = samples_dir / CLIP
    software, decoder = images(path, "none")
    assert decoder == "software"
    with caplog.at_level(logging.WARNING):
        fallback, decoder = images(path, "cuda")
    assert decoder == "software"
    assert len(fallback) == len(software) == 24
    assert all(np.array_equal(a, b) for a, b in zip(fallback, software, strict=True))
    warning = caplog.text
    assert "decoding in software" in warning and "cuda" in warning and CLIP in warning


def test_auto_decodes_on_whatever_works_here_without_a_word(
    samples_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    working = [d for d in hw.AUTO_DEVICES if hw.device_problem(d) is None]
    with caplog.at_level(logging.WARNING):
        frames, decoder = images(samples_dir / CLIP, "auto")
    assert len(frames) == 24
    assert decoder == (working[0] if working else "software")
    assert "decoding in software" not in caplog.text


@needs_no_cuda
def test_device_failing_at_the_open_falls_back_to_software(
    samples_dir: Path, forced_cuda: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        frames, decoder = images(samples_dir / CLIP, "cuda")
    assert decoder == "software" and len(frames) == 24
    assert "opening it on cuda failed" in caplog.text


@needs_no_cuda
def test_the_source_s_own_error_wins_over_the_device_s(
    tmp_path: Path, forced_cuda: None, closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    with pytest.raises(CorruptSourceError, match="not a readable video"):
        Reader(str(broken), ReaderOptions(hwaccel="cuda"))
    # A dead network source is the network's fault: the device is not given up on.
    options = ReaderOptions(
        hwaccel="cuda", reconnect_initial=0.05, reconnect_max=0.1, max_reconnects=1
    )
    url = f"rtsp://127.0.0.1:{closed_port}/x"
    with caplog.at_level(logging.WARNING), Reader(url, options) as reader:
        with pytest.raises(SourceUnreachableError):
            reader.read(timeout=20)
        assert reader._device == "cuda"
    assert "decoding in software" not in caplog.text


@pytest.mark.skipif(CUDA_PROBLEM is not None, reason=f"no CUDA decoding here: {CUDA_PROBLEM}")
def test_cuda_decodes_the_same_pictures(samples_dir: Path) -> None:
    path = samples_dir / CLIP
    software, _ = images(path, "none")
    device, decoder = images(path, "cuda")
    assert decoder == "cuda" and len(device) == len(software)
    for a, b in zip(device, software, strict=True):  # NVDEC's colour path may round apart
        error = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
        assert 10 * np.log10(255**2 / max(error, 1e-9)) > 40


def test_config_names_the_setting_and_its_choices() -> None:
    assert parse_config("camera: {name: c}").camera.hwaccel == "auto"
    assert parse_config("camera: {name: c, hwaccel: none}").camera.hwaccel == "none"
    with pytest.raises(ConfigError) as info:
        parse_config("camera: {name: c, hwaccel: gpu}")
    message = str(info.value)
    assert "camera.hwaccel" in message and "'cuda'" in message and "'auto'" in message


def test_a_device_type_this_ffmpeg_lacks_is_named_as_such() -> None:
    # PyAV's Linux wheels carry no macOS VideoToolbox; the reason says what is missing.
    assert hw.device_problem("videotoolbox") == "this FFmpeg build has no videotoolbox support"
    assert hw.choose_device("none", "x") is None
