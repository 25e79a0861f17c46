"""Read a video source on its own thread and hand sampled BGR frames to one consumer."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from functools import partial
from types import TracebackType

import av.error
from av.codec.hwaccel import HWAccel
from av.container import InputContainer
from av.video.frame import VideoFrame

from citybrain.core.frame import Frame, Image
from citybrain.errors import CorruptSourceError, SourceUnreachableError
from citybrain.ingest.decode import (
    BgrConverter,
    FrameSkip,
    ThumbnailMaker,
    decode_frames,
    describe_error,
    ensure_source_error,
    frame_interval,
    open_file,
    open_network,
)
from citybrain.ingest.frame_queue import FrameQueue
from citybrain.ingest.hwaccel import SOFTWARE, choose_device, hwaccel_for
from citybrain.ingest.options import ReaderOptions
from citybrain.ingest.sampler import Sampler
from citybrain.ingest.stats import ReaderStats, StatsRecorder
from citybrain.ingest.timeline import Pacer, Timeline
from citybrain.ingest.urls import SourceKind, redact_url, source_kind

__all__ = ["Reader"]

log = logging.getLogger(__name__)

_STREAM_ERRORS = (av.error.FFmpegError, OSError, CorruptSourceError)
#: With this many frames waiting for the consumer, the decode thread makes thumbnails itself.
THUMBNAILS_AHEAD = 2


class Reader:
    """Decodes a file, RTSP, RTMP or HTTP source and delivers the frames a :class:`Sampler`
    picks, as :class:`Frame` objects whose BGR pixels are made on first use, through a bounded
    queue.

    A file is opened at once (so a missing or unreadable file raises here); a network source is
    opened by the decode thread, and live sources reconnect with exponential backoff when they
    end or fail. Errors of the decode thread are raised by :meth:`read`.

    Args:
        source: a file path or an ``rtsp://``, ``rtmp://`` or ``http(s)://`` URL.
        options: how to read it.

    Raises:
        SourceNotFoundError: the file does not exist.
        CorruptSourceError: the file is not a readable video.
        SourceError: the URL scheme is not supported.

    Example:
        >>> with Reader("clip.mp4", ReaderOptions(fps=5)) as reader:  # doctest: +SKIP
        ...     for frame in reader:
        ...         detect(frame.image)
    """

    def __init__(self, source: str, options: ReaderOptions | None = None) -> None:
        self._source = source
        self._options = options or ReaderOptions()
        self._kind = source_kind(source)
        self.url = redact_url(source)
        self._queue = FrameQueue(self._options.queue_size, self._options.queue_bytes)
        self._stop = threading.Event()
        self._recorder = StatsRecorder()
        self._sampler = Sampler(self._options.fps)
        self._timeline = Timeline()
        self._converter = BgrConverter(self._options.max_width)
        width = self._options.thumbnail_width
        self._thumbnails = None if width is None else ThumbnailMaker(width)
        self._index = 0
        # Frames the sampler would not take need no decoding where nothing depends on them.
        skips = self._options.fps is not None and self._options.skip_unsampled
        self._skip = FrameSkip(self._unwanted, self._skipped) if skips else None
        self._device = choose_device(self._options.hwaccel, self.url)
        first = None if self._kind.is_network else self._open()
        self._thread = threading.Thread(
            target=self._run, args=(first,), name=f"ingest {self.url}", daemon=True
        )
        self._thread.start()

    @property
    def stats(self) -> ReaderStats:
        """A snapshot of the counters."""
        return self._recorder.snapshot()

    @property
    def running(self) -> bool:
        """Whether the decode thread is still alive."""
        return self._thread.is_alive()

    def read(self, timeout: float | None = None) -> Frame | None:
        """The next sampled frame, or ``None`` at the end of a finite source (or after close).

        Raises:
            TimeoutError: no frame within ``timeout`` seconds.
            SourceError: the source failed (e.g. :class:`SourceUnreachableError`).
        """
        return self._queue.get(timeout)

    def __iter__(self) -> Iterator[Frame]:
        while (frame := self.read()) is not None:
            yield frame

    def close(self, timeout: float = 5.0) -> None:
        """Stop the decode thread and wait up to ``timeout`` seconds for it.

        A thread blocked inside a network read can take up to ``read_timeout`` to notice.
        """
        self._stop.set()
        self._queue.cancel()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def __enter__(self) -> Reader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- decode thread -------------------------------------------------------------------

    def _run(self, container: InputContainer | None) -> None:
        error: BaseException | None = None
        try:
            if container is not None:
                self._run_finite(container)
            else:
                self._run_network()
        except BaseException as exc:  # delivered to the consumer, never lost with the thread
            error = ensure_source_error(exc, self._source, self.url)
            self._note_error(str(error))
        finally:
            self._recorder.set_online(False)
            self._queue.finish(error)

    def _run_finite(self, container: InputContainer) -> None:
        """Play a file (or an HTTP stream of known length) once, or forever with ``loop``."""
        self._recorder.set_online(True)
        drop = self._options.realtime
        pacer = Pacer(self._stop) if self._options.realtime else None
        try:
            while True:
                if self._play(container, live=False, drop=drop, pacer=pacer) == 0:
                    raise CorruptSourceError(f"{self.url}: no video frame could be decoded")
                if not self._options.loop or self._stop.is_set():
                    return
                container = self._rewind(container)
        finally:
            container.close()

    def _rewind(self, container: InputContainer) -> InputContainer:
        # Seeking an HTTP stream can "succeed" and then fail on the next read: reopen instead.
        if not self._kind.is_network:
            try:
                container.seek(0)
                return container
            except _STREAM_ERRORS:
                pass
        container.close()
        return self._open()

    def _run_network(self) -> None:
        retries = 0
        connected = False
        while not self._stop.is_set():
            container = self._try_open()
            if container is not None:
                if not self._is_live(container):
                    self._run_finite(container)
                    return
                if connected:
                    self._recorder.reconnected()
                connected = True
                if self._play_live(container) > 0:
                    retries = 0
            if self._stop.is_set():
                return
            limit = self._options.max_reconnects
            if limit is not None and retries >= limit:
                raise SourceUnreachableError(
                    f"{self.url} unreachable: {retries + 1} connection attempts failed in a row "
                    f"(last error: {self._recorder.snapshot().last_error})"
                )
            self._stop.wait(self._options.backoff(retries))
            retries += 1

    def _is_live(self, container: InputContainer) -> bool:
        if self._kind is not SourceKind.HTTP:
            return True
        if self._options.live is not None:
            return self._options.live
        return container.duration is None

    def _open(self) -> InputContainer:
        accel = hwaccel_for(self._device)
        try:
            return self._open_on(accel)
        except _STREAM_ERRORS as exc:
            if accel is None:
                raise
            # Opened in software, the source is fine and the device was the trouble; if that
            # fails too, the source's own error is what the caller needs (the device may be fine).
            container = self._open_on(None)
            log.warning(
                "%s: decoding in software: opening it on %s failed: %s",
                self.url, self._device, describe_error(exc, self._source),
            )  # fmt: skip
            self._device = None
            return container

    def _open_on(self, accel: HWAccel | None) -> InputContainer:
        if self._kind.is_network:
            return open_network(self._source, self._kind, self._options, accel)
        return open_file(self._source, accel)

    def _try_open(self) -> InputContainer | None:
        try:
            return self._open()
        except _STREAM_ERRORS as exc:
            self._note_error(f"cannot open {self.url}: {describe_error(exc, self._source)}")
            log.warning("%s", self._recorder.snapshot().last_error)
            return None

    def _play_live(self, container: InputContainer) -> int:
        self._recorder.set_online(True)
        log.info("connected to %s (reconnects so far: %d)", self.url, self.stats.reconnects)
        try:
            frames = self._play(container, live=True, drop=True, pacer=None)
        finally:
            container.close()
            self._recorder.set_online(False)
        if not self._stop.is_set():
            log.warning("%s", self._recorder.snapshot().last_error)
        return frames

    def _play(
        self, container: InputContainer, *, live: bool, drop: bool, pacer: Pacer | None
    ) -> int:
        """Decode one segment (a pass over a file, a connection); returns frames decoded.

        Read errors end a live segment (recorded in the stats); elsewhere they propagate.
        """
        # A loop starts one frame after the last; a reconnection after the real outage time.
        gap = None if live else 0.0
        self._timeline.start_segment(frame_interval(container.streams.video[0]), gap)
        count = 0
        try:
            for av_frame in decode_frames(
                container, self._recorder.corrupt, self._options.thread_type, self._skip
            ):
                if self._stop.is_set():
                    break
                if count == 0:
                    self._note_decoder(container)
                self._deliver(av_frame, drop, pacer)
                count += 1
        except _STREAM_ERRORS as exc:
            if not live:
                raise
            self._note_error(f"{self.url} disconnected: {describe_error(exc, self._source)}")
        else:
            if live and not self._stop.is_set():
                self._note_error(f"{self.url} disconnected: end of stream")
        return count

    def _note_decoder(self, container: InputContainer) -> None:
        """Record what decodes this segment: FFmpeg decides at the first frame whether the
        device can take the stream (codec, profile, size) or decodes it in software."""
        on_device = container.streams.video[0].codec_context.is_hwaccel
        self._recorder.set_decoder(self._device if self._device and on_device else SOFTWARE)

    def _unwanted(self, pts: float) -> bool:
        stamp = self._timeline.peek(pts)
        return stamp is not None and self._sampler.rejects(stamp)

    def _skipped(self, pts: float) -> None:
        """A frame left undecoded: the clock and the sampler see it as if it had been."""
        timestamp = self._timeline.map(pts)
        self._index += 1
        self._recorder.skipped()
        if self._sampler.accept(timestamp):  # only where the stream's timestamps misbehave
            log.debug("%s: a skipped frame at %.3f s would have been sampled", self.url, timestamp)

    def _deliver(self, av_frame: VideoFrame, drop: bool, pacer: Pacer | None) -> None:
        timestamp = self._timeline.map(av_frame.time)
        index = self._index
        self._index += 1
        self._recorder.decoded(av_frame.width, av_frame.height)
        if pacer is not None:
            pacer.wait(timestamp)
        if not self._sampler.accept(timestamp):
            return
        thumbnail = self._thumbnail(av_frame)
        # BGR pixels are made only for the frames the consumer looks at (detector, snapshots):
        # converting every sampled frame here cost more than decoding it.
        width, height = self._converter.size(av_frame.width, av_frame.height)
        frame = Frame.deferred(
            partial(self._converter.convert, av_frame),
            width=width,
            height=height,
            timestamp=timestamp,
            index=index,
            thumbnail=thumbnail,
            decoded=(av_frame.width, av_frame.height),
        )
        self._recorder.sampled(self._queue.put(frame, drop_oldest=drop))

    def _thumbnail(self, av_frame: VideoFrame) -> Image | Callable[[], Image] | None:
        """The frame's thumbnail, made here while the consumer is behind (frames are waiting
        for it); otherwise left for the consumer to make, since it is waiting on this thread."""
        maker = self._thumbnails
        if maker is None:
            return None
        if len(self._queue) >= THUMBNAILS_AHEAD:
            return maker.make(av_frame)
        return partial(maker.make, av_frame)

    def _note_error(self, message: str) -> None:
        self._recorder.error(message)
