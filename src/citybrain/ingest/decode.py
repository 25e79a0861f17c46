"""PyAV plumbing: open a source, decode its video frames skipping corrupt ones, convert to BGR."""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import av
import av.error
import cv2
import numpy as np
from av.codec.hwaccel import HWAccel
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.reformatter import VideoReformatter
from av.video.stream import VideoStream

from citybrain.core.frame import Image
from citybrain.errors import CorruptSourceError, SourceError, SourceNotFoundError
from citybrain.ingest.options import ReaderOptions
from citybrain.ingest.urls import SourceKind, redact_text

__all__ = [
    "BgrConverter",
    "FrameSkip",
    "decode_frames",
    "describe_error",
    "ensure_source_error",
    "frame_interval",
    "open_file",
    "open_network",
]

#: Demuxer errors in a row after which a source counts as unreadable.
MAX_DEMUX_ERRORS = 100
#: Make the decoder report damaged frames instead of concealing them, so they can be skipped.
DECODER_OPTIONS = {"err_detect": "explode"}


def open_file(path: str, hwaccel: HWAccel | None = None) -> InputContainer:
    """Open a local video file, to be decoded on the device ``hwaccel`` names (if any).

    Raises:
        SourceNotFoundError: ``path`` does not exist or is not a file.
        CorruptSourceError: the file is not a video PyAV can read.
    """
    local = Path(path.removeprefix("file://"))
    if not local.is_file():
        what = "is a directory, not a video file" if local.is_dir() else "does not exist"
        raise SourceNotFoundError(f"video file {local} {what}")
    try:
        container = av.open(str(local), mode="r", hwaccel=hwaccel)
    except av.error.FFmpegError as exc:
        raise CorruptSourceError(f"{local} is not a readable video file: {exc.strerror}") from exc
    _check_video(container, str(local))
    return container


def open_network(
    url: str, kind: SourceKind, options: ReaderOptions, hwaccel: HWAccel | None = None
) -> InputContainer:
    """Open a network stream, bounded by the open and read timeouts, to be decoded on the
    device ``hwaccel`` names (if any).

    Raises:
        av.error.FFmpegError, OSError: the stream cannot be opened (the caller retries).
        CorruptSourceError: it opened but carries no video.
    """
    read_us = str(round(options.read_timeout * 1_000_000))
    # Probing for the frame rate would otherwise hold a live stream for ~2 s at every connect.
    av_options = {"analyzeduration": str(round(options.probe_seconds * 1_000_000))}
    if kind is SourceKind.RTSP:
        # TCP: no lost packets to smear frames; socket timeout so a dead server never hangs.
        av_options |= {"rtsp_transport": "tcp", "timeout": read_us}
    else:
        av_options["rw_timeout"] = read_us
    timeout: Any = (options.open_timeout, options.read_timeout)  # stub wants numbers.Real
    container = av.open(url, mode="r", options=av_options, timeout=timeout, hwaccel=hwaccel)
    _check_video(container, url)
    return container


def _check_video(container: InputContainer, name: str) -> None:
    if not container.streams.video:
        container.close()
        raise CorruptSourceError(f"{redact_text(name, name)} has no video stream")


def frame_interval(stream: VideoStream) -> float | None:
    """The stream's nominal seconds per frame, if it declares a rate."""
    rate = stream.average_rate or stream.guessed_rate
    return float(1 / rate) if rate else None


def decode_frames(
    container: InputContainer,
    on_corrupt: Callable[[], None],
    thread_type: str = "SLICE",
    skip: FrameSkip | None = None,
) -> Iterator[VideoFrame]:
    """Decoded frames of the first video stream, skipping (and reporting) damaged ones.

    A packet the decoder rejects, or a frame it marks corrupt, is skipped and ``on_corrupt``
    called; decoding goes on with the next packet. With ``skip``, frames it does not want are
    left undecoded where no other frame needs them (non-reference frames, e.g. most B-frames).

    Raises:
        CorruptSourceError: the demuxer failed many times in a row.
        av.error.FFmpegError, OSError: reading failed (for a network source: disconnected).
    """
    stream = container.streams.video[0]
    if not stream.codec_context.is_open:  # a file replayed in a loop keeps its decoder
        stream.thread_type = thread_type
        stream.codec_context.options = dict(DECODER_OPTIONS)
    skipper = _Skipper(stream, skip) if skip is not None else None
    for packet in _packets(container, stream, on_corrupt):
        if skipper is not None:
            skipper.before(packet)
        try:
            frames = stream.decode(packet)
        except (av.error.InvalidDataError, av.error.UndefinedError, av.error.BugError):
            on_corrupt()
            continue
        for frame in frames:
            if skipper is not None and frame.pts is not None:
                skipper.reached(frame.pts)
            if frame.is_corrupt:
                on_corrupt()
            else:
                yield frame
    if skipper is not None:
        skipper.finish()


@dataclass(frozen=True, slots=True)
class FrameSkip:
    """Which frames a consumer does not want, so that decoding them may be left out.

    Attributes:
        unwanted: called with a packet's timestamp (stream seconds) before it is decoded;
            true when the consumer would surely not take a frame of that time.
        skipped: called, in presentation order, with the timestamp of each frame that was
            in fact left undecoded, before the next decoded frame is handed on.
    """

    unwanted: Callable[[float], bool]
    skipped: Callable[[float], None]


class _Skipper:
    """Sets the decoder to drop non-reference frames for unwanted packets, and reports which
    frames never came out (a frame whose successor in presentation order came out is gone)."""

    def __init__(self, stream: VideoStream, skip: FrameSkip) -> None:
        self._context = stream.codec_context
        base = stream.time_base
        # A float: Fraction arithmetic per packet costs more than the rest of this class.
        self._time_base = float(base) if base is not None else None
        self._skip = skip
        # A looping file keeps its decoder: start every pass decoding everything.
        self._context.skip_frame = "DEFAULT"
        self._dropping = False
        self._waiting: list[int] = []  # timestamps of packets sent while dropping (a heap)

    def before(self, packet: av.Packet[VideoStream]) -> None:
        pts, base = packet.pts, self._time_base
        drop = pts is not None and base is not None and self._skip.unwanted(pts * base)
        if drop != self._dropping:
            self._context.skip_frame = "NONREF" if drop else "DEFAULT"
            self._dropping = drop
        if drop and pts is not None:
            heapq.heappush(self._waiting, pts)
            if len(self._waiting) > _MAX_WAITING:  # timestamps out of order: give up on them
                self._waiting.clear()

    def reached(self, pts: int) -> None:
        """A frame at ``pts`` came out: the dropped ones before it are gone for good."""
        waiting, base = self._waiting, self._time_base
        while waiting and base is not None and waiting[0] <= pts:
            gone = heapq.heappop(waiting)
            if gone != pts:  # a reference frame among them was decoded after all
                self._skip.skipped(gone * base)

    def finish(self) -> None:
        """The stream ended: whatever is still waiting was dropped."""
        base = self._time_base
        while self._waiting and base is not None:
            self._skip.skipped(heapq.heappop(self._waiting) * base)


#: Packets awaiting their outcome at most (a reordering decoder holds a few frames).
_MAX_WAITING = 64


def _packets(
    container: InputContainer, stream: VideoStream, on_corrupt: Callable[[], None]
) -> Iterator[av.Packet[VideoStream]]:
    errors = 0
    while True:
        try:
            # A generator that raised is finished; a fresh one resumes where the demuxer is.
            for packet in container.demux(stream):
                errors = 0
                yield packet
            return
        except av.error.InvalidDataError as exc:
            on_corrupt()
            errors += 1
            if errors >= MAX_DEMUX_ERRORS:
                raise CorruptSourceError(f"cannot demux: {exc.strerror}") from exc


class BgrConverter:
    """Converts decoded frames to BGR arrays through reused ``VideoReformatter`` objects.

    A reformatter keeps its SwsContext between calls (rebuilding it only when the frame size or
    format changes); ``VideoFrame.to_ndarray(format=...)`` would build a new one every frame.
    Frames are converted where they are used, which may be any thread, so each thread gets its
    own reformatter (an SwsContext is not safe to share).

    Args:
        max_width: frames wider than this come out scaled down to it, their shape kept (even
            sizes), in the same pass as the colour conversion (area averaging).
    """

    def __init__(self, max_width: int | None = None) -> None:
        self._local = threading.local()
        self._max_width = max_width

    def size(self, width: int, height: int) -> tuple[int, int]:
        """The size a ``width`` x ``height`` frame comes out at."""
        limit = self._max_width
        if limit is None or width <= limit:
            return width, height
        scaled = max(2, round(height * limit / width / 2) * 2)
        return limit - limit % 2, scaled

    def convert(self, frame: VideoFrame) -> Image:
        reformatter = getattr(self._local, "reformatter", None)
        if reformatter is None:
            reformatter = self._local.reformatter = VideoReformatter()
        width, height = self.size(frame.width, frame.height)
        if (width, height) == (frame.width, frame.height):
            bgr = reformatter.reformat(frame, format="bgr24")
        else:
            bgr = reformatter.reformat(
                frame, format="bgr24", width=width, height=height, interpolation="AREA"
            )
        return cast(Image, bgr.to_ndarray())


#: Pixel formats whose first plane is the full-size luma, 8 bits per sample.
_LUMA_FIRST = frozenset(
    {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21"}
)
_FULL_RANGE = frozenset({"yuvj420p", "yuvj422p", "yuvj444p"})
_JPEG_RANGE = 2  # AVCOL_RANGE_JPEG: full-range samples whatever the format
#: Limited-range luma (16-235) stretched to 0-255, as swscale's grey conversion does.
_EXPAND = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)


class ThumbnailMaker:
    """Small grey copies of decoded frames, for the motion gate.

    Where the decoder's picture starts with an 8-bit luma plane (nearly every camera), that
    plane is halved with OpenCV's Gaussian pyramid (which averages out sensor noise as an area
    filter does) and brought to size bilinearly: half the cost of swscale's area scaling, within
    about one grey level of it. Other formats go through swscale (one reformatter per thread:
    an SwsContext is not safe to share). It runs on the decode thread or, where that thread is
    the slower one, on the consumer's.
    """

    def __init__(self, width: int) -> None:
        self._width = width
        self._local = threading.local()

    def make(self, frame: VideoFrame) -> Image:
        width = min(self._width, frame.width)
        height = max(2, round(frame.height * width / frame.width / 2) * 2)
        name = frame.format.name
        if name in _LUMA_FIRST:
            plane = frame.planes[0]
            luma = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
            small = _shrink(luma[: frame.height, : frame.width], width, height)
            full = name in _FULL_RANGE or frame.color_range == _JPEG_RANGE
            return small if full else cast(Image, cv2.LUT(small, _EXPAND))
        reformatter = getattr(self._local, "reformatter", None)
        if reformatter is None:
            reformatter = self._local.reformatter = VideoReformatter()
        grey = reformatter.reformat(
            frame, format="gray", width=width, height=height, interpolation="AREA"
        )
        return cast(Image, grey.to_ndarray())


def _shrink(grey: Image, width: int, height: int) -> Image:
    while grey.shape[1] >= 2 * width and grey.shape[0] >= 2 * height:
        grey = cast(Image, cv2.pyrDown(grey))
    return cast(Image, cv2.resize(grey, (width, height), interpolation=cv2.INTER_LINEAR))


def describe_error(exc: BaseException, source: str) -> str:
    """A one-line account of ``exc`` with ``source``'s credentials redacted."""
    if isinstance(exc, av.error.ExitError):  # PyAV's timeout interrupted FFmpeg
        return "timed out waiting for data"
    return redact_text(str(exc), source)


def ensure_source_error(exc: BaseException, source: str, display: str) -> BaseException:
    """``exc`` as a :class:`SourceError` naming ``display`` (credentials redacted), if it is
    an FFmpeg or OS error; anything else (a bug) is returned unchanged."""
    if isinstance(exc, av.error.FFmpegError | OSError):
        error = SourceError(f"reading {display} failed: {describe_error(exc, source)}")
        error.__cause__ = exc
        return error
    return exc
