"""One camera inside a worker: read its source, run its pipeline, send what it finds up.

A :class:`CameraRunner` owns a thread. It opens a :class:`~citybrain.ingest.Reader` on the
source (files paced in real time, looped; live sources reconnect forever) and runs the frame
loop ``citybrain analyze`` runs (:class:`~citybrain.runtime.loop.FrameLoop`), into an
:class:`~citybrain.runtime.camera_sink.OutboxSink`: event updates (with the anonymised, annotated
snapshot on START) and line counts go up, frames for the live view go to the worker's renderer
at the live rate while someone watches, and health goes up about once a second. When the
source fails, the reader is reopened after a growing pause and a fresh pipeline starts (its
clock starts again at zero).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from citybrain.config.model import CameraConfig
from citybrain.core.events import EndedBy
from citybrain.errors import CitybrainError
from citybrain.ingest import Reader, ReaderOptions
from citybrain.ingest.urls import redact_text, redact_url, source_kind
from citybrain.pipeline import MOTION_WIDTH, CameraPipeline, Vision
from citybrain.runtime.camera_sink import OutboxSink
from citybrain.runtime.health import HealthMeter, SourceTotals
from citybrain.runtime.live import LiveRenderer
from citybrain.runtime.loop import FrameLoop, LoopEnd, StopRequest
from citybrain.runtime.messages import HealthMessage, StartCamera
from citybrain.runtime.occupancy import OccupancyMeter
from citybrain.runtime.outbox import Outbox, OutboxClosedError
from citybrain.runtime.viewing import ViewingStream

__all__ = ["CameraRunner", "RunnerOptions"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunnerOptions:
    """Timing of a camera runner.

    Attributes:
        live_fps: anonymised live frames per second sent up while someone watches.
        health_interval: seconds between health messages.
        retry_initial: first pause before reopening a failed source (doubles up to ``retry_max``).
        retry_max: longest pause between attempts.
        queue_size: frames held between decoding and analysis (more only adds latency).
        live_quality: JPEG quality of live frames.
        viewing_idle: seconds after the last live frame wanted before a camera analysed on a
            substream closes its viewing stream.
    """

    live_fps: float = 2.0
    health_interval: float = 1.0
    retry_initial: float = 1.0
    retry_max: float = 30.0
    queue_size: int = 2
    live_quality: int = 70
    viewing_idle: float = 10.0


class CameraRunner:
    """Runs one camera on its own thread (verb: :meth:`start`, then :meth:`stop`).

    Args:
        command: what to run: source, validated config, flags.
        vision: the models, shared with the worker's other cameras.
        outbox: where messages go.
        options: timing.
        live: the worker's live renderer (``None``: no live view).
    """

    def __init__(
        self,
        command: StartCamera,
        vision: Vision,
        outbox: Outbox,
        options: RunnerOptions | None = None,
        live: LiveRenderer | None = None,
    ) -> None:
        self.command = command
        self.camera_id = command.camera_id
        self.config = command.config
        self._vision = vision
        self._outbox = outbox
        self._options = options or RunnerOptions()
        self._stop = StopRequest()
        self._meter = HealthMeter(command.camera_id)
        #: The viewing stream, where the camera is analysed on another one (a substream).
        self.viewing: ViewingStream | None = None
        if command.analysis_source and live is not None:
            is_file = not source_kind(command.source).is_network
            self.viewing = ViewingStream(
                command.source, self._options.live_fps, realtime=is_file, loop=is_file,
                idle_seconds=self._options.viewing_idle, hwaccel=self.config.camera.hwaccel,
            )  # fmt: skip
        self._sink = OutboxSink(
            command.camera_id, outbox, self._meter, self._tick,
            live_fps=self._options.live_fps, live=live,
            occupancy=OccupancyMeter(command.camera_id, command.config), viewing=self.viewing,
        )  # fmt: skip
        self._totals = SourceTotals()
        self._error: str | None = None
        self._reader_error: str | None = None
        self._reader: Reader | None = None
        self._loop: FrameLoop | None = None
        self._sessions = 0
        self._next_health = 0.0
        # The pipeline now running, so that rules from data can be replaced in it.
        self._rules_lock = threading.Lock()
        self._current: CameraPipeline | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"camera-{command.camera_id}", daemon=True
        )

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def request_stop(self, reason: EndedBy = EndedBy.CAMERA_STOPPED) -> None:
        """Ask the thread to stop (returns at once; :meth:`stop` waits); the events it ends
        are marked as ended by ``reason``."""
        self._stop.request(reason)

    def replace_rules(self, config: CameraConfig, vision: Vision) -> None:
        """Run ``config``'s rules from the next frame on, without reopening the source (rules
        from data: a site started or expired). Later sessions use it too."""
        with self._rules_lock:
            self.config, self._vision = config, vision
            if self._current is not None:
                self._current.replace_rules(config, vision)

    def stop(self, timeout: float = 10.0, reason: EndedBy = EndedBy.CAMERA_STOPPED) -> None:
        """Stop reading, end the camera's open events and send them up; wait for the thread."""
        self._stop.request(reason)
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
            if self.viewing is not None:
                self.viewing.close()
            self._send_health()

    def _session(self) -> int:
        """Open the source once and analyse it until it ends or fails; frames analysed (0 when
        it failed)."""
        frames = 0
        if self._sessions:
            self._totals = self._totals.add(0, 1)  # reopening the source is a reconnection
        self._sessions += 1
        try:
            self._reader = Reader(self.command.read_source, self._reader_options())
            self._loop = FrameLoop(
                self._reader, self._pipeline, self._sink, stop=self._stop, mark_ends=True
            )
            if self._loop.run() is LoopEnd.ENDED:
                self._note_error(f"{redact_url(self.command.read_source)}: end of file")
            frames = self._loop.frames
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

    def _pipeline(self, wall_origin: float) -> CameraPipeline:
        with self._rules_lock:
            self._current = CameraPipeline(self.config, self._vision, wall_origin=wall_origin)
            return self._current

    def _reader_options(self) -> ReaderOptions:
        return ReaderOptions(
            fps=self.config.camera.fps,
            queue_size=self._options.queue_size,
            realtime=self.command.realtime,
            loop=self.command.loop,
            max_reconnects=None,
            read_timeout=5.0,
            thumbnail_width=MOTION_WIDTH,
            max_width=self.config.camera.analysis_width,
            hwaccel=self.config.camera.hwaccel,
        )

    def _tick(self) -> None:
        if time.monotonic() >= self._next_health:
            self._send_health()

    def _send_health(self) -> None:
        self._next_health = time.monotonic() + self._options.health_interval
        reader = self._reader
        pipeline = None if self._loop is None else self._loop.pipeline
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
        """Close the reader and keep its counters (the loop has closed the pipeline)."""
        loop, self._loop = self._loop, None
        reader, self._reader = self._reader, None
        with self._rules_lock:
            self._current = None
        if self.viewing is not None:  # nothing to show it with until the analysis is back
            self.viewing.close()
        if reader is None:
            return
        reader.close()
        stats = reader.stats
        dropped = stats.frames_dropped
        if loop is not None and loop.pipeline is not None:
            dropped += loop.pipeline.stats.detector_dropped
        self._totals = self._totals.add(dropped, stats.reconnects)
        if stats.last_error and stats.last_error != self._reader_error:
            self._error = stats.last_error
        self._reader_error = None

    def _note_error(self, message: str) -> None:
        self._error = redact_text(message, self.command.read_source)
        log.warning("camera %d: %s", self.camera_id, self._error)
