"""Typed messages between the server and its camera workers (never tuples or loose dicts).

Workers send :class:`EventMessage`, :class:`CountMessage`, :class:`HealthMessage`,
:class:`FrameMessage` and :class:`WorkerReady` up; the server sends :class:`StartCamera`,
:class:`StopCamera` and :class:`Shutdown` down. All are small frozen dataclasses that pickle
across process boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass

from citybrain.core.events import EventUpdate, LineCount

__all__ = [
    "CameraHealth",
    "CountMessage",
    "EventMessage",
    "FrameMessage",
    "HealthMessage",
    "Shutdown",
    "StartCamera",
    "StopCamera",
    "WorkerCommand",
    "WorkerMessage",
    "WorkerReady",
]


@dataclass(frozen=True, slots=True)
class StartCamera:
    """Start (or restart with a new config) the pipeline of one camera.

    Attributes:
        camera_id: the camera's id in the store.
        source: the source URL, credentials included (never logged).
        config_json: the camera's :class:`~citybrain.config.CameraConfig` as JSON text.
        realtime: pace a file source like a camera (demo cameras).
        loop: replay a file source forever (demo cameras).
    """

    camera_id: int
    source: str
    config_json: str
    realtime: bool = True
    loop: bool = False


@dataclass(frozen=True, slots=True)
class StopCamera:
    camera_id: int


@dataclass(frozen=True, slots=True)
class Shutdown:
    """Stop every camera (closing their open events) and exit the worker."""


WorkerCommand = StartCamera | StopCamera | Shutdown


@dataclass(frozen=True, slots=True)
class CameraHealth:
    """How one camera is doing.

    Attributes:
        camera_id: the camera's id.
        online: frames are arriving.
        fps_in: decode rate.
        fps_analysed: analysed frames per second.
        lag_seconds: wall-clock seconds since the last analysed frame.
        frames_dropped: frames dropped so far (queue full or detector busy).
        reconnects: reconnections so far.
        last_error: latest error (credentials redacted), if any.
        at: POSIX time the health was measured.
    """

    camera_id: int
    online: bool
    fps_in: float
    fps_analysed: float
    lag_seconds: float | None
    frames_dropped: int
    reconnects: int
    last_error: str | None
    at: float


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


WorkerMessage = EventMessage | CountMessage | HealthMessage | FrameMessage | WorkerReady
