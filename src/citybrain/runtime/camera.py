"""One camera inside a worker: read its source, run its pipeline, send what it finds up.

A :class:`CameraRunner` owns a thread. It opens a :class:`~citybrain.ingest.Reader` on the
source (files paced in real time, looped; live sources reconnect forever) and feeds every
sampled frame to a :class:`~citybrain.pipeline.CameraPipeline` built by the same composition
root ``citybrain analyze`` uses. Up go, through the :class:`~citybrain.runtime.outbox.Outbox`:
event updates (with the anonymised, annotated snapshot on START), line counts, health about once
a second, and an anonymised live JPEG at the live rate. When the source fails, the reader is
reopened after a growing pause and a fresh pipeline starts (its clock starts again at zero).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from citybrain.config.model import CameraConfig
from citybrain.core.events import EventPhase
from citybrain.errors import CitybrainError
from citybrain.ingest import Reader, ReaderOptions
from citybrain.ingest.urls import redact_text, redact_url
from citybrain.pipeline import MOTION_WIDTH, CameraPipeline, PipelineResult, Vision
from citybrain.runtime.health import HealthMeter, SourceTotals
from citybrain.runtime.messages import (
    CountMessage,
    EventMessage,
    FrameMessage,
    HealthMessage,
    StartCamera,
)
from citybrain.runtime.outbox import Outbox, OutboxClosedError
from citybrain.sinks.snapshots import annotate, encode_jpeg

__all__ = ["CameraRunner", "RunnerOptions"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunnerOptions:
    """Timing of a camera runner.

    Attributes:
        live_fps: anonymised live frames per second sent up.
        health_interval: seconds between health messages.
        retry_initial: first pause before reopening a failed source (doubles up to ``retry_max``).
        retry_max: longest pause between attempts.
        queue_size: frames held between decoding and analysis (more only adds latency).
        live_quality: JPEG quality of live frames.
    """

    live_fps: float = 2.0
    health_interval: float = 1.0
    retry_initial: float = 1.0
    retry_max: float = 30.0
    queue_size: int = 2
    live_quality: int = 70


class CameraRunner:
    """Runs one camera on its own thread (verb: :meth:`start`, then :meth:`stop`).

    Args:
        command: what to run (source, flags); ``config`` is its validated config.
        config: the camera's config.
        vision: the models, shared with the worker's other cameras.
        outbox: where messages go.
        options: timing.
    """

    def __init__(
        self,
        command: StartCamera,
        config: CameraConfig,
        vision: Vision,
        outbox: Outbox,
        options: RunnerOptions | None = None,
    ) -> None:
        self.command = command
        self.camera_id = command.camera_id
        self.config = config
        self._vision = vision
        self._outbox = outbox
        self._options = options or RunnerOptions()
        self._stop = threading.Event()
        self._meter = HealthMeter(command.camera_id)
        self._totals = SourceTotals()
        self._error: str | None = None
        self._reader_error: str | None = None
        self._reader: Reader | None = None
        self._pipeline: CameraPipeline | None = None
        self._wall_origin = 0.0
        self._sessions = 0
        self._next_health = 0.0
        self._next_live = 0.0
        self._thread = threading.Thread(
            target=self._run, name=f"camera-{command.camera_id}", daemon=True
        )

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to stop (returns at once; :meth:`stop` waits)."""
        self._stop.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop reading, end the camera's open events and send them up; wait for the thread."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    # --- the camera thread ----------------------------------------------------------------

    def _run(self) -> None:
        retry = 0
        try:
            while not self._stop.is_set():
                frames = self._session()
                if self._stop.is_set():
                    break
                retry = 0 if frames else retry + 1
                pause = self._options.retry_initial * 2.0 ** min(retry, 10)
                self._wait(min(pause, self._options.retry_max))
        except OutboxClosedError as exc:
            log.warning("camera %d: %s", self.camera_id, exc)
        finally:
            self._send_health()

    def _session(self) -> int:
        """Open the source once and analyse it until it ends or fails; frames analysed."""
        frames = 0
        if self._sessions:
            self._totals = self._totals.add(0, 1)  # reopening the source is a reconnection
        self._sessions += 1
        try:
            self._reader = Reader(self.command.source, self._reader_options())
            frames = self._consume(self._reader)
        except (CitybrainError, OSError) as exc:
            self._note_error(str(exc))
        except OutboxClosedError:
            raise
        except Exception as exc:  # a bug must not kill the camera for good: report and retry
            log.exception("camera %d failed", self.camera_id)
            self._note_error(f"internal error: {type(exc).__name__}: {exc}")
        finally:
            self._close_session()
        return frames

    def _reader_options(self) -> ReaderOptions:
        return ReaderOptions(
            fps=self.config.camera.fps,
            queue_size=self._options.queue_size,
            realtime=self.command.realtime,
            loop=self.command.loop,
            max_reconnects=None,
            read_timeout=5.0,
            thumbnail_width=MOTION_WIDTH,
        )

    def _consume(self, reader: Reader) -> int:
        frames = 0
        while not self._stop.is_set():
            try:
                frame = reader.read(timeout=0.25)
            except TimeoutError:
                self._tick()
                continue
            if frame is None:
                self._note_error(f"{redact_url(self.command.source)}: end of file")
                break
            if self._pipeline is None:
                # Stream t=0 in wall-clock time, from the first frame actually seen.
                self._wall_origin = time.time() - frame.timestamp
                self._pipeline = CameraPipeline(
                    self.config, self._vision, wall_origin=self._wall_origin
                )
            result = self._pipeline.process(frame)
            self._meter.analysed()
            frames += 1
            self._send_results(self._pipeline, result)
            self._send_live(self._pipeline, result)
            self._tick()
        return frames

    def _send_results(self, pipeline: CameraPipeline, result: PipelineResult) -> None:
        safe = None
        for update in result.updates:
            snapshot = None
            if update.phase == EventPhase.START:
                if safe is None:
                    safe = pipeline.render(result.frame.image)
                snapshot = encode_jpeg(annotate(safe, update.event))
            self._outbox.send(EventMessage(self.camera_id, update, self._wall_origin, snapshot))
        for count in result.counts:
            self._outbox.send(CountMessage(self.camera_id, count, self._wall_origin))

    def _send_live(self, pipeline: CameraPipeline, result: PipelineResult) -> None:
        now = time.monotonic()
        if now < self._next_live:
            return
        self._next_live = now + 1.0 / self._options.live_fps
        image = pipeline.render(result.frame.image)
        jpeg = encode_jpeg(image, quality=self._options.live_quality)
        self._outbox.send(FrameMessage(self.camera_id, jpeg, result.frame.timestamp))

    def _tick(self) -> None:
        if time.monotonic() >= self._next_health:
            self._send_health()

    def _send_health(self) -> None:
        self._next_health = time.monotonic() + self._options.health_interval
        reader = self._reader
        pipeline = self._pipeline
        stats = None if reader is None else reader.stats
        if stats is not None and stats.last_error and stats.last_error != self._reader_error:
            # The reader's own error is newer than anything noted before (it redacts it).
            self._reader_error = self._error = stats.last_error
        health = self._meter.measure(
            stats,
            detector_dropped=0 if pipeline is None else pipeline.stats.detector_dropped,
            totals=self._totals,
            error=self._error,
        )
        self._outbox.send(HealthMessage(health))

    def _wait(self, seconds: float) -> None:
        """Pause before reopening the source, still reporting health."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set() and (left := deadline - time.monotonic()) > 0:
            self._tick()
            self._stop.wait(min(left, self._options.health_interval))

    def _close_session(self) -> None:
        pipeline, self._pipeline = self._pipeline, None
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()
            stats = reader.stats
            dropped = stats.frames_dropped
            dropped += 0 if pipeline is None else pipeline.stats.detector_dropped
            self._totals = self._totals.add(dropped, stats.reconnects)
            if stats.last_error and stats.last_error != self._reader_error:
                self._error = stats.last_error
            self._reader_error = None
        if pipeline is not None:
            updates, counts = pipeline.close()
            for update in updates:
                self._outbox.send(EventMessage(self.camera_id, update, self._wall_origin))
            for count in counts:
                self._outbox.send(CountMessage(self.camera_id, count, self._wall_origin))

    def _note_error(self, message: str) -> None:
        self._error = redact_text(message, self.command.source)
        log.warning("camera %d: %s", self.camera_id, self._error)
