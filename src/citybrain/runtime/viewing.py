"""A camera's viewing stream beside its analysed substream: decoded only while someone watches.

A camera may name an analysis stream (a low-resolution substream, as cameras offer and as
Frigate's ``detect`` role uses) beside its viewing stream. The worker analyses the substream all
the time; the viewing stream costs a decoder only while someone watches the camera. It opens
when a live frame is first wanted and closes once none has been wanted for ``idle_seconds``
(the server's demand lease lapsed). A live frame is then the newest viewing frame, carrying the
newest analysed frame's objects scaled to it (:meth:`~citybrain.sinks.base.AnalysedFrame.on`):
the two streams' frames are not the same instants, so faces are looked for over the whole
viewing frame. Until the viewing stream gives a frame, or while it fails, live frames are the
analysed stream's, as for a camera without a substream.
"""

from __future__ import annotations

import logging
import time

from citybrain.core.decoding import HwaccelSetting
from citybrain.core.frame import Frame
from citybrain.errors import CitybrainError
from citybrain.ingest import Reader, ReaderOptions
from citybrain.ingest.urls import redact_text, redact_url
from citybrain.sinks.base import AnalysedFrame

__all__ = ["ViewingStream"]

log = logging.getLogger(__name__)

#: A viewing frame older than this is not shown (the stream stalled): the analysed one is.
STALE_SECONDS = 2.0
#: Seconds before a viewing stream that failed is opened again.
RETRY_SECONDS = 10.0


class ViewingStream:
    """The viewing stream of one camera, open only while live frames are wanted (verb:
    :meth:`live_frame`; one thread: the camera's).

    Args:
        source: the viewing stream (credentials are never logged).
        fps: live frames per second wanted (the stream is sampled at this rate).
        realtime: pace a file source like a camera; loop: replay it forever.
        idle_seconds: close the stream after this long without a live frame wanted.
        hwaccel: the device to decode it on (see :class:`ReaderOptions`).

    Attributes:
        shown: live frames taken from the viewing stream so far.
        opened: times the stream was opened.
    """

    def __init__(
        self,
        source: str,
        fps: float,
        *,
        realtime: bool,
        loop: bool,
        idle_seconds: float = 10.0,
        hwaccel: HwaccelSetting = "none",
    ) -> None:
        self._source = source
        self._options = ReaderOptions(
            fps=fps, queue_size=1, realtime=realtime, loop=loop, max_reconnects=None,
            read_timeout=5.0, hwaccel=hwaccel,
        )  # fmt: skip
        self._idle = idle_seconds
        self._reader: Reader | None = None
        self._newest: Frame | None = None
        self._newest_at = 0.0
        self._wanted_at = 0.0
        self._retry_at = 0.0
        self.shown = 0
        self.opened = 0

    @property
    def open(self) -> bool:
        """Whether the viewing stream is being decoded now."""
        return self._reader is not None

    def live_frame(self, analysed: AnalysedFrame) -> AnalysedFrame:
        """The live frame to show for ``analysed``: the newest viewing frame with its objects,
        or ``analysed`` itself while the viewing stream has none (opening it if need be)."""
        now = time.monotonic()
        self._wanted_at = now
        if self._reader is None:
            self._start(now)
            return analysed
        self._take_newest(now)
        if self._newest is None or now - self._newest_at > STALE_SECONDS:
            return analysed
        self.shown += 1
        return analysed.on(self._newest)

    def idle(self) -> None:
        """Close the stream when no live frame has been wanted for ``idle_seconds``."""
        if self._reader is not None and time.monotonic() - self._wanted_at > self._idle:
            self.close()

    def close(self) -> None:
        """Stop decoding the viewing stream (without waiting for its thread)."""
        reader, self._reader, self._newest = self._reader, None, None
        if reader is not None:
            reader.close(timeout=0)

    def _start(self, now: float) -> None:
        if now < self._retry_at:
            return
        try:
            self._reader = Reader(self._source, self._options)
        except CitybrainError as exc:
            self._failed(now, exc)
            return
        self.opened += 1

    def _take_newest(self, now: float) -> None:
        reader = self._reader
        assert reader is not None
        try:
            while True:  # what waits is at most the reader's one queued frame
                frame = reader.read(timeout=0)
                if frame is None:
                    raise CitybrainError("the viewing stream ended")
                self._newest, self._newest_at = frame, now
        except TimeoutError:
            return
        except CitybrainError as exc:
            self._failed(now, exc)
            self.close()

    def _failed(self, now: float, exc: CitybrainError) -> None:
        self._retry_at = now + RETRY_SECONDS
        log.warning(
            "viewing stream %s: %s; live frames come from the analysed stream",
            redact_url(self._source), redact_text(str(exc), self._source),
        )  # fmt: skip
