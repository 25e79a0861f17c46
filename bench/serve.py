"""How many looping 720p demo cameras one server sustains at 5 analysed fps without backlog,
how soon their alerts arrive, and how much memory each camera costs.

Usage::

    CITYBRAIN_MODEL_DIR=../shared/models CITYBRAIN_SAMPLES=../shared/footage \\
        .venv/bin/python bench/serve.py [--workers 1] [--max-cameras 16] [--budget 270] \\
        [--viewers 0] [--hold 30]

At start it makes a 1280x720 loop by upscaling a development clip (worker-zone-detection.mp4:
a person walks through the whole clip, so the motion gate rarely spares the detector) with PyAV
into a temporary H.264 file. It then runs the server's camera runtime exactly as ``citybrain
serve`` does (supervisor, spawned worker processes, shared batched detector, anonymised live
frames and snapshots, a SQLite store) and adds cameras one at a time, each with a restricted
zone rule. After each addition it waits for the cameras to settle, then reads their health for
a few seconds. The ramp stops when a camera's analysed rate falls below 4.5 fps or frames start
being dropped (more than 2% of the frames the cameras should have analysed), or when the time
budget runs out. The answer is the largest count that passed. The load average is printed
before and after: on a shared machine it says how far to trust the figure.

The workers' messages go where ``citybrain serve`` sends them (:class:`MessageRouter`: the
snapshot store, the batched event writer into the SQLite store, the live hub). After the ramp,
the cameras that failed are disabled and the sustained count is held for ``--hold`` seconds:
every event start in that window gives an alert latency, from the capture of the frame it was
decided on (its stream time in wall-clock time, as the server maps it) to its arrival (a) at a
live-hub subscriber, which is what ``/api/events/stream`` sends, and (b) in the events table
(polled every 50 ms). Memory is read from ``/proc`` (RSS and PSS) for the server process and
each worker, after every step and in the hold. ``--viewers N`` makes the first N cameras
watched live (as an open live stream would), which is what makes a camera render live frames.
``--substream 640`` gives every camera an analysis source: the same loop at 640x360 (the 720p
loop stays its viewing source), as a camera's substream would be; a watched camera then also
decodes its 720p viewing stream. ``--analysis-width 640`` analyses the one 720p stream scaled
down to 640x360 as it is converted (``camera.analysis_width``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from sqlalchemy import text

from citybrain.core.events import EventPhase
from citybrain.records import CameraFields
from citybrain.runtime.camera import RunnerOptions
from citybrain.runtime.messages import (
    CameraHealth,
    EventMessage,
    HealthMessage,
    WorkerMessage,
    WorkerStats,
)
from citybrain.runtime.supervisor import Supervisor, SupervisorOptions
from citybrain.runtime.worker_process import WorkerOptions
from citybrain.services.hub import LiveHub
from citybrain.services.metrics import ServerMetrics
from citybrain.services.router import MessageRouter
from citybrain.store import (
    CameraRepo,
    CountWriter,
    EventWriter,
    MediaStore,
    Store,
    open_store,
    sqlite_url,
)

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
CLIP = "worker-zone-detection.mp4"
TARGET_FPS = 5.0
MIN_FPS = 4.5
MAX_DROP_SHARE = 0.02
MB = 1024 * 1024
CONFIG = {
    "camera": {"fps": TARGET_FPS},
    "zones": {"floor": {"polygon": [[0, 0.45], [1, 0.45], [1, 1], [0, 1]]}},
    "rules": {"no_entry": {"kind": "restricted_zone", "zone": "floor"}},
}


def upscale(source: Path, target: Path, width: int = 1280, height: int = 720) -> Path:
    """Re-encode ``source`` at ``width`` x ``height`` (H.264, same frame rate) into ``target``."""
    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        stream_in = inp.streams.video[0]
        rate = Fraction(stream_in.average_rate or 15)
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = 1 / rate
        stream.options = {"crf": "23", "preset": "veryfast", "g": str(round(rate))}
        for index, frame in enumerate(inp.decode(stream_in)):
            big = frame.reformat(width=width, height=height, format="yuv420p")
            big.pts, big.time_base = index, 1 / rate
            out.mux(stream.encode(big))
        out.mux(stream.encode(None))
    return target


class HealthLog:
    """Keeps every health report, by camera."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reports: dict[int, list[CameraHealth]] = {}

    def __call__(self, message: WorkerMessage) -> None:
        if isinstance(message, HealthMessage):
            with self._lock:
                self.reports.setdefault(message.health.camera_id, []).append(message.health)

    def window(self, camera_id: int, since: float) -> list[CameraHealth]:
        with self._lock:
            return [h for h in self.reports.get(camera_id, []) if h.at.timestamp() >= since]


class Latency:
    """When each event start's frame was captured, and when the start arrived where it goes.

    A frame's capture time is its stream time in wall-clock time (the worker's ``wall_origin``
    plus the stream time of the frame the event was decided on): what the server itself uses.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.captured: dict[str, float] = {}
        self.arrived: dict[str, dict[str, float]] = {"hub": {}, "store": {}}

    def __call__(self, message: WorkerMessage) -> None:
        if isinstance(message, EventMessage) and message.update.phase == EventPhase.START:
            event = message.update.event
            with self._lock:
                self.captured[event.id] = message.wall_origin + event.snapshot_at

    def arrive(self, where: str, event_id: str, at: float) -> None:
        with self._lock:
            self.arrived[where].setdefault(event_id, at)

    def seconds(self, where: str, since: float, until: float) -> list[float]:
        """Capture-to-arrival seconds of the starts captured in ``[since, until)``."""
        with self._lock:
            return sorted(
                self.arrived[where][event_id] - captured
                for event_id, captured in self.captured.items()
                if since <= captured < until and event_id in self.arrived[where]
            )


def listen_hub(hub: LiveHub, latency: Latency, stop: threading.Event) -> threading.Thread:
    """A live-hub subscriber on its own event loop, as ``/api/events/stream`` has one."""

    async def listen() -> None:
        subscription = hub.subscribe(camera_ids=None)
        try:
            while not stop.is_set():
                for message in await subscription.get(timeout=0.2):
                    now = time.time()
                    data = json.loads(message.data)
                    if message.kind == "event" and data["phase"] == "start":
                        latency.arrive("hub", data["id"], now)
        finally:
            hub.unsubscribe(subscription)

    thread = threading.Thread(target=lambda: asyncio.run(listen()), name="hub", daemon=True)
    thread.start()
    return thread


def poll_store(store: Store, latency: Latency, stop: threading.Event) -> threading.Thread:
    """Notes when each event row first appears in the events table (every 50 ms)."""

    def poll() -> None:
        seen: set[str] = set()
        while not stop.wait(0.05):
            with store.session() as session:
                ids = set(session.execute(text("SELECT id FROM events")).scalars())
            now = time.time()
            for event_id in ids - seen:
                latency.arrive("store", event_id, now)
            seen |= ids

    thread = threading.Thread(target=poll, name="store-poll", daemon=True)
    thread.start()
    return thread


def memory_mb(pid: int) -> tuple[float, float]:
    """RSS and PSS of process ``pid``, MiB (PSS shares shared pages out between processes)."""
    values: dict[str, float] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
            for line in rollup:
                name, _, rest = line.partition(":")
                if name in ("Rss", "Pss"):
                    values[name] = int(rest.split()[0]) * 1024 / MB
    except OSError:
        return 0.0, 0.0
    return values.get("Rss", 0.0), values.get("Pss", 0.0)


@dataclass(frozen=True)
class Memory:
    """Resident memory of the server process and of each worker, MiB."""

    server: tuple[float, float]
    workers: list[tuple[float, float]]

    @classmethod
    def now(cls, supervisor: Supervisor) -> Memory:
        pids = [pid for pid in supervisor.worker_pids() if pid is not None]
        return cls(memory_mb(os.getpid()), [memory_mb(pid) for pid in pids])

    @property
    def total_pss(self) -> float:
        return self.server[1] + sum(pss for _, pss in self.workers)

    def line(self, cameras: int) -> str:
        workers = ", ".join(f"RSS {r:.0f} / PSS {p:.0f}" for r, p in self.workers)
        per_camera = self.total_pss / cameras if cameras else 0.0
        return (
            f"memory: server RSS {self.server[0]:.0f} / PSS {self.server[1]:.0f} MiB; "
            f"worker(s) {workers} MiB; all PSS {self.total_pss:.0f} MiB = "
            f"{per_camera:.0f} MiB per camera"
        )


@dataclass(frozen=True)
class Step:
    """One ramp step: cameras running and what they did during the measurement."""

    cameras: int
    fps: dict[int, float]
    dropped: int
    expected_frames: float
    memory: Memory | None = None
    window: tuple[float, float] = (0.0, 0.0)  # POSIX times measured
    live_fps: float | None = None  # live frames rendered per second per watched camera

    @property
    def passed(self) -> bool:
        if not self.fps or min(self.fps.values()) < MIN_FPS:
            return False
        return self.dropped <= MAX_DROP_SHARE * self.expected_frames

    def line(self) -> str:
        rates = " ".join(f"{v:.2f}" for v in self.fps.values())
        verdict = "ok" if self.passed else "FAIL"
        pss = f", PSS {self.memory.total_pss:.0f} MiB" if self.memory is not None else ""
        if self.live_fps is not None:
            pss += f", live {self.live_fps:.2f} fps per watched camera"
        return (
            f"{self.cameras:2d} cameras: min {min(self.fps.values(), default=0):.2f} fps, "
            f"dropped {self.dropped} of ~{self.expected_frames:.0f} [{verdict}]{pss}  "
            f"per camera: {rates}"
        )


def measure(
    log: HealthLog,
    ids: list[int],
    settle: float,
    seconds: float,
    supervisor: Supervisor,
    live: tuple[Callable[[], int], int] | None = None,
) -> Step:
    """``live``: the workers' live frames so far, and how many cameras are watched."""
    time.sleep(settle)
    start = time.time()
    rendered = live[0]() if live is not None else 0
    time.sleep(seconds)
    live_fps = None
    if live is not None and live[1]:
        live_fps = (live[0]() - rendered) / (time.time() - start) / live[1]
    fps: dict[int, float] = {}
    dropped = 0
    for camera_id in ids:
        reports = log.window(camera_id, start)
        if len(reports) < 2:
            fps[camera_id] = 0.0
            continue
        fps[camera_id] = statistics.mean(h.fps_analysed for h in reports)
        dropped += reports[-1].frames_dropped - reports[0].frames_dropped
    memory = Memory.now(supervisor)
    return Step(
        len(ids), fps, dropped, TARGET_FPS * seconds * len(ids), memory, (start, time.time()),
        live_fps,
    )  # fmt: skip


def add_camera(
    store: Store, index: int, source: Path, substream: Path | None, analysis_width: int = 0
) -> int:
    config = CONFIG
    if analysis_width:
        config = {**CONFIG, "camera": {"fps": TARGET_FPS, "analysis_width": analysis_width}}
    with store.session() as session:
        repo = CameraRepo(session)
        fields = CameraFields(name=f"bench-{index}", source=str(source), config=config)
        if substream is not None:  # only then: older versions had no such field
            fields = fields.model_copy(update={"analysis_source": str(substream)})
        return repo.create(fields).id


def disable(store: Store, supervisor: Supervisor, camera_ids: list[int]) -> None:
    with store.session() as session:
        for camera_id in camera_ids:
            CameraRepo(session).update(camera_id=camera_id, changes={"enabled": False})
    for camera_id in camera_ids:
        supervisor.sync(camera_id)


class Server:
    """The camera runtime and where ``citybrain serve`` sends its messages, in this process."""

    def __init__(self, args: argparse.Namespace, data: Path) -> None:
        (data / "media").mkdir(parents=True, exist_ok=True)
        self.store = open_store(sqlite_url(data))
        self.health, self.latency, self.hub = HealthLog(), Latency(), LiveHub()
        self.events = EventWriter(self.store, data_dir=data)
        self.counts = CountWriter(self.store, data_dir=data)
        router = MessageRouter(
            events=self.events, counts=self.counts, hub=self.hub,
            media=MediaStore(data / "media"), metrics=ServerMetrics(),
        )  # fmt: skip
        self.ids: list[int] = []
        self.viewers = args.viewers
        self.analysis_width: int = args.analysis_width
        self._live_frames: dict[int, int] = {}  # worker slot -> live frames it rendered
        options = SupervisorOptions(
            workers=args.workers,
            worker=WorkerOptions(runner=RunnerOptions(live_fps=2.0), log_level=logging.WARNING),
        )
        # Without viewers nothing is passed: the bench then runs on versions that had no
        # notion of viewers too (they rendered live frames for every camera).
        extra: dict[str, Callable[[], list[int]]] = {}
        if self.viewers:
            extra["watched"] = lambda: self.ids[: self.viewers]
        self.supervisor = Supervisor(
            self.store, self._receive(router), options, forget=router.forget, **extra
        )
        self._stop = threading.Event()
        self._threads = [
            listen_hub(self.hub, self.latency, self._stop),
            poll_store(self.store, self.latency, self._stop),
        ]

    def _receive(self, router: MessageRouter) -> Callable[[WorkerMessage], None]:
        def receive(message: WorkerMessage) -> None:
            self.latency(message)  # before the router: the capture time is known first
            self.health(message)
            if isinstance(message, WorkerStats):
                self._live_frames[message.worker] = getattr(message, "live_frames", 0)
            router.handle(message)

        return receive

    def live(self, cameras: int) -> tuple[Callable[[], int], int]:
        """What :func:`measure` needs to count the live frames of the watched cameras."""
        return (lambda: sum(self._live_frames.values())), min(self.viewers, cameras)

    def add(self, clip: Path, substream: Path | None) -> None:
        width = self.analysis_width
        self.ids.append(add_camera(self.store, len(self.ids), clip, substream, width))
        self.supervisor.sync(self.ids[-1])
        if self.viewers and len(self.ids) <= self.viewers:
            self.supervisor.demand_changed()

    def close(self) -> None:
        self._stop.set()
        self.supervisor.close()
        for thread in self._threads:
            thread.join(5.0)
        self.events.close()
        self.counts.close()
        self.store.close()


def ramp(
    args: argparse.Namespace, server: Server, clip: Path, substream: Path | None
) -> list[Step]:
    steps: list[Step] = []
    deadline = time.monotonic() + args.budget
    while len(server.ids) < args.max_cameras and time.monotonic() < deadline:
        server.add(clip, substream)
        step = measure(
            server.health, server.ids, args.settle, args.seconds, server.supervisor,
            server.live(len(server.ids)),
        )  # fmt: skip
        steps.append(step)
        print(step.line(), flush=True)
        if not step.passed:
            break
    return steps


def percentiles(values: list[float]) -> str:
    if not values:
        return "no event"
    p50 = statistics.median(values)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {values[-1] * 1000:.0f} ms"


def latencies(server: Server, since: float, until: float, what: str) -> None:
    for where in ("hub", "store"):
        values = server.latency.seconds(where, since, until)
        print(
            f"alert latency, capture -> {where} ({what}): {percentiles(values)} "
            f"({len(values)} starts)"
        )


def hold(args: argparse.Namespace, server: Server, steps: list[Step]) -> None:
    """Back at the sustained count, measure alert latency and memory for ``--hold`` seconds."""
    sustained = max((s.cameras for s in steps if s.passed), default=0)
    if not sustained:
        return
    best = next(s for s in steps if s.cameras == sustained)
    latencies(server, *best.window, f"the ramp's {sustained}-camera step")
    first = steps[0].memory
    if best.memory is not None and first is not None:
        print(best.memory.line(sustained))
        if sustained > 1:
            slope = (best.memory.total_pss - first.total_pss) / (sustained - 1)
            print(f"memory per added camera (PSS, 1 -> {sustained} cameras): {slope:.0f} MiB")
    if args.hold <= 0:
        return
    extra = server.ids[sustained:]
    if extra:
        disable(server.store, server.supervisor, extra)
    running = server.ids[:sustained]
    began = time.time()
    step = measure(
        server.health, running, args.settle, args.hold, server.supervisor, server.live(sustained)
    )
    ended = time.time()
    since = began + args.settle
    print(f"hold at {sustained} cameras for {args.hold:.0f} s: {step.line()}", flush=True)
    time.sleep(1.0)  # the last starts of the window reach the store
    latencies(server, since, ended, f"held at {sustained}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--max-cameras", type=int, default=16)
    parser.add_argument("--settle", type=float, default=6.0, help="seconds after each addition")
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds measured per step")
    parser.add_argument("--budget", type=float, default=270.0, help="seconds for the whole ramp")
    parser.add_argument("--viewers", type=int, default=0, help="cameras watched live")
    parser.add_argument(
        "--substream", type=int, default=0, help="width of an analysis source (0: none)"
    )
    parser.add_argument(
        "--analysis-width", type=int, default=0,
        help="analyse the 720p stream scaled down to this width (0: as decoded)",
    )  # fmt: skip
    parser.add_argument(
        "--hold", type=float, default=30.0, help="seconds held at the sustained count"
    )
    args = parser.parse_args()
    os.environ.setdefault("CITYBRAIN_MODEL_DIR", str(ROOT.parent / "shared" / "models"))
    samples = Path(os.environ.get("CITYBRAIN_SAMPLES") or ROOT.parent / "shared" / "footage")
    logging.basicConfig(level=logging.WARNING)
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)", flush=True)
    with tempfile.TemporaryDirectory(prefix="citybrain-bench-") as tmp:
        began = time.monotonic()
        clip = upscale(samples / CLIP, Path(tmp) / "loop-720p.mp4")
        print(f"720p loop made in {time.monotonic() - began:.1f} s: {clip.name}", flush=True)
        substream = None
        if args.substream:
            width, height = args.substream, args.substream * 9 // 16 // 2 * 2
            substream = upscale(samples / CLIP, Path(tmp) / "sub.mp4", width, height)
            print(f"analysis source: the loop at {width}x{height}", flush=True)
        server = Server(args, Path(tmp) / "data")
        server.supervisor.start()
        try:
            steps = ramp(args, server, clip, substream)
            hold(args, server, steps)
        finally:
            server.close()
    sustained = max((s.cameras for s in steps if s.passed), default=0)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(
        f"RESULT: {sustained} camera(s) of 1280x720 at {TARGET_FPS:.0f} analysed fps sustained "
        f"by one server with {args.workers} worker process(es) on {os.cpu_count()} CPUs, "
        f"{args.viewers} watched live"
        + (f", analysing a {args.substream}-wide substream" if args.substream else "")
        + (f", analysed at {args.analysis_width} px wide" if args.analysis_width else "")
    )


if __name__ == "__main__":
    main()
