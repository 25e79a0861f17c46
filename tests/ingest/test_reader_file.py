"""Reader on real development clips: counts, timestamps, loop, pacing, drops, broken files."""

from __future__ import annotations

import random
import shutil
import time
from itertools import pairwise
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from citybrain.core.frame import Frame
from citybrain.errors import CorruptSourceError, SourceNotFoundError
from citybrain.ingest import Reader, ReaderOptions, ReaderStats

WORKER = "worker-zone-detection.mp4"  # 480x270, 15 fps, 71 frames, 4.73 s


def read_all(reader: Reader, limit: int = 10_000) -> list[Frame]:
    frames: list[Frame] = []
    while len(frames) < limit and (frame := reader.read(timeout=30)) is not None:
        frames.append(frame)
    return frames


def increasing(frames: list[Frame]) -> bool:
    pairs = pairwise(frames)
    return all(b.timestamp > a.timestamp and b.index > a.index for a, b in pairs)


def test_samples_worker_clip_at_5_fps(samples_dir: Path) -> None:
    with Reader(str(samples_dir / WORKER), ReaderOptions(fps=5)) as reader:
        frames = read_all(reader)
        assert reader.read(timeout=1) is None  # the end stays the end
        stats = reader.stats
    # 6 non-reference frames between sampled ones were never decoded; all 71 were seen.
    assert (stats.frames_decoded, stats.frames_skipped) == (65, 6)
    assert (stats.frames_sampled, len(frames)) == (24, 24)
    assert (stats.frames_dropped, stats.frames_corrupt, stats.reconnects) == (0, 0, 0)
    assert (stats.width, stats.height, stats.online, stats.last_error) == (480, 270, False, None)
    assert increasing(frames)
    assert [f.index for f in frames[:4]] == [0, 3, 6, 9]
    assert frames[-1].timestamp == pytest.approx(4.6)
    assert frames[0].image.shape == (270, 480, 3) and frames[0].image.dtype == np.uint8


def test_pixels_are_bgr_of_the_right_frame(samples_dir: Path) -> None:
    path = str(samples_dir / WORKER)
    with av.open(path) as container:
        expected = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    with Reader(path, ReaderOptions(fps=None)) as reader:
        frames = read_all(reader)
    assert len(frames) == 71 == reader.stats.frames_sampled
    assert [f.index for f in frames] == list(range(71))
    # BGR pixels are made on first use, on the consumer's side, never for frames left unused.
    assert not any(frame.loaded for frame in frames)
    for frame in frames[::10]:
        np.testing.assert_array_equal(frame.image, expected[frame.index])
        assert frame.loaded and (frame.width, frame.height) == (480, 270)
    assert sum(frame.loaded for frame in frames) == len(frames[::10])
    assert frames[1].timestamp == pytest.approx(1 / 15)


def test_frame_threading_keeps_timestamps(samples_dir: Path) -> None:
    runs = {}
    for thread_type in ("SLICE", "AUTO"):
        options = ReaderOptions(fps=5, thread_type=thread_type)
        with Reader(str(samples_dir / WORKER), options) as reader:
            runs[thread_type] = [(f.index, f.timestamp) for f in read_all(reader)]
    assert len(runs["AUTO"]) == 24 and runs["AUTO"] == runs["SLICE"]


def test_loop_keeps_time_increasing(samples_dir: Path) -> None:
    with Reader(str(samples_dir / WORKER), ReaderOptions(loop=True)) as reader:
        frames = read_all(reader, limit=200)  # almost three passes
        assert reader.running
    assert len(frames) == 200 and increasing(frames)
    assert [f.index for f in frames] == list(range(200))
    assert frames[71].timestamp == pytest.approx(71 / 15)  # next pass, one frame later
    assert frames[199].timestamp == pytest.approx(199 / 15)
    np.testing.assert_array_equal(frames[71].image, frames[0].image)


def test_realtime_takes_about_the_clip_duration(samples_dir: Path) -> None:
    options = ReaderOptions(fps=5, realtime=True)
    start = time.monotonic()
    with Reader(str(samples_dir / WORKER), options) as reader:
        first = reader.read(timeout=10)
        mid_run = reader.stats
        frames = [first, *read_all(reader)]
    elapsed = time.monotonic() - start
    assert 4.0 < elapsed < 8.0  # the clip lasts 4.73 s
    assert mid_run.online
    assert len(frames) == 24 and reader.stats.frames_dropped == 0


def test_slow_consumer_of_realtime_source_drops_oldest(samples_dir: Path) -> None:
    options = ReaderOptions(fps=5, realtime=True, queue_size=2)
    with Reader(str(samples_dir / WORKER), options) as reader:
        frames: list[Frame] = []
        while (frame := reader.read(timeout=10)) is not None:
            frames.append(frame)
            if len(frames) == 3:
                fps_in = reader.stats.fps_in
            time.sleep(0.5)  # 2 frames a second for a 5 fps stream
        stats = reader.stats
    assert stats.frames_sampled == 24
    assert stats.frames_dropped >= 8
    assert len(frames) + stats.frames_dropped == stats.frames_sampled
    assert increasing(frames)
    assert 10 < fps_in < 20  # decoding keeps the clip's 15 fps, whatever the consumer does


def test_slow_consumer_of_file_loses_nothing(samples_dir: Path) -> None:
    options = ReaderOptions(fps=5, queue_size=2)
    with Reader(str(samples_dir / WORKER), options) as reader:
        frames = []
        while (frame := reader.read(timeout=10)) is not None:
            frames.append(frame)
            time.sleep(0.02)
    assert len(frames) == 24 and reader.stats.frames_dropped == 0


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-clip.mp4"
    with pytest.raises(SourceNotFoundError, match=r"no-such-clip\.mp4"):
        Reader(str(missing))


@pytest.mark.parametrize("content", ["random", "text"])
def test_garbage_file_is_corrupt(tmp_path: Path, content: str) -> None:
    path = tmp_path / "garbage.mp4"
    rng = random.Random(3)
    data = rng.randbytes(200_000) if content == "random" else b"not a video\n" * 1000
    path.write_bytes(data)
    with pytest.raises(CorruptSourceError, match=r"garbage\.mp4"):
        Reader(str(path))


def packet_offsets(path: Path) -> list[tuple[int, bool]]:
    """Byte offset in the file and key-frame flag of each video packet."""
    with av.open(str(path)) as container:
        packets = [p for p in container.demux(video=0) if p.size]
    assert all(p.pos is not None for p in packets)
    return [(p.pos or 0, p.is_keyframe) for p in packets]


def test_corrupt_packets_in_the_middle_are_skipped_and_counted(
    samples_dir: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.mp4"
    shutil.copy(samples_dir / WORKER, broken)
    offsets = packet_offsets(broken)
    data = bytearray(broken.read_bytes())
    for number in (20, 50):  # two inter frames: break their NAL length prefix and payload
        position, key = offsets[number]
        assert not key
        data[position : position + 64] = b"\xff" * 64
    broken.write_bytes(bytes(data))

    with Reader(str(broken), ReaderOptions(fps=None)) as reader:
        frames = read_all(reader)
        stats = reader.stats
    assert stats.frames_corrupt >= 2
    assert 55 <= stats.frames_decoded < 71 and len(frames) == stats.frames_decoded
    assert increasing(frames)
    assert frames[-1].timestamp == pytest.approx(70 / 15)  # decoding went on to the end
    assert stats.last_error is None


def test_error_in_the_decode_thread_reaches_the_consumer(samples_dir: Path, tmp_path: Path) -> None:
    # The container header is intact, so the file opens; every frame's data is gone.
    broken = tmp_path / "empty-frames.mp4"
    shutil.copy(samples_dir / WORKER, broken)
    first = packet_offsets(broken)[0][0]
    data = bytearray(broken.read_bytes())
    data[first:] = bytes(len(data) - first)
    broken.write_bytes(bytes(data))
    with Reader(str(broken)) as reader:
        with pytest.raises(CorruptSourceError, match="no video frame could be decoded"):
            reader.read(timeout=10)
        assert reader.stats.frames_corrupt > 0
        assert "no video frame" in (reader.stats.last_error or "")


def test_close_stops_a_producer_blocked_on_a_full_queue(samples_dir: Path) -> None:
    reader = Reader(str(samples_dir / WORKER), ReaderOptions(loop=True, queue_size=1))
    assert reader.read(timeout=10) is not None
    time.sleep(0.1)  # the producer is now blocked on the full queue
    start = time.monotonic()
    reader.close()
    assert time.monotonic() - start < 1.0
    assert not reader.running
    assert reader.read(timeout=1) is None


ONE_BY_ONE = "one-by-one-person-detection.mp4"  # H.264 Main with B-frames, 10 fps
CARS = "car-detection.mp4"  # H.264 Baseline: no B-frames, nothing to skip


def sampled(path: Path, fps: float, skip: bool) -> tuple[list[tuple[float, int]], ReaderStats]:
    options = ReaderOptions(fps=fps, skip_unsampled=skip, thumbnail_width=200)
    with Reader(str(path), options) as reader:
        frames = read_all(reader)
        return [(f.timestamp, f.index) for f in frames], reader.stats


@pytest.mark.parametrize("fps", [2.0, 5.0, 8.0])
def test_skipping_unsampled_frames_keeps_the_sampled_frames_exactly(
    samples_dir: Path, fps: float
) -> None:
    path = samples_dir / ONE_BY_ONE
    decoded_all, full = sampled(path, fps, skip=False)
    skipping, stats = sampled(path, fps, skip=True)
    assert skipping == decoded_all  # same frames, same times, same indices
    assert full.frames_skipped == 0 and full.frames_decoded == 1394
    assert stats.frames_skipped > 0
    assert stats.frames_decoded + stats.frames_skipped == 1394
    assert stats.frames_sampled == full.frames_sampled == len(skipping)


def test_a_clip_without_b_frames_is_decoded_whole(samples_dir: Path) -> None:
    frames, stats = sampled(samples_dir / CARS, 5.0, skip=True)
    assert (stats.frames_decoded, stats.frames_skipped) == (377, 0)
    assert len(frames) == stats.frames_sampled == 151


def test_thumbnails_match_swscale_whichever_thread_makes_them(samples_dir: Path) -> None:
    with Reader(str(samples_dir / WORKER), ReaderOptions(fps=5, thumbnail_width=200)) as reader:
        frames = read_all(reader)
    with av.open(str(samples_dir / WORKER)) as container:
        decoded = list(container.decode(video=0))
    for frame in frames:
        expected = decoded[frame.index].reformat(
            format="gray", width=200, height=112, interpolation="AREA"
        )
        assert frame.thumbnail is not None and frame.thumbnail.shape == (112, 200)
        # The luma-plane path (pyramid, then bilinear; limited range stretched) stays within
        # a few grey levels of swscale's area-scaled grey; only the sharpest edges of this
        # clip's taped floor differ by more, and still by less than the gate's threshold (25).
        difference = np.abs(frame.thumbnail.astype(int) - expected.to_ndarray().astype(int))
        assert difference.mean() < 3.0 and np.percentile(difference, 99) < 25


def test_skipping_stays_exact_across_the_passes_of_a_looping_file(samples_dir: Path) -> None:
    runs = []
    for skip in (False, True):
        options = ReaderOptions(fps=5, loop=True, skip_unsampled=skip)
        with Reader(str(samples_dir / WORKER), options) as reader:
            frames = read_all(reader, limit=60)  # two and a half passes of 24
            runs.append([(round(f.timestamp, 6), f.index) for f in frames])
            skipped = reader.stats.frames_skipped
    assert runs[0] == runs[1]
    assert skipped > 6  # more than the first pass's


def test_frames_wider_than_max_width_come_scaled_down_in_the_conversion(
    samples_dir: Path,
) -> None:
    path = str(samples_dir / WORKER)  # 480x270
    with av.open(path) as container:
        first = next(iter(container.decode(video=0))).to_ndarray(format="bgr24")
    with Reader(path, ReaderOptions(fps=5, max_width=240)) as reader:
        frames = read_all(reader)
    assert frames and all((f.width, f.height) == (240, 136) for f in frames)
    # Until converted, a frame holds the decoder's whole picture: queue bounds count that.
    assert frames[0].nbytes == 480 * 270 * 3 // 2
    small = frames[0].image
    assert frames[0].nbytes == small.nbytes
    assert small.shape == (136, 240, 3)
    # The same picture, averaged down (not a crop, not another frame).
    expected = cv2.resize(first, (240, 136), interpolation=cv2.INTER_AREA)
    assert np.abs(small.astype(int) - expected.astype(int)).mean() < 3
    with Reader(path, ReaderOptions(fps=5, max_width=1920)) as reader:
        assert all((f.width, f.height) == (480, 270) for f in read_all(reader))  # never up
    with pytest.raises(ValueError, match="max_width"):
        ReaderOptions(max_width=0)
