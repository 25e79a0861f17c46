"""The frame loop, the one used by ``analyze`` and by a server's cameras alike.

Read a sampled frame → analyse it → hand what it produced to a sink (rendering the frame first
when an event starts on it, for the event's snapshot) → … until the source ends, the loop is
asked to stop, or a time limit is reached; then close the pipeline, whose open events end and
reach the sink too. The pipeline is made on the first frame, when the stream's time 0 in
wall-clock time is known.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import Enum
from typing import Protocol

from citybrain.core.events import EndedBy, EventPhase, EventUpdate
from citybrain.core.frame import Frame
from citybrain.errors import SourceError
from citybrain.pipeline import CameraPipeline, PipelineResult
from citybrain.sinks.base import AnalysedFrame, ResultSink

__all__ = ["FrameLoop", "FrameSource", "LoopEnd", "PipelineFactory", "StopRequest"]

#: Makes a camera's pipeline, given the POSIX time of stream time 0.
PipelineFactory = Callable[[float], CameraPipeline]


class FrameSource(Protocol):
    """The part of :class:`~citybrain.ingest.Reader` the loop reads from."""

    def read(self, timeout: float | None = None) -> Frame | None: ...


class LoopEnd(Enum):
    """Why :meth:`FrameLoop.run` returned."""

    ENDED = "the source ended"
    STOPPED = "asked to stop"
    LIMIT = "the time limit was reached"


class StopRequest(threading.Event):
    """A stop flag that says why it was set (what the events it cuts short are ended by).

    Args:
        reason: the reason :meth:`set` gives; :meth:`request` sets another.
    """

    def __init__(self, reason: EndedBy = EndedBy.CAMERA_STOPPED) -> None:
        super().__init__()
        self.reason = reason

    def request(self, reason: EndedBy) -> None:
        """Set the flag for ``reason`` (the first reason given stays)."""
        if not self.is_set():
            self.reason = reason
        self.set()


_ENDED_BY = {
    LoopEnd.ENDED: EndedBy.SOURCE_ENDED,
    LoopEnd.STOPPED: EndedBy.CAMERA_STOPPED,
    LoopEnd.LIMIT: EndedBy.TIME_LIMIT,
}


class FrameLoop:
    """Runs one stream of frames through a pipeline into a sink (verb: :meth:`run`, once).

    Args:
        source: where frames come from.
        make_pipeline: builds the pipeline on the first frame.
        sink: where results go.
        stop: set it to leave the loop (checked at least every ``poll`` seconds).
        until: stop after the first frame at or past this stream time (seconds).
        poll: longest wait for a frame before the sink is called idle and ``stop`` checked.
        mark_ends: give the events that closing the pipeline ends ``details["ended_by"]``
            (why: the source ended or was lost, the camera stopped...; a
            :class:`StopRequest` says why it was set). A server marks them: an operator must
            tell an incident that ended from one nobody watched to its end.

    Attributes:
        pipeline: the pipeline, once the first frame came (kept after :meth:`run` for its stats).
        frames: frames analysed.
    """

    def __init__(
        self,
        source: FrameSource,
        make_pipeline: PipelineFactory,
        sink: ResultSink,
        *,
        stop: threading.Event | None = None,
        until: float | None = None,
        poll: float = 0.25,
        mark_ends: bool = False,
    ) -> None:
        self.pipeline: CameraPipeline | None = None
        self.frames = 0
        self._source = source
        self._make_pipeline = make_pipeline
        self._sink = sink
        self._stop = stop or threading.Event()
        self._until = until
        self._poll = poll
        self._mark_ends = mark_ends

    def run(self) -> LoopEnd:
        """Analyse frames until the source ends, :attr:`stop` is set or the limit is reached.

        The pipeline is closed on the way out, whatever the reason (an error or Ctrl-C included),
        and what it ends is handed to the sink.

        Raises:
            SourceError: the source failed.
        """
        ended_by = EndedBy.ERROR
        try:
            end = self._run()
            ended_by = _ENDED_BY[end]
            if end is LoopEnd.STOPPED and isinstance(self._stop, StopRequest):
                ended_by = self._stop.reason
            return end
        except SourceError:
            ended_by = EndedBy.SOURCE_LOST
            raise
        except KeyboardInterrupt:
            ended_by = EndedBy.INTERRUPTED
            raise
        finally:
            self._close(ended_by)

    def _run(self) -> LoopEnd:
        while not self._stop.is_set():
            try:
                frame = self._source.read(timeout=self._poll)
            except TimeoutError:
                self._sink.idle()
                continue
            if frame is None:
                return LoopEnd.ENDED
            self._analyse(frame)
            if self._until is not None and frame.timestamp >= self._until:
                return LoopEnd.LIMIT
        return LoopEnd.STOPPED

    def _analyse(self, frame: Frame) -> None:
        pipeline = self.pipeline
        if pipeline is None:
            # Stream t=0 in wall-clock time, from the first frame actually seen.
            wall_origin = time.time() - frame.timestamp
            pipeline = self.pipeline = self._make_pipeline(wall_origin)
            self._sink.started(wall_origin)
        result = pipeline.process(frame)
        self.frames += 1
        self._hand_on(pipeline, result)

    def _hand_on(self, pipeline: CameraPipeline, result: PipelineResult) -> None:
        sink, frame = self._sink, result.frame
        starts = any(update.phase == EventPhase.START for update in result.updates)
        safe = pipeline.render(frame.image, result.detections) if starts else None
        sink.events(result.updates, safe)
        sink.counts(result.counts)
        sink.analysed(AnalysedFrame(frame.timestamp, result.detections, frame, pipeline.render))
        sink.idle()

    def _close(self, ended_by: EndedBy) -> None:
        if self.pipeline is None:
            return
        updates, counts = self.pipeline.close()
        if self._mark_ends:
            updates = [
                EventUpdate(u.phase, u.event.marked_ended_by(ended_by))
                if u.phase == EventPhase.END else u
                for u in updates
            ]  # fmt: skip
        self._sink.events(updates, None)
        self._sink.counts(counts)
