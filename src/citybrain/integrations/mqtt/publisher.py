"""The MQTT publisher: notices in, QoS 1 messages out, through a bounded queue on disk.

Producers (the server's receiver threads) call :meth:`MqttPublisher.publish_event` and its
siblings; each call appends to the :class:`~citybrain.integrations.mqtt.diskqueue.DiskQueue`
and returns at once. One thread owns the paho client and is the only one to touch it: it
connects (through the network policy), reads and writes the socket, publishes from the queue
in order with up to ``window`` messages in flight, and removes a message from disk only when
the broker acknowledges it. After a lost connection paho's own copies are dropped and sending
resumes from the oldest unacknowledged message, so the broker sees every message, in order,
at least once. Running paho's loop ourselves (``loop_read``/``loop_write``/``loop_misc`` on
one ``select``) rather than paho's thread keeps its callbacks on that same thread: no locks
between us and paho, and a socket pair wakes the loop when something is queued.

``<prefix>/available`` says ``online`` on every connection and ``offline`` on a clean stop;
the broker publishes ``offline`` itself (the last will) when the process dies.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import select
import socket
import threading
import time
from pathlib import Path
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from citybrain.config.outbound import MqttSettings
from citybrain.errors import ConfigError
from citybrain.integrations.backoff import backoff_delay
from citybrain.integrations.metrics import OutboundMetrics
from citybrain.integrations.mqtt.diskqueue import DiskQueue, QueuedMessage, QueueError
from citybrain.integrations.mqtt.messages import MqttMessage, Topics
from citybrain.integrations.notices import (
    CountNotice,
    EventNotice,
    HealthNotice,
    OccupancyNotice,
)
from citybrain.netpolicy import DestinationError, NetworkPolicy

__all__ = ["QUEUE_FILE", "MqttPublisher", "read_password"]

log = logging.getLogger(__name__)

#: The queue's file name in the server's data directory.
QUEUE_FILE = "mqtt-queue.sqlite3"
_TICK = 1.0  # longest select wait: keep-alive pings are checked at least this often


def read_password(path: Path | None) -> str | None:
    """The broker password from ``mqtt.password_file`` (without its trailing newline).

    Raises:
        ConfigError: the file cannot be read.
    """
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"mqtt.password_file: cannot read {path}: {exc}") from None


class MqttPublisher:
    """Publishes citybrain's notices to one broker (see the module docstring).

    Args:
        settings: the ``mqtt`` settings.
        queue: the on-disk queue (it survives restarts: what is in it is sent on the next run).
        policy: the outbound network policy the broker must pass.
        metrics: where published, queued, dropped, failed and latency are counted.
        password: the broker password (:func:`read_password`).
        base_url: the server's public URL, to make snapshot URLs absolute.
        window: messages in flight (sent, not yet acknowledged) at most.
        drain_seconds: how long :meth:`close` keeps sending what is queued.
    """

    def __init__(
        self,
        settings: MqttSettings,
        *,
        queue: DiskQueue,
        policy: NetworkPolicy,
        metrics: OutboundMetrics,
        password: str | None = None,
        base_url: str | None = None,
        window: int = 100,
        drain_seconds: float = 2.0,
    ) -> None:
        self.settings = settings
        self.topics = Topics(
            settings.topic_prefix, base_url=base_url, discovery_prefix=settings.discovery_prefix
        )
        self._queue = queue
        self._policy = policy
        self._metrics = metrics
        self._window = window
        self._drain_seconds = drain_seconds
        self._client = self._make_client(password)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mqtt-publisher", daemon=True)
        # Shared with producers: the latest retained state per topic (sent again on every
        # connection, in case the broker lost it) and the last occupancy count per key.
        self._state_lock = threading.Lock()
        self._retained: dict[str, tuple[str, MqttMessage]] = {}
        self._occupancy: dict[tuple[str, str, str], int] = {}
        # The loop thread's own state.
        self._connected = False
        self._inflight: dict[int, QueuedMessage] = {}
        self._sent_upto = 0
        self._acked: list[QueuedMessage] = []
        self._direct: set[int] = set()
        self._connect_failures = 0
        self._last_problem: str | None = None
        metrics.mqtt_queued.set(len(queue))

    @classmethod
    def from_settings(
        cls,
        settings: MqttSettings,
        *,
        data_dir: Path,
        policy: NetworkPolicy,
        metrics: OutboundMetrics,
        base_url: str | None = None,
    ) -> MqttPublisher:
        """A publisher with its queue in ``data_dir`` and its password read from its file.

        Raises:
            ConfigError: the password file or a TLS file is unreadable.
            QueueError: the queue file cannot be opened.
        """
        queue = DiskQueue(
            data_dir / QUEUE_FILE,
            max_messages=settings.queue_max_messages,
            max_bytes=settings.queue_max_bytes,
        )
        return cls(
            settings, queue=queue, policy=policy, metrics=metrics, base_url=base_url,
            password=read_password(settings.password_file),
        )  # fmt: skip

    # -- producers (any thread) -------------------------------------------------------------

    def publish_event(self, notice: EventNotice) -> None:
        """Queue ``citybrain/events``: the event's ``new``, ``update`` or ``end``."""
        self.submit(self.topics.event(notice))

    def publish_health(self, notice: HealthNotice) -> None:
        """Queue the camera's retained health (and its discovery configs the first time)."""
        if self.settings.discovery:
            for config in self.topics.health_discovery(notice.camera):
                self._submit_state(notice.camera, config, once=True)
        self._submit_state(notice.camera, self.topics.health_state(notice))

    def publish_occupancy(self, notice: OccupancyNotice) -> None:
        """Queue a zone's retained count of one label, only when it changed."""
        key = (notice.camera, notice.zone, notice.label)
        with self._state_lock:
            if self._occupancy.get(key) == notice.count:
                return
            self._occupancy[key] = notice.count
        if self.settings.discovery:
            config = self.topics.occupancy_discovery(*key)
            self._submit_state(notice.camera, config, once=True)
        self._submit_state(notice.camera, self.topics.occupancy_state(notice))

    def publish_count(self, notice: CountNotice) -> None:
        """Queue ``citybrain/counts``: one interval's line crossings."""
        self.submit(self.topics.count(notice))

    def forget_camera(self, camera: str) -> None:
        """A camera was removed or renamed: delete its retained states and sensors."""
        with self._state_lock:
            gone = [t for t, (owner, _) in self._retained.items() if owner == camera]
            for topic in gone:
                del self._retained[topic]
            for key in [k for k in self._occupancy if k[0] == camera]:
                del self._occupancy[key]
        for topic in gone:
            self.submit(MqttMessage(topic, b"", retain=True))

    def submit(self, message: MqttMessage) -> bool:
        """Queue one message on disk and wake the sender; ``False`` if it was lost (logged and
        counted: too large, or the disk refused it). Never raises: MQTT must not stop the
        server's event path."""
        try:
            result = self._queue.push(message)
        except QueueError as exc:
            self._metrics.mqtt_failed.inc()
            self._problem(f"MQTT message to {message.topic} lost: {exc}")
            return False
        if result.refused:
            self._metrics.mqtt_failed.inc()
            log.error("MQTT message to %s too large for the queue: dropped", message.topic)
            return False
        if result.dropped:
            self._metrics.mqtt_dropped.inc(result.dropped)
        self._metrics.mqtt_queued.set(len(self._queue))
        with contextlib.suppress(BlockingIOError):  # already awake
            self._wake_w.send(b"\0")
        return True

    # -- life cycle ---------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the broker accepted the current connection."""
        return self._connected

    def pending(self) -> int:
        """Messages not yet acknowledged by the broker."""
        return len(self._queue)

    def start(self) -> None:
        """Start the sending thread (it connects, and reconnects, on its own)."""
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Send what is queued for up to ``drain_seconds``, say ``offline``, disconnect.

        What is still queued stays on disk for the next start.
        """
        self._stop.set()
        with contextlib.suppress(BlockingIOError):
            self._wake_w.send(b"\0")
        if self._thread.is_alive():
            self._thread.join(timeout)
        if not self._thread.is_alive():
            self._queue.close()
            self._wake_r.close()
            self._wake_w.close()

    # -- the sending thread --------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._client.socket() is None and not self._connect():
                    self._connect_failures += 1
                    self._sleep(self._reconnect_delay())
                    continue
                self._step()
            except QueueError as exc:  # the disk is full or failing: wait, keep what is there
                self._problem(f"MQTT queue: {exc}")
                self._sleep(1.0)
        try:
            self._shutdown()
        except QueueError as exc:
            log.error("MQTT queue at shutdown: %s", exc)

    def _connect(self) -> bool:
        """Open a connection (CONNACK is handled by :meth:`_on_connect`); ``False`` on failure."""
        host, port = self.settings.host, self.settings.port
        try:
            destination = self._policy.check(host, port)
        except DestinationError as exc:
            self._problem(f"MQTT broker {host}:{port}: {exc}")
            return False
        # Connect to an address that was checked, not to the name again (DNS rebinding);
        # with TLS the name is needed to verify the broker's certificate.
        targets = [host] if self.settings.tls_options else [str(a) for a in destination.addresses]
        # A fresh session (MQTT 5 clean start; 3.1.1 clean session by default): sending
        # restarts from the disk queue, in order, so paho's own copies go.
        v5 = self.settings.protocol == "5"
        clean: bool | Literal[3] = True if v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY
        self._client.drop_out_messages()
        for target in targets:
            try:
                self._client.connect(
                    target, port, keepalive=self.settings.keepalive_seconds, clean_start=clean
                )
            except OSError as exc:
                self._problem(f"MQTT broker {host}:{port}: cannot connect: {exc}")
                continue
            return True
        return False

    def _step(self) -> None:
        """One turn: wait for the socket or a wake-up, read, write, keep alive, send more."""
        sock = self._client.socket()
        if sock is None:
            return
        more = self._connected and len(self._inflight) < self._window and self._has_unsent()
        pending_tls = getattr(sock, "pending", lambda: 0)()
        timeout = 0.0 if (more or pending_tls) else _TICK
        writers = [sock] if self._client.want_write() else []
        try:
            readable, writable, _ = select.select([sock, self._wake_r], writers, [], timeout)
        except (OSError, ValueError):  # the socket was closed under us
            readable, writable = [sock], []
        if self._wake_r in readable:
            self._drain_wakeups()
        if sock in readable or pending_tls:
            self._client.loop_read(max_packets=self._window + 10)
        if writable and self._client.socket() is not None:
            self._client.loop_write()
        self._client.loop_misc()
        self._settle_acks()
        self._pump()

    def _has_unsent(self) -> bool:
        return bool(self._queue.peek(self._sent_upto, 1))

    def _pump(self) -> None:
        """Publish queued messages after the last one sent, while the window has room."""
        room = self._window - len(self._inflight)
        if not self._connected or room <= 0:
            return
        for queued in self._queue.peek(self._sent_upto, room):
            if not self._connected:
                return
            message = queued.message
            try:
                info = self._client.publish(
                    message.topic, message.payload, qos=message.qos, retain=message.retain
                )
            except ValueError as exc:  # invalid topic or payload: can never be sent
                self._metrics.mqtt_failed.inc()
                log.error("MQTT message to %r cannot be published: %s", message.topic, exc)
                self._acked.append(queued)
                self._sent_upto = queued.seq
                continue
            if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                return  # paho's own queue is full: try again next turn
            self._inflight[info.mid] = queued
            self._sent_upto = queued.seq
        self._settle_acks()

    def _settle_acks(self) -> None:
        if not self._acked:
            return
        acked, self._acked = self._acked, []
        self._queue.remove(q.seq for q in acked)
        self._metrics.mqtt_queued.set(len(self._queue))

    def _publish_direct(self, message: MqttMessage) -> None:
        """Publish outside the queue (availability, states sent again on connecting)."""
        info = self._client.publish(
            message.topic, message.payload, qos=message.qos, retain=message.retain
        )
        self._direct.add(info.mid)

    def _shutdown(self) -> None:
        deadline = time.monotonic() + self._drain_seconds
        while self._connected and len(self._queue) > 0 and time.monotonic() < deadline:
            self._step()
        if self._connected:
            self._publish_direct(self.topics.availability(False))
            deadline = time.monotonic() + 1.0
            while self._connected and self._direct and time.monotonic() < deadline:
                self._step()
            self._client.disconnect()  # a clean DISCONNECT: the broker drops the last will
            with contextlib.suppress(Exception):
                self._client.loop_write()
        self._settle_acks()
        self._connected = False
        self._metrics.mqtt_connected.set(0)

    def _sleep(self, seconds: float) -> None:
        """Wait out a reconnect delay; only :meth:`close` cuts it short (new messages do not)."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set() and (left := deadline - time.monotonic()) > 0:
            select.select([self._wake_r], [], [], left)
            self._drain_wakeups()

    def _drain_wakeups(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while self._wake_r.recv(4096):
                pass

    def _reconnect_delay(self) -> float:
        settings = self.settings
        return backoff_delay(
            self._connect_failures, settings.reconnect_min_seconds, settings.reconnect_max_seconds
        )

    def _problem(self, text: str) -> None:
        """Log a connection problem once, not on every retry."""
        if text != self._last_problem:
            log.warning("%s (retrying with backoff)", text)
            self._last_problem = text

    # -- paho callbacks (on the sending thread) ------------------------------------------------

    def _make_client(self, password: str | None) -> mqtt.Client:
        settings = self.settings
        protocol = (
            MQTTProtocolVersion.MQTTv5 if settings.protocol == "5" else MQTTProtocolVersion.MQTTv311
        )
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=settings.client_id or f"citybrain-{secrets.token_hex(4)}",
            protocol=protocol,
        )
        client.max_inflight_messages_set(0)  # the window is ours
        if settings.username is not None:
            client.username_pw_set(settings.username, password)
        if (tls := settings.tls_options) is not None:
            try:
                client.tls_set(
                    ca_certs=str(tls.ca_file) if tls.ca_file else None,
                    certfile=str(tls.cert_file) if tls.cert_file else None,
                    keyfile=str(tls.key_file) if tls.key_file else None,
                )
            except (OSError, ValueError) as exc:
                raise ConfigError(f"mqtt.tls: {exc}") from None
        client.will_set(self.topics.available, b"offline", qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        if reason.is_failure:
            self._problem(f"MQTT broker refused the connection: {reason}")
            return
        log.info("MQTT connected to %s:%d", self.settings.host, self.settings.port)
        self._last_problem = None
        self._connect_failures = 0
        self._connected = True
        self._inflight.clear()
        self._direct.clear()
        self._sent_upto = 0
        self._metrics.mqtt_connected.set(1)
        self._metrics.mqtt_connects.inc()
        self._publish_direct(self.topics.availability(True))
        if self.settings.discovery:
            client.subscribe(f"{self.settings.discovery_prefix}/status", qos=1)
        self._resend_states()

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        if self._connected and not self._stop.is_set():
            log.warning("MQTT connection lost: %s", reason)
        self._connected = False
        self._inflight.clear()
        self._metrics.mqtt_connected.set(0)

    def _on_publish(
        self, _client: mqtt.Client, _userdata: Any, mid: int, reason: ReasonCode, _props: Any
    ) -> None:
        self._direct.discard(mid)
        queued = self._inflight.pop(mid, None)
        if queued is None:
            return
        if reason.is_failure:  # MQTT 5: the broker refused it (not authorised, …)
            self._metrics.mqtt_failed.inc()
            log.error("MQTT broker refused a message to %r: %s", queued.message.topic, reason)
        else:
            self._metrics.mqtt_published.inc()
            self._metrics.mqtt_latency.observe(max(0.0, time.time() - queued.queued_at))
        self._acked.append(queued)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        # Home Assistant says "online" when it (re)starts: announce the sensors again.
        if message.payload == b"online":
            self._resend_states()

    def _submit_state(self, camera: str, message: MqttMessage, *, once: bool = False) -> None:
        # Memory and queue change together, so that _resend_states sees both or neither.
        with self._state_lock:
            if once and message.topic in self._retained:
                return
            self._retained[message.topic] = (camera, message)
            self.submit(message)

    def _resend_states(self) -> None:
        with self._state_lock:
            queued = self._queue.retained_topics()  # those go out from the queue anyway
            states = [m for t, (_, m) in self._retained.items() if t not in queued]
        # Discovery configs first, so Home Assistant knows a sensor before its state.
        states.sort(key=lambda m: not m.topic.startswith(self.settings.discovery_prefix + "/"))
        for message in states:
            self._publish_direct(message)
