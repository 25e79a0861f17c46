"""Typed messages between the server and its camera workers (never tuples or loose dicts).

Workers send :class:`EventMessage`, :class:`CountMessage`, :class:`HealthMessage`,
:class:`FrameMessage`, :class:`OccupancyMessage`, :class:`WorkerReady` and :class:`WorkerStats`
up; the server sends :class:`StartCamera`, :class:`StopCamera`, :class:`ReplaceRules`,
:class:`LiveDemand` and :class:`Shutdown` down. The supervisor adds :class:`CameraStopped` to
what it hands on, when a camera stopped without a word of its own. All are small frozen
dataclasses that pickle across process boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from citybrain.core.events import EndedBy, EventUpdate, LineCount
from citybrain.records import CameraHealth

if TYPE_CHECKING:  # importing the messages stays cheap; unpickling imports the model
    from citybrain.config.model import CameraConfig

__all__ = [
    "CameraHealth",
    "CameraStopped",
    "CountMessage",
    "DetectorStats",
    "EventMessage",
    "FrameMessage",
    "HealthMessage",
    "LiveDemand",
    "OccupancyMessage",
    "OutboxStats",
    "ReplaceRules",
    "Shutdown",
    "StartCamera",
    "StopCamera",
    "WorkerCommand",
    "WorkerMessage",
    "WorkerReady",
    "WorkerStats",
]


@dataclass(frozen=True, slots=True)
class StartCamera:
    """Start (or restart with a new config) the pipeline of one camera.

    Attributes:
        camera_id: the camera's id in the store.
        source: the source URL, credentials included (never logged).
        config: the camera's config, validated where the camera was planned (it pickles; the
            worker uses it as it is).
        realtime: pace a file source like a camera (demo cameras).
        loop: replay a file source forever (demo cameras).
        analysis_source: a second stream of the camera (a substream) to analyse instead of
            ``source``, credentials included; live frames are then frames of it.
    """

    camera_id: int
    source: str
    config: CameraConfig
    realtime: bool = True
    loop: bool = False
    analysis_source: str | None = None

    @property
    def read_source(self) -> str:
        """The stream the worker decodes and analyses."""
        return self.analysis_source or self.source


@dataclass(frozen=True, slots=True)
class StopCamera:
    camera_id: int


@dataclass(frozen=True, slots=True)
class ReplaceRules:
    """Run a camera with other rules and zones, keeping its stream, tracks and other rules.

    Sent when the rules the city's sites give a camera change (a permit starts or expires).
    Rules that are in both the old and the new config carry on; removed ones end their open
    events; new ones start. The rest of the config (source, detector, motion) is the same.

    Attributes:
        camera_id: the camera's id in the store.
        config: its own config with the rules from data added (validated where it was planned).
    """

    camera_id: int
    config: CameraConfig


@dataclass(frozen=True, slots=True)
class LiveDemand:
    """Which cameras someone watches live: only these render anonymised live frames.

    A lease: it holds until ``until`` (POSIX time), and the server renews it while the viewers
    stay, so that a lost message or a server that went away stops the rendering soon. Every
    worker gets the whole set (a camera placed on a worker later is covered at once); a new
    demand replaces the previous one.

    Attributes:
        camera_ids: the watched cameras (empty: nobody watches any).
        until: POSIX time after which the demand no longer holds unless renewed.
    """

    camera_ids: tuple[int, ...]
    until: float


@dataclass(frozen=True, slots=True)
class Shutdown:
    """Stop every camera (closing their open events) and exit the worker."""


WorkerCommand = StartCamera | StopCamera | ReplaceRules | LiveDemand | Shutdown


@dataclass(frozen=True, slots=True)
class EventMessage:
    """An event update from a camera; ``wall_origin`` is the POSIX time of stream time 0.

    ``snapshot_jpeg`` is the anonymised, annotated snapshot, sent with the START update only.
    """

    camera_id: int
    update: EventUpdate
    wall_origin: float
    snapshot_jpeg: bytes | None = None


@dataclass(frozen=True, slots=True)
class CountMessage:
    camera_id: int
    count: LineCount
    wall_origin: float


@dataclass(frozen=True, slots=True)
class HealthMessage:
    health: CameraHealth


@dataclass(frozen=True, slots=True)
class FrameMessage:
    """The latest anonymised frame of a camera, JPEG-encoded (for live views)."""

    camera_id: int
    jpeg: bytes
    timestamp: float


@dataclass(frozen=True, slots=True)
class WorkerReady:
    """A worker process is up and takes commands.

    Attributes:
        worker: the worker's slot (0-based).
        pid: its process id.
    """

    worker: int
    pid: int


@dataclass(frozen=True, slots=True)
class DetectorStats:
    """Counters of one shared (batching) detector of a worker, since the worker started.

    Attributes:
        detector: which one: its model file name (``#2``, ``#3`` for further detectors of the
            same file with other settings).
        batches: detector calls made.
        images: images detected.
        rejected: frames refused because its queue was full (their cameras dropped them).
        queue_depth: frames waiting for it now.
        mean_batch_size: ``images / batches``.
        mean_latency: mean seconds per detector call.
        last_latency: seconds the latest call took.
    """

    detector: str
    batches: int
    images: int
    rejected: int
    queue_depth: int
    mean_batch_size: float
    mean_latency: float
    last_latency: float

    @property
    def total_latency(self) -> float:
        """Seconds spent in detector calls so far."""
        return self.mean_latency * self.batches


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """The queues up from a worker, as the worker sees them.

    Attributes:
        reliable_depth: events and counts waiting to be read; ``None`` where the platform
            cannot tell (``multiprocessing`` queues on macOS).
        lossy_depth: health, frames and notices waiting to be read; ``None`` likewise.
        dropped: lossy messages dropped so far because their queue was full.
    """

    reliable_depth: int | None
    lossy_depth: int | None
    dropped: int


@dataclass(frozen=True, slots=True)
class WorkerStats:
    """How a worker process's shared parts are doing; sent about once a second (lossy).

    Totals count from the worker's start: a restarted worker (another ``pid``) starts again
    from zero, which the receiver must tell apart from a decrease.

    Attributes:
        worker: the worker's slot (0-based).
        pid: its process id.
        detectors: one entry per shared detector, in the order they were loaded.
        outbox: its queues up.
        live_frames: anonymised live frames rendered (and JPEG-encoded) since it started.
    """

    worker: int
    pid: int
    detectors: tuple[DetectorStats, ...]
    outbox: OutboxStats
    live_frames: int = 0


@dataclass(frozen=True, slots=True)
class CameraStopped:
    """A camera's pipeline is gone without ending its events (its worker died or was killed):
    the events of the camera still open end now, marked ``ended_by`` ``reason``.

    The supervisor sends it once nothing more can come from that pipeline, and before a new
    one can start: a restarted camera never has an event open twice.
    """

    camera_id: int
    reason: EndedBy


# --- zone occupancy (issue 14: MQTT's citybrain/cameras/<name>/<zone>/<label>) ---


@dataclass(frozen=True, slots=True)
class OccupancyMessage:
    """How many tracked objects of each watched label stand in each zone of a camera now.

    Sent on the lossy queue when a count changes and every few seconds regardless, so that a
    dropped message heals. Counts only: no identities, no boxes.

    Attributes:
        camera_id: the camera's id in the store.
        camera: its name (as the running config has it).
        counts: ``(zone, label, count)`` for every zone and watched label, zeros included.
    """

    camera_id: int
    camera: str
    counts: tuple[tuple[str, str, int], ...]


WorkerMessage = (
    EventMessage
    | CountMessage
    | HealthMessage
    | FrameMessage
    | OccupancyMessage
    | WorkerReady
    | WorkerStats
    | CameraStopped
)
