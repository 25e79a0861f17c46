"""The interface between the frame loop and its outputs.

The frame loop (:mod:`citybrain.runtime.loop`) analyses frames and hands what it finds to one
:class:`ResultSink`: ``analyze`` writes files (:class:`~citybrain.sinks.files.FileSink`), a
server's camera sends messages up to the server
(:class:`~citybrain.runtime.camera_sink.OutboxSink`).
Per analysed frame the loop calls :meth:`~ResultSink.events`, :meth:`~ResultSink.counts`,
:meth:`~ResultSink.analysed` and :meth:`~ResultSink.idle`, in that order; while it waits for a
frame, :meth:`~ResultSink.idle` alone.

A frame leaves only rendered (anonymised). The loop renders the frame an event starts on, because
every START needs its snapshot; every other frame is offered as an :class:`AnalysedFrame` that a
sink renders only if and when it wants it (a server's live view: at its own rate, only while
someone watches, on a render thread of its own).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from citybrain.core.detections import Detections
from citybrain.core.events import EventUpdate, LineCount
from citybrain.core.frame import Frame, Image

__all__ = ["AnalysedFrame", "FanOut", "ProgressSink", "ResultSink", "SinkBase"]


class Renderer(Protocol):
    """Renders a frame's image as it may leave the engine, given the objects found on it
    (``whole_frame``: they were found on another stream's frame, see :meth:`AnalysedFrame.on`)."""

    def __call__(
        self, image: Image, detections: Detections, *, whole_frame: bool = False
    ) -> Image: ...


@dataclass(frozen=True, slots=True)
class AnalysedFrame:
    """One analysed frame, as a sink is offered it.

    Attributes:
        timestamp: the frame's stream time, seconds.
        detections: the tracked objects on it.
        elsewhere: the objects were found on another stream's frame (see :meth:`on`).
    """

    timestamp: float
    detections: Detections
    _frame: Frame = field(repr=False)
    _render: Renderer = field(repr=False)
    elsewhere: bool = False

    @property
    def width(self) -> int:
        return self._frame.width

    @property
    def height(self) -> int:
        return self._frame.height

    def render(self) -> Image:
        """The frame anonymised (a new image; rendering costs a face detection)."""
        if self.elsewhere:
            return self._render(self._frame.image, self.detections, whole_frame=True)
        return self._render(self._frame.image, self.detections)

    def on(self, frame: Frame) -> AnalysedFrame:
        """These objects on ``frame``, a frame of another stream of the same view (a camera's
        viewing stream beside its analysed substream), their boxes scaled to its size.

        The two streams' frames are not the same instants: rendering it looks for faces over
        the whole frame, not only around the objects.
        """
        scale = np.array(
            [frame.width / self.width, frame.height / self.height] * 2, dtype=np.float32
        )
        moved = replace(self.detections, xyxy=(self.detections.xyxy * scale).astype(np.float32))
        return AnalysedFrame(self.timestamp, moved, frame, self._render, elsewhere=True)


class ResultSink(Protocol):
    """Where one camera's results go (see the module's description for the order of calls)."""

    def started(self, wall_origin: float) -> None:
        """A stream began: its time 0 is ``wall_origin`` (POSIX seconds)."""

    def events(self, updates: Sequence[EventUpdate], safe_image: Image | None) -> None:
        """Event updates; ``safe_image`` is the anonymised frame they happened on, given
        whenever one of them starts an event (``None`` for the updates of a closing stream)."""

    def counts(self, counts: Sequence[LineCount]) -> None:
        """Line-crossing counts."""

    def analysed(self, frame: AnalysedFrame) -> None:
        """A frame was analysed (after its events and counts)."""

    def idle(self) -> None:
        """A moment between frames, or while waiting for one (health reports are due here)."""


class SinkBase:
    """A :class:`ResultSink` that ignores everything: subclass it and override what you need."""

    def started(self, wall_origin: float) -> None:
        return None

    def events(self, updates: Sequence[EventUpdate], safe_image: Image | None) -> None:
        return None

    def counts(self, counts: Sequence[LineCount]) -> None:
        return None

    def analysed(self, frame: AnalysedFrame) -> None:
        return None

    def idle(self) -> None:
        return None


class FanOut:
    """Hands every call on to each of ``sinks``, in order (a :class:`ResultSink`)."""

    def __init__(self, *sinks: ResultSink) -> None:
        self.sinks = sinks

    def started(self, wall_origin: float) -> None:
        for sink in self.sinks:
            sink.started(wall_origin)

    def events(self, updates: Sequence[EventUpdate], safe_image: Image | None) -> None:
        for sink in self.sinks:
            sink.events(updates, safe_image)

    def counts(self, counts: Sequence[LineCount]) -> None:
        for sink in self.sinks:
            sink.counts(counts)

    def analysed(self, frame: AnalysedFrame) -> None:
        for sink in self.sinks:
            sink.analysed(frame)

    def idle(self) -> None:
        for sink in self.sinks:
            sink.idle()


class ProgressSink(SinkBase):
    """Calls ``progress`` with the stream time of each analysed frame (a progress bar)."""

    def __init__(self, progress: Callable[[float], None]) -> None:
        self._progress = progress

    def analysed(self, frame: AnalysedFrame) -> None:
        self._progress(frame.timestamp)
