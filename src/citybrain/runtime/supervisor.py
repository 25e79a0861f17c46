"""The camera supervisor: keeps the worker processes running the cameras the store describes.

:meth:`Supervisor.sync` (called by the API after each camera change) re-reads one camera from
the store and starts it on the least loaded worker, restarts it where it runs when its source or
config changed, or stops it when it was deleted or disabled. A worker process that dies is
started again (with a growing pause if it keeps dying) and its cameras are placed again; the
events its cameras had open are ended first (a :class:`CameraStopped` to the receiver, once
nothing more can come from the dead worker), so that no event stays open forever and none is
open twice. All of this happens on one control thread; callers return at once.

Example:
    >>> supervisor = Supervisor(store, sink.handle, SupervisorOptions(workers=1))  # doctest: +SKIP
    >>> supervisor.start()  # starts every enabled camera in the store  # doctest: +SKIP
    >>> supervisor.sync(camera_id)  # after the API changed it  # doctest: +SKIP
    >>> supervisor.close()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from citybrain.core.events import EndedBy
from citybrain.errors import ConfigError, SourceError, StoreError
from citybrain.records import CameraHealth, CameraRecord
from citybrain.runtime.camera_plan import CameraPlan, plan_camera
from citybrain.runtime.health_board import HealthBoard
from citybrain.runtime.live import DemandLease
from citybrain.runtime.messages import (
    CameraStopped,
    FrameMessage,
    HealthMessage,
    ReplaceRules,
    StartCamera,
    StopCamera,
    WorkerMessage,
    WorkerReady,
)
from citybrain.runtime.site_plan import SitePlanner, merge_site_rules
from citybrain.runtime.worker_handle import WorkerHandle
from citybrain.runtime.worker_process import WorkerOptions
from citybrain.store import CameraRepo, Store

__all__ = ["MessageReceiver", "Supervisor", "SupervisorOptions"]

log = logging.getLogger(__name__)

#: Receives every message from the workers (events, counts, health, frames), on drain threads.
MessageReceiver = Callable[[WorkerMessage], None]
_ALL = -1  # the request to sync every camera
_DEMAND = -2  # the request to tell the workers at once which cameras are watched
#: The rules and zones sites add to a camera (to tell whether they changed).
_SiteRuleSet = tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class SupervisorOptions:
    """How the supervisor runs its workers.

    Attributes:
        workers: worker processes.
        worker: settings every worker gets (its ``index`` is set per slot).
        stale_after: seconds without a health report before a camera counts as offline.
        tick: seconds between checks of the workers and health.
        restart_initial: pause before restarting a worker that died soon after starting.
        restart_max: longest such pause (it doubles per quick death).
        store_retry: seconds before re-reading a camera when the store was unreachable.
        reconcile: seconds between full comparisons with the store, which pick up cameras
            changed outside this server's API (``citybrain camera add``, another server).
        site_interval: seconds between re-reads of the sites cameras see (rules from data).
    """

    workers: int = 1
    worker: WorkerOptions = field(default_factory=WorkerOptions)
    stale_after: float = 3.0
    tick: float = 0.5
    restart_initial: float = 1.0
    restart_max: float = 30.0
    store_retry: float = 2.0
    reconcile: float = 10.0
    # Rules from data (issue 12): seconds between re-reads of sites, a minute at most.
    site_interval: float = 60.0


@dataclass(slots=True)
class _Slot:
    """One worker position: the current process and its restart bookkeeping.

    ``cameras`` are those ever placed on the current process: if it dies, their open events
    end (a camera stopped on it since has none left; ending nothing costs nothing).
    """

    handle: WorkerHandle | None = None
    started_at: float = 0.0
    quick_deaths: int = 0
    restart_at: float | None = None
    cameras: set[int] = field(default_factory=set)


class Supervisor:
    """Runs the store's enabled cameras in worker processes (implements ``CameraControl``).

    Args:
        store: where cameras are read from (the supervisor never writes).
        receiver: receives every worker message (on the workers' drain threads).
        options: how many workers and how they run.
        forget: called with a camera's id once it was stopped (deleted or disabled), so that
            its live frame and health can be dropped.
        check_source: checks a camera's source against the server's source policy before it
            is run (raises :class:`~citybrain.errors.SourceError`); ``None``: any source.
        sites: rules from data: adds the rules the city's sites give each camera, and replaces
            them in the running camera when sites start or expire.
        watched: the cameras someone watches live (the live hub's view); only those render
            live frames. ``None``: none does. Call :meth:`demand_changed` when it changes.
    """

    def __init__(
        self,
        store: Store,
        receiver: MessageReceiver,
        options: SupervisorOptions | None = None,
        *,
        forget: Callable[[int], None] | None = None,
        check_source: Callable[[str], str] | None = None,
        sites: SitePlanner | None = None,
        watched: Callable[[], Collection[int]] | None = None,
    ) -> None:
        self.options = options or SupervisorOptions()
        self._demand = None if watched is None else DemandLease(watched)
        self._sites = sites
        self._site_rules: dict[int, _SiteRuleSet] = {}  # camera id -> what it was last sent
        self._store = store
        self._receiver = receiver
        self._forget = forget
        self._check_source = check_source
        self._board = HealthBoard(self.options.stale_after)
        self._slots = [_Slot() for _ in range(self.options.workers)]
        self._plans: dict[int, CameraPlan] = {}
        self._placed: dict[int, int] = {}  # camera id -> worker slot
        self._retry_at: dict[int, float] = {}
        self._requests: queue.Queue[int] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._closing = threading.Event()
        self._next_reconcile = time.monotonic() + self.options.reconcile
        self._thread = threading.Thread(target=self._control, name="supervisor", daemon=True)

    # --- CameraControl ---------------------------------------------------------------------

    def sync(self, camera_id: int) -> None:
        """Bring camera ``camera_id`` in line with the store, in the background."""
        self._request(camera_id)

    def sync_all(self) -> None:
        """Bring every camera in line with the store, in the background."""
        self._request(_ALL)

    def demand_changed(self) -> None:
        """Someone started or stopped watching a camera live: tell the workers (background)."""
        self._request(_DEMAND)

    def health(self) -> dict[int, CameraHealth]:
        """The latest health of every camera that should be running."""
        return self._board.snapshot()

    def queue_depth(self) -> int:
        """Sync requests waiting for the control thread (for the metrics)."""
        return self._requests.qsize()

    def ready(self) -> bool:
        """Whether every worker process is up and has reported ready."""
        if self._closing.is_set() or not self._thread.is_alive():
            return False
        return all(s.handle is not None and s.handle.alive and s.handle.ready for s in self._slots)

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the workers and every enabled camera in the store."""
        for index in range(len(self._slots)):
            self._spawn(index)
        self._thread.start()
        self.sync_all()

    def settle(self, timeout: float = 30.0) -> bool:
        """Wait until every sync requested so far was carried out; ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def begin_shutdown(self) -> None:
        """Stop restarting workers (the server is going down; they may be signalled too)."""
        self._closing.set()

    def close(self, timeout: float = 20.0) -> None:
        """Stop every camera (ending open events, which reach the receiver) and every worker."""
        self._closing.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        handles = [s.handle for s in self._slots if s.handle is not None]
        for handle in handles:
            handle.stop(timeout)
        for slot in self._slots:  # a worker killed after the timeout did not end its events
            if slot.handle is not None:
                slot.handle.retire()
            self._end_open_events(slot, EndedBy.WORKER_STOPPED)
        log.info("camera supervisor stopped (%d worker(s))", len(handles))

    def running(self) -> dict[int, CameraPlan]:
        """The plans of the cameras placed on workers now (for tests and diagnostics)."""
        return dict(self._plans)

    def worker_pids(self) -> list[int | None]:
        """The process id of each worker slot (``None`` while it waits to restart)."""
        return [None if s.handle is None else s.handle.pid for s in self._slots]

    # --- control thread --------------------------------------------------------------------

    def _request(self, camera_id: int) -> None:
        with self._idle:
            self._pending += 1
        self._requests.put(camera_id)

    def _control(self) -> None:
        while not self._closing.is_set():
            try:
                camera_id = self._requests.get(timeout=self.options.tick)
            except queue.Empty:
                camera_id = None
            try:
                if camera_id == _ALL:
                    self._sync_all()
                elif camera_id is not None and camera_id != _DEMAND:
                    self._sync(camera_id)
                if time.monotonic() >= self._next_reconcile:
                    self._next_reconcile = time.monotonic() + self.options.reconcile
                    self._sync_all()
                if self._sites is not None and self._sites.due():
                    self._replan_sites()
                self._watch_workers()
                self._send_demand()
                self._retry_due()
                for health in self._board.expire():
                    self._publish(health)
            except Exception:  # the control loop must outlive any one failure
                log.exception("camera supervisor: control step failed")
            finally:
                if camera_id is not None:
                    with self._idle:
                        self._pending -= 1
                        self._idle.notify_all()

    def _sync_all(self) -> None:
        try:
            with self._store.session() as session:
                ids = {c.id for c in CameraRepo(session).list()}
        except (SQLAlchemyError, StoreError) as exc:
            log.warning("cannot list cameras (%s); retrying", exc)
            self._retry_at[_ALL] = time.monotonic() + self.options.store_retry
            return
        for camera_id in sorted(ids | set(self._plans)):
            self._sync(camera_id)

    def _sync(self, camera_id: int) -> None:
        try:
            plan, error = self._load(camera_id)
        except (SQLAlchemyError, StoreError) as exc:
            log.warning("cannot read camera %d (%s); retrying", camera_id, exc)
            self._retry_at[camera_id] = time.monotonic() + self.options.store_retry
            return
        self._retry_at.pop(camera_id, None)
        if plan is None:
            if self._sites is not None:
                self._sites.forget(camera_id)
            was_running = self._unplace(camera_id)
            if error is not None:
                self._publish(self._board.watch(camera_id, error))
            else:
                self._board.forget(camera_id)
                if was_running and self._forget is not None:
                    self._forget(camera_id)
            return
        if self._plans.get(camera_id) == plan and camera_id in self._placed:
            return
        self._place(plan)

    def _load(self, camera_id: int) -> tuple[CameraPlan | None, str | None]:
        """The camera's plan, or ``None`` (deleted, disabled, or invalid: then the error)."""
        with self._store.session() as session:
            camera = CameraRepo(session).get(camera_id=camera_id)
            if camera is None or not camera.enabled:
                return None, None
            name, source, config = camera.name, camera.source, dict(camera.config)
            analysis = camera.analysis_source
        self._site_update(camera)
        try:
            if self._check_source is not None:
                # Again at every plan: a name may resolve elsewhere than when it was stored.
                source = self._check_source(source)
                analysis = None if analysis is None else self._check_source(analysis)
            return plan_camera(camera_id, name, source, config, analysis), None
        except (ConfigError, SourceError) as exc:
            log.error("camera %d not started: %s", camera_id, exc)
            return None, str(exc)

    def _place(self, plan: CameraPlan) -> None:
        slot = self._placed.get(plan.camera_id)
        if slot is None or not self._alive(slot):
            self._placed.pop(plan.camera_id, None)
            slot = self._least_loaded()
        self._plans[plan.camera_id] = plan
        self._board.watch(plan.camera_id)
        if slot is None:
            return  # no worker alive now: placed when one is back
        handle = self._slots[slot].handle
        assert handle is not None
        self._placed[plan.camera_id] = slot
        self._slots[slot].cameras.add(plan.camera_id)
        handle.send(self._start_command(plan))
        log.info("camera %d (%s, %s) -> worker %d", plan.camera_id, plan.name,
                 plan.safe_source, slot)  # fmt: skip

    # --- rules from data (issue 12) ---------------------------------------------------------

    def _site_update(self, camera: CameraRecord) -> None:
        if self._sites is None:
            return
        try:
            self._sites.update(camera)
        except (SQLAlchemyError, StoreError) as exc:
            log.warning("cannot read the sites of camera %d (%s); next plan retries", camera.id,
                        exc)  # fmt: skip

    def _start_command(self, plan: CameraPlan) -> StartCamera:
        """The camera's start, with the rules sites give it now added to its own."""
        command = plan.start_command()
        if self._sites is None:
            return command
        rules = self._sites.rules(plan.camera_id, plan.config)
        try:
            config = merge_site_rules(plan.config, rules)
        except ValueError as exc:  # a template the config refuses for this camera
            log.error("camera %d: rules from data not added: %s", plan.camera_id, exc)
            return command
        self._site_rules[plan.camera_id] = (rules.config_rules(), rules.zones)
        return replace(command, config=config)

    def _replan_sites(self) -> None:
        """Re-read sites; tell each running camera whose rules from data changed."""
        assert self._sites is not None
        if not self._sites.refresh():
            return
        for camera_id, plan in self._plans.items():
            slot = self._placed.get(camera_id)
            if slot is None or not self._alive(slot):
                continue
            rules = self._sites.rules(camera_id, plan.config)
            if self._site_rules.get(camera_id, ({}, {})) == (rules.config_rules(), rules.zones):
                continue
            try:
                config = merge_site_rules(plan.config, rules)
            except ValueError as exc:
                log.error("camera %d: rules from data not added: %s", camera_id, exc)
                continue
            self._site_rules[camera_id] = (rules.config_rules(), rules.zones)
            handle = self._slots[slot].handle
            assert handle is not None
            handle.send(ReplaceRules(camera_id, config))
            origins = sorted(rules.origins().items())
            log.info("camera %d: rules from data now %s", camera_id, origins)

    def _unplace(self, camera_id: int) -> bool:
        """Stop the camera wherever it runs; whether it was meant to be running."""
        planned = self._plans.pop(camera_id, None) is not None
        self._site_rules.pop(camera_id, None)
        slot = self._placed.pop(camera_id, None)
        if slot is not None and self._alive(slot):
            handle = self._slots[slot].handle
            assert handle is not None
            handle.send(StopCamera(camera_id))
            log.info("camera %d stopped on worker %d", camera_id, slot)
        return planned

    def _least_loaded(self) -> int | None:
        alive = [i for i in range(len(self._slots)) if self._alive(i)]
        if not alive:
            return None
        load = {i: 0 for i in alive}
        for slot in self._placed.values():
            if slot in load:
                load[slot] += 1
        return min(alive, key=lambda i: (load[i], i))

    def _alive(self, index: int) -> bool:
        handle = self._slots[index].handle
        return handle is not None and handle.alive

    def _retry_due(self) -> None:
        now = time.monotonic()
        for camera_id, due in list(self._retry_at.items()):
            if due <= now:
                del self._retry_at[camera_id]
                if camera_id == _ALL:
                    self._sync_all()
                else:
                    self._sync(camera_id)

    def _send_demand(self) -> None:
        """Tell every worker which cameras are watched, when that changed or is to be renewed."""
        demand = None if self._demand is None else self._demand.due()
        if demand is None:
            return
        for slot in self._slots:
            if slot.handle is not None and slot.handle.alive:
                slot.handle.send(demand)

    # --- workers ---------------------------------------------------------------------------

    def _spawn(self, index: int) -> None:
        slot = self._slots[index]
        options = replace(self.options.worker, index=index)
        handle = WorkerHandle(options, self._on_message)
        handle.start()
        slot.handle, slot.started_at, slot.restart_at = handle, time.monotonic(), None
        if self._demand is not None:
            self._demand.reset()
        log.info("worker %d started (pid %s)", index, handle.pid)

    def _watch_workers(self) -> None:
        now = time.monotonic()
        if self._closing.is_set():
            return
        for index, slot in enumerate(self._slots):
            if slot.handle is not None and not slot.handle.alive:
                self._worker_died(index, slot, now)
            if slot.handle is None and slot.restart_at is not None and slot.restart_at <= now:
                self._spawn(index)
        orphans = [cid for cid in self._plans if cid not in self._placed]
        for camera_id in orphans:
            self._place(self._plans[camera_id])

    def _worker_died(self, index: int, slot: _Slot, now: float) -> None:
        handle = slot.handle
        assert handle is not None
        code = handle.process.exitcode
        handle.join_drains(timeout=2.0)
        handle.retire()  # whatever it left unread is not handed on after the events end
        self._end_open_events(slot, EndedBy.WORKER_DIED)
        slot.handle = None
        quick = now - slot.started_at < 60.0
        slot.quick_deaths = slot.quick_deaths + 1 if quick else 0
        pause = 0.0
        if slot.quick_deaths > 1:
            pause = self.options.restart_initial * 2.0 ** min(slot.quick_deaths - 2, 16)
            pause = min(pause, self.options.restart_max)
        slot.restart_at = now + pause
        error = f"worker process {index} exited with code {code}; restarting its cameras"
        log.error("%s (in %.1f s)", error, pause)
        for camera_id in [c for c, s in self._placed.items() if s == index]:
            del self._placed[camera_id]
            if (health := self._board.mark_offline(camera_id, error)) is not None:
                self._publish(health)

    # --- messages up -----------------------------------------------------------------------

    def _on_message(self, index: int, message: WorkerMessage) -> None:
        if isinstance(message, WorkerReady):
            handle = self._slots[index].handle
            if handle is not None and handle.pid == message.pid:
                handle.ready = True
            log.info("worker %d ready (pid %d)", index, message.pid)
            return
        if isinstance(message, HealthMessage) and not self._board.report(message.health):
            return  # a camera stopped since: its last words are not news
        if isinstance(message, FrameMessage) and not self._board.watching(message.camera_id):
            return
        self._receiver(message)

    def _end_open_events(self, slot: _Slot, reason: EndedBy) -> None:
        cameras, slot.cameras = sorted(slot.cameras), set()
        for camera_id in cameras:
            try:
                self._receiver(CameraStopped(camera_id, reason))
            except Exception:
                log.exception("ending the open events of camera %d failed", camera_id)

    def _publish(self, health: CameraHealth) -> None:
        try:
            self._receiver(HealthMessage(health))
        except Exception:
            log.exception("publishing the health of camera %d failed", health.camera_id)
