"""The composition root of ``citybrain serve``: store, writers, camera supervisor, hub and API.

:func:`build_server` wires the parts; :func:`run_server` starts MQTT and webhooks, then the
cameras, serves HTTP with uvicorn until SIGINT or SIGTERM, then shuts down in order: HTTP first,
then the cameras (their open events end and reach the writers and the integrations), then the
writers (everything buffered is written, or journalled if the database is away), then MQTT and
webhooks (what waits is written to the outbox; the broker hears ``offline``), then the database
connections.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import uvicorn
from fastapi import FastAPI

from citybrain.api.main import create_app
from citybrain.config.server import ServerSettings
from citybrain.core.events import EndedBy
from citybrain.integrations.metrics import OutboundMetrics
from citybrain.integrations.mqtt import MqttPublisher
from citybrain.integrations.webhooks import WebhookService
from citybrain.netpolicy import NetworkPolicy
from citybrain.runtime.camera import RunnerOptions
from citybrain.runtime.site_plan import SiteContexts, SitePlanner
from citybrain.runtime.supervisor import Supervisor, SupervisorOptions
from citybrain.runtime.vision_pool import BatchSettings
from citybrain.runtime.worker_process import WorkerOptions
from citybrain.server.demo import add_demo_cameras
from citybrain.server.listen import bind_listener
from citybrain.services import Services, network_policy
from citybrain.services.audit import AuditTrail
from citybrain.services.camera_names import CameraNames
from citybrain.services.hub import LiveHub
from citybrain.services.metrics import ServerMetrics
from citybrain.services.outbound import Outbound
from citybrain.services.router import MessageRouter
from citybrain.services.site_refresh import SiteRefresh
from citybrain.services.sources import SAMPLES_VAR, source_policy
from citybrain.services.webhook_store import SqlDirectory, SqlOutbox
from citybrain.store import (
    CameraRepo,
    CountWriter,
    EventRepo,
    EventWriter,
    MediaStore,
    Store,
    UserRepo,
    open_store,
)

__all__ = ["Server", "build_server", "run_server", "supervisor_options"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Server:
    """The running parts of one server; :meth:`close` stops them in order."""

    settings: ServerSettings
    store: Store
    events: EventWriter
    counts: CountWriter
    supervisor: Supervisor
    services: Services
    app: FastAPI
    site_refresh: SiteRefresh
    outbound: Outbound
    router: MessageRouter

    def begin_shutdown(self) -> None:
        """The first stop signal: end every open live stream now (so HTTP stops at once, not
        after its grace period), and stop restarting workers that the signal may stop too."""
        self.services.hub.close()
        self.supervisor.begin_shutdown()

    def close(self) -> None:
        """Stop the cameras, flush the writers, hand the last events on, close the database
        (safe to call twice)."""
        self.site_refresh.stop()
        self.supervisor.close()
        self.events.close()
        self.counts.close()
        self.outbound.close()
        self.store.close()
        log.info("server stopped: events and counts flushed")


def supervisor_options(settings: ServerSettings) -> SupervisorOptions:
    """The camera runtime's settings from the server's."""
    worker = WorkerOptions(
        runner=RunnerOptions(live_fps=settings.live_fps),
        batch=BatchSettings(threads=settings.detector_threads),
        log_level=logging.getLogger().getEffectiveLevel(),
        niceness=settings.worker_niceness,
    )
    return SupervisorOptions(workers=settings.workers, worker=worker)


def build_server(settings: ServerSettings, options: SupervisorOptions | None = None) -> Server:
    """Open the store and wire every part (nothing runs until :func:`run_server`).

    Raises:
        StoreError: the database cannot be opened or migrated.
        ConfigError: the token key in the data directory is unusable.
    """
    _private_data_dir(settings)
    store = open_store(settings.resolved_database_url)
    _private_files(settings.data_dir)
    events = EventWriter(store, data_dir=settings.data_dir)
    counts = CountWriter(store, data_dir=settings.data_dir)
    hub, metrics, media = LiveHub(), ServerMetrics(), MediaStore(settings.media_dir)
    options = options or supervisor_options(settings)
    policy = network_policy(settings)
    sources = source_policy(settings, policy)
    outbound = build_outbound(settings, store, policy, metrics)
    # City data (issue 12): the sites each camera sees give its events context and its rules.
    contexts = SiteContexts()
    planner = SitePlanner(store, settings.site_rules, contexts, interval=options.site_interval)
    site_refresh = SiteRefresh(
        store, settings.site_sources, max_bytes=settings.site_import_max_bytes, policy=policy,
        on_import=lambda _summary: planner.wake(),
    )  # fmt: skip
    router = MessageRouter(
        events=events,
        counts=counts,
        hub=hub,
        media=media,
        metrics=metrics,
        contexts=contexts,
        outbound=outbound,
    )
    supervisor = Supervisor(
        store, router.handle, options, forget=router.forget, check_source=sources.check,
        sites=planner, watched=hub.watched,
    )  # fmt: skip
    # Cameras render live frames only while someone watches; the workers hear of it at once.
    hub.on_demand_change(supervisor.demand_changed)
    services = Services(
        settings=settings, store=store, cameras=supervisor, media=media, audit=AuditTrail(store),
        policy=policy, sources=sources, hub=hub, metrics=metrics, sites_changed=planner.wake,
        outbound=outbound, events_written=events.flush,
    )  # fmt: skip
    metrics.watch_queue("supervisor", supervisor.queue_depth)
    metrics.watch_queue("events", lambda: events.stats().pending)
    metrics.watch_queue("counts", lambda: counts.stats().pending)
    return Server(
        settings=settings, store=store, events=events, counts=counts, supervisor=supervisor,
        services=services, app=create_app(services), site_refresh=site_refresh,
        outbound=outbound, router=router,
    )  # fmt: skip


def _private_data_dir(settings: ServerSettings) -> None:
    """The data directory, readable by the server's user only: it holds the database (password
    hashes, camera credentials), the token key, journals and snapshots."""
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    settings.data_dir.chmod(0o700)


def _private_files(data_dir: Path) -> None:
    """Files an earlier version or another tool left readable by others: the server's user only.
    (What the server makes afterwards is private through its umask.)"""
    for path in data_dir.glob("citybrain.db*"):
        path.chmod(0o600)


def build_outbound(
    settings: ServerSettings, store: Store, policy: NetworkPolicy, metrics: ServerMetrics
) -> Outbound:
    """MQTT (when configured) and webhooks, their metrics on the server's ``/metrics``.

    Raises:
        ConfigError: the MQTT password file or a TLS file is unreadable.
        QueueError: the MQTT queue file cannot be opened.
    """
    outbound_metrics = OutboundMetrics(metrics.registry)
    base_url = settings.public_base
    mqtt = None
    if settings.mqtt is not None:
        mqtt = MqttPublisher.from_settings(
            settings.mqtt, data_dir=settings.data_dir, policy=policy, metrics=outbound_metrics,
            base_url=base_url,
        )  # fmt: skip
    directory = SqlDirectory(store)
    webhooks = WebhookService(
        SqlOutbox(store, max_pending=settings.webhooks.max_pending), directory, policy=policy,
        metrics=outbound_metrics, settings=settings.webhooks, source=base_url or "/citybrain",
        base_url=base_url,
    )  # fmt: skip
    outbound = Outbound(
        names=CameraNames(store), metrics=outbound_metrics, mqtt=mqtt, webhooks=webhooks,
        directory=directory,
    )  # fmt: skip
    return outbound


def run_server(settings: ServerSettings) -> None:
    """Serve until SIGINT or SIGTERM, then shut down cleanly.

    Raises:
        ListenError: the address cannot be listened on (nothing was started).
        StoreError: the database cannot be opened.
        ConfigError: the token key is unusable.
    """
    # Everything the server writes (database, WAL, journals, snapshots) is its user's alone.
    os.umask(0o077)
    listener = bind_listener(settings.host, settings.port)  # first: a busy port starts nothing
    try:
        server = build_server(settings)
    except BaseException:
        listener.close()
        raise
    _on_stop_signals(_raise_stop)
    try:
        _end_events_left_open(server)
        _prepare_cameras(server)
        server.outbound.start()  # pending webhook deliveries resume; MQTT connects
        server.supervisor.start()
        server.site_refresh.start()
        _greet(server)
        config = uvicorn.Config(
            server.app, host=settings.host, port=settings.port, log_config=None,
            access_log=False, timeout_graceful_shutdown=5,
            # Forwarded headers are judged by the API against `trusted_proxies`, never here.
            proxy_headers=False,
        )  # fmt: skip
        # uvicorn handles SIGINT and SIGTERM itself (a graceful HTTP stop), then re-raises the
        # signal it caught: it lands in _raise_stop instead of killing the process unflushed.
        _Uvicorn(config, on_exit=server.begin_shutdown).run(sockets=[listener])
    except _StopRequested:
        pass
    finally:
        _on_stop_signals(_note_stop)
        listener.close()
        log.info("shutting down: stopping cameras and flushing events")
        server.close()


def _end_events_left_open(server: Server) -> None:
    """End the events a previous run left open (it crashed or was killed: no camera of it will
    ever end them), before this run's cameras start theirs. The journal it left goes first.

    One server per store: a cluster of servers on one database must do this per camera.
    """
    if not server.events.flush(timeout=30.0):
        log.warning("the last run's event journal is not written yet: its open events stay open")
    with server.store.session() as session:
        ended = EventRepo(session).end_open(reason=EndedBy.SERVER_RESTART)
    if ended:
        log.warning("%d event(s) the last run left open ended (server_restart)", len(ended))


def _prepare_cameras(server: Server) -> None:
    with server.store.session() as session:
        has_cameras = bool(CameraRepo(session).list())
    samples = os.environ.get(SAMPLES_VAR)
    want_demo = server.settings.demo
    if want_demo is None:
        want_demo = bool(samples) and not has_cameras
    if want_demo:
        if not samples:
            log.warning("demo cameras asked for, but %s is not set: none added", SAMPLES_VAR)
        else:
            added = add_demo_cameras(server.store, Path(samples))
            log.info("%d demo camera(s) added from %s", len(added), samples)
            return
    if not has_cameras:
        _hint_cameras(server.settings)


def _hint_cameras(settings: ServerSettings) -> None:
    url = f"http://{settings.host}:{settings.port}"
    log.info(
        "no cameras yet. Add one through the API with an admin's token, e.g.\n"
        "  TOKEN=$(citybrain user token ADMIN --name setup --data %s)\n"
        "  curl -X POST %s/api/cameras -H \"Authorization: Bearer $TOKEN\" "
        "-H 'Content-Type: application/json' \\\n"
        "    -d '{\"name\": \"gate\", \"source\": \"rtsp://user:pass@camera/stream\", "
        "\"config\": {\"zones\": {}, \"rules\": {}}}'\n"
        "or set %s to a folder of clips for demo cameras.",
        settings.data_dir, url, SAMPLES_VAR,
    )  # fmt: skip


def _greet(server: Server) -> None:
    settings = server.settings
    with server.store.session() as session:
        has_users = bool(UserRepo(session).list())
    print(f"citybrain serving on http://{settings.host}:{settings.port}", flush=True)
    if not has_users:
        print(
            "no users yet: create the first admin with "
            f"`citybrain user add NAME --role admin --data {settings.data_dir}`",
            flush=True,
        )


class _Uvicorn(uvicorn.Server):
    """uvicorn's server, telling the supervisor at the first stop signal (not after HTTP
    shutdown), so that workers stopped by the same signal are not restarted meanwhile."""

    def __init__(self, config: uvicorn.Config, *, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._on_exit()
        super().handle_exit(sig, frame)


class _StopRequested(Exception):  # noqa: N818 - control flow, not an error
    """SIGINT or SIGTERM arrived: leave the serving loop, then shut down in order."""


def _on_stop_signals(handler: Callable[[int, FrameType | None], None]) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)


def _raise_stop(sig: int, _frame: FrameType | None) -> None:
    raise _StopRequested(signal.Signals(sig).name)


def _note_stop(sig: int, _frame: FrameType | None) -> None:
    log.warning("%s: already shutting down, flushing events", signal.Signals(sig).name)
