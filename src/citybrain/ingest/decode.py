"""PyAV plumbing: open a source, decode its video frames skipping corrupt ones, convert to BGR."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import av
import av.error
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


def open_file(path: str) -> InputContainer:
    """Open a local video file.

    Raises:
        SourceNotFoundError: ``path`` does not exist or is not a file.
        CorruptSourceError: the file is not a video PyAV can read.
    """
    local = Path(path.removeprefix("file://"))
    if not local.is_file():
        what = "is a directory, not a video file" if local.is_dir() else "does not exist"
        raise SourceNotFoundError(f"video file {local} {what}")
    try:
        container = av.open(str(local), mode="r")
    except av.error.FFmpegError as exc:
        raise CorruptSourceError(f"{local} is not a readable video file: {exc.strerror}") from exc
    _check_video(container, str(local))
    return container


def open_network(url: str, kind: SourceKind, options: ReaderOptions) -> InputContainer:
    """Open a network stream, bounded by the open and read timeouts.

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
    container = av.open(url, mode="r", options=av_options, timeout=timeout)
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
) -> Iterator[VideoFrame]:
    """Decoded frames of the first video stream, skipping (and reporting) damaged ones.

    A packet the decoder rejects, or a frame it marks corrupt, is skipped and ``on_corrupt``
    called; decoding goes on with the next packet.

    Raises:
        CorruptSourceError: the demuxer failed many times in a row.
        av.error.FFmpegError, OSError: reading failed (for a network source: disconnected).
    """
    stream = container.streams.video[0]
    if not stream.codec_context.is_open:  # a file replayed in a loop keeps its decoder
        stream.thread_type = thread_type
        stream.codec_context.options = dict(DECODER_OPTIONS)
    for packet in _packets(container, stream, on_corrupt):
        try:
            frames = stream.decode(packet)
        except (av.error.InvalidDataError, av.error.UndefinedError, av.error.BugError):
            on_corrupt()
            continue
        for frame in frames:
            if frame.is_corrupt:
                on_corrupt()
            else:
                yield frame


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
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def convert(self, frame: VideoFrame) -> Image:
        reformatter = getattr(self._local, "reformatter", None)
        if reformatter is None:
            reformatter = self._local.reformatter = VideoReformatter()
        bgr = reformatter.reformat(frame, format="bgr24")
        return cast(Image, bgr.to_ndarray())


class ThumbnailMaker:
    """Small grey copies of decoded frames (for the motion gate), through one reused reformatter.

    Scaling the decoder's luma plane in swscale costs a fraction of converting to BGR and then
    shrinking, and it runs on the decode thread, off the analysis thread.
    """

    def __init__(self, width: int) -> None:
        self._width = width
        self._reformatter = VideoReformatter()

    def make(self, frame: VideoFrame) -> Image:
        width = min(self._width, frame.width)
        height = max(2, round(frame.height * width / frame.width / 2) * 2)
        grey = self._reformatter.reformat(
            frame, format="gray", width=width, height=height, interpolation="AREA"
        )
        return cast(Image, grey.to_ndarray())


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
