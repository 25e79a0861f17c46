"""Inside a worker process: cameras as threads around one shared, batched detector.

The server starts workers with the ``spawn`` start method (no inherited locks or sessions) and
talks to them only through queues of typed messages: commands down, events, counts, health,
live frames and the worker's own :class:`~citybrain.runtime.messages.WorkerStats` (about once a
second) up (:mod:`citybrain.runtime.messages`). A worker never touches the database. The server's
side of the process is :mod:`citybrain.runtime.worker_handle`.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from typing import Protocol

from citybrain.core.events import EndedBy
from citybrain.errors import CitybrainError
from citybrain.ingest.urls import redact_text
from citybrain.logs import configure_logging
from citybrain.runtime.camera import CameraRunner, RunnerOptions
from citybrain.runtime.health_board import offline_health
from citybrain.runtime.live import LiveRenderer
from citybrain.runtime.messages import (
    DetectorStats,
    HealthMessage,
    LiveDemand,
    ReplaceRules,
    Shutdown,
    StartCamera,
    StopCamera,
    WorkerCommand,
    WorkerMessage,
    WorkerReady,
    WorkerStats,
)
from citybrain.runtime.outbox import Outbox
from citybrain.runtime.vision_pool import BatchSettings, VisionPool
from citybrain.vision.batching import BatchStats

__all__ = ["CommandQueue", "Worker", "WorkerOptions", "worker_main"]

log = logging.getLogger(__name__)


class CommandQueue(Protocol):
    """The part of ``multiprocessing.Queue`` a worker reads commands from."""

    def get(self, block: bool = True, timeout: float | None = None) -> WorkerCommand: ...


class ParentCheck(Protocol):
    """Whether the server process is still there."""

    def __call__(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """Settings of one worker process (picklable: they cross the process boundary).

    Attributes:
        index: the worker's slot (0-based).
        runner: timing of its cameras.
        batch: how its shared detector batches.
        log_level: the logging level of the process.
        stats_interval: seconds between two :class:`WorkerStats` sent up (while commands are
            carried out, e.g. models loading, a report may come later).
        niceness: added to the process's niceness at start, so that the server that reads
            its messages and answers the console keeps the CPU when both want it.
    """

    index: int = 0
    runner: RunnerOptions = field(default_factory=RunnerOptions)
    batch: BatchSettings = field(default_factory=BatchSettings)
    log_level: int = logging.INFO
    stats_interval: float = 1.0
    niceness: int = 0


class Worker:
    """The cameras of one process (verb: :meth:`handle` a command).

    Args:
        outbox: where messages go up.
        options: the worker's settings.
        pool: the shared models; a fresh pool when omitted.
    """

    def __init__(
        self, outbox: Outbox, options: WorkerOptions, pool: VisionPool | None = None
    ) -> None:
        self.outbox = outbox
        self.options = options
        self.pool = pool or VisionPool(options.batch)
        self.runners: dict[int, CameraRunner] = {}
        # One render thread for the live frames of all its cameras, only those watched.
        self.live = LiveRenderer(outbox, quality=options.runner.live_quality)
        self._terminated = threading.Event()
        self._next_report = 0.0  # monotonic time of the next WorkerStats

    def handle(self, command: WorkerCommand) -> bool:
        """Carry out ``command``; ``False`` once it was :class:`Shutdown`."""
        if isinstance(command, StartCamera):
            self._start(command)
        elif isinstance(command, StopCamera):
            self._stop(command.camera_id)
        elif isinstance(command, ReplaceRules):
            self._replace_rules(command)
        elif isinstance(command, LiveDemand):
            self.live.demand(command.camera_ids, command.until)
        elif isinstance(command, Shutdown):
            self.close()
            return False
        return True

    def serve(self, commands: CommandQueue, *, parent_alive: ParentCheck | None = None) -> None:
        """Handle commands until :class:`Shutdown`, SIGTERM (see :meth:`terminate`), or until
        the parent process is gone; then stop every camera."""
        try:
            while not self._terminated.is_set():
                self._report_when_due()
                try:
                    command = commands.get(timeout=self._until_report())
                except queue.Empty:
                    if parent_alive is not None and not parent_alive():
                        log.warning("worker %d: the server is gone; stopping", self.options.index)
                        break
                    continue
                if not self.handle(command):
                    return
        finally:
            self.close()

    def stats(self) -> WorkerStats:
        """The counters of the worker's shared detectors and of its outbox, now."""
        return WorkerStats(
            worker=self.options.index,
            pid=os.getpid(),
            detectors=tuple(_detector_stats(n, s) for n, s in self.pool.stats().items()),
            outbox=self.outbox.stats(),
            live_frames=self.live.rendered,
        )

    def report(self) -> bool:
        """Send :meth:`stats` up; ``False`` when it was dropped (the lossy queue was full)."""
        return self.outbox.send(self.stats())

    def terminate(self) -> None:
        """Leave :meth:`serve` soon (safe to call from a signal handler)."""
        self._terminated.set()

    def close(self) -> None:
        """Stop every camera (their open events end and are sent up), then the models."""
        runners = list(self.runners.values())
        self.runners.clear()
        for runner in runners:  # all at once: each may take a moment to close its source
            runner.request_stop(EndedBy.WORKER_STOPPED)
        for runner in runners:
            runner.stop()
        self.live.close()
        self.pool.close()

    def _start(self, command: StartCamera) -> None:
        self._stop(command.camera_id)
        try:
            vision = self.pool.vision(command.config)
        except CitybrainError as exc:
            error = redact_text(redact_text(str(exc), command.source), command.read_source)
            log.error("camera %d cannot start: %s", command.camera_id, error)
            self.outbox.send(HealthMessage(offline_health(command.camera_id, error)))
            return
        runner = CameraRunner(command, vision, self.outbox, self.options.runner, self.live)
        self.runners[command.camera_id] = runner
        runner.start()
        log.info("worker %d: camera %d started", self.options.index, command.camera_id)

    def _replace_rules(self, command: ReplaceRules) -> None:
        """New rules for a running camera (rules from data); a camera not running here gets
        them with its next start."""
        runner = self.runners.get(command.camera_id)
        if runner is None:
            return
        try:
            vision = self.pool.vision(command.config)  # a new rule may need the hard-hat model
        except CitybrainError as exc:
            log.error("camera %d: rules not replaced: %s", command.camera_id, exc)
            return
        runner.replace_rules(command.config, vision)
        log.info("worker %d: camera %d runs rules %s", self.options.index, command.camera_id,
                 sorted(command.config.rules))  # fmt: skip

    def _report_when_due(self) -> None:
        now = time.monotonic()
        if now >= self._next_report:
            self._next_report = now + self.options.stats_interval
            self.report()

    def _until_report(self) -> float:
        """How long to wait for a command: at most 0.5 s, so that the parent check runs."""
        return min(0.5, max(self._next_report - time.monotonic(), 0.01))

    def _stop(self, camera_id: int) -> None:
        runner = self.runners.pop(camera_id, None)
        if runner is not None:
            runner.stop()
            self.live.forget(camera_id)
            log.info("worker %d: camera %d stopped", self.options.index, camera_id)


def _detector_stats(name: str, stats: BatchStats) -> DetectorStats:
    return DetectorStats(
        detector=name, batches=stats.batches, images=stats.images, rejected=stats.rejected,
        queue_depth=stats.queue_depth, mean_batch_size=stats.mean_batch_size,
        mean_latency=stats.mean_latency, last_latency=stats.last_latency,
    )  # fmt: skip


def worker_main(
    options: WorkerOptions,
    commands: CommandQueue,
    reliable: Queue[WorkerMessage],
    lossy: Queue[WorkerMessage],
) -> None:
    """The entry point of a worker process."""
    # Ctrl-C reaches the whole process group; the server shuts workers down in order instead.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if options.niceness:
        os.nice(options.niceness)
    configure_logging(
        options.log_level, f"%(asctime)s %(levelname)s worker-{options.index} %(name)s: %(message)s"
    )
    outbox = Outbox(reliable, lossy)
    worker = Worker(outbox, options)
    # SIGTERM (a service manager stopping the whole group, say) stops the cameras cleanly.
    signal.signal(signal.SIGTERM, lambda _sig, _frame: worker.terminate())
    parent = multiprocessing.parent_process()
    outbox.send(WorkerReady(worker=options.index, pid=os.getpid()))

    def parent_alive() -> bool:
        if parent is None or parent.is_alive():
            return True
        # Nobody reads our messages any more: nothing may wait for room on the way out.
        outbox.close()
        for up in (reliable, lossy):
            up.cancel_join_thread()
        return False

    worker.serve(commands, parent_alive=parent_alive)
