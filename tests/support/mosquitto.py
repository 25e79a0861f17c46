"""A real MQTT broker for tests, and a subscriber that records what arrives.

``CITYBRAIN_TEST_MQTT`` picks where the broker comes from:

- ``auto`` (default): the Mosquitto on 127.0.0.1:1883 if one answers, else our own;
- ``external``: only that one (``CITYBRAIN_TEST_MQTT_URL``, default ``mqtt://127.0.0.1:1883``);
- ``own``: always our own ``mosquitto`` (Debian package ``mosquitto``) on a free port.

Tests that stop or restart a broker use :func:`own_mosquitto`, never the shared one. Tests on
the shared broker publish under a topic prefix of their own (:func:`mqtt_prefix`), whose
retained messages are deleted afterwards.

Use the fixtures by importing them into a ``conftest.py``::

    from support.mosquitto import mqtt_broker, mqtt_prefix, own_mosquitto  # noqa: F401
"""

from __future__ import annotations

import contextlib
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from support.certs import CertificateError, make_certificates, run_tool

__all__ = [
    "Broker",
    "MosquittoUnavailableError",
    "OwnMosquitto",
    "Received",
    "Subscriber",
    "broker_answers",
    "broker_from_env",
    "clear_retained",
    "mqtt_broker",
    "mqtt_prefix",
    "own_mosquitto",
]

MODE_VAR = "CITYBRAIN_TEST_MQTT"
URL_VAR = "CITYBRAIN_TEST_MQTT_URL"
DEFAULT_URL = "mqtt://127.0.0.1:1883"
_START_TIMEOUT_S = 15


class MosquittoUnavailableError(RuntimeError):
    """No MQTT broker can be used; the message says why."""


def _free_port() -> int:
    """A free port *below* the ephemeral range: a broker restarted on it after a long outage
    must not find it taken as the source port of some outgoing connection meanwhile."""
    low = 32768
    with contextlib.suppress(OSError, ValueError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(max(1024, low - 12000), low)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise MosquittoUnavailableError(f"no free port below {low}")


def broker_answers(host: str, port: int, timeout: float = 3.0) -> bool:
    """Whether an MQTT broker at ``host:port`` accepts an anonymous connection."""
    accepted = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4().hex[:8]}")
    client.on_connect = lambda c, u, f, reason, p: (not reason.is_failure) and accepted.set()
    try:
        client.connect(host, port, keepalive=10)
    except OSError:
        return False
    deadline = time.monotonic() + timeout
    while not accepted.is_set() and time.monotonic() < deadline:
        client.loop(0.1)
    client.disconnect()
    return accepted.is_set()


@dataclass
class OwnMosquitto:
    """A throw-away Mosquitto in a temporary folder, which a test may stop, kill and restart.

    It keeps sessions and retained messages across restarts (``persistence``), as a
    production broker does, so that a subscriber's session outlives an outage.
    """

    binary: Path
    root: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @classmethod
    def create(cls, *, users: dict[str, str] | None = None, tls: bool = False) -> OwnMosquitto:
        """Write a config and start the broker.

        Args:
            users: user names and passwords it requires (no anonymous clients then).
            tls: listen with TLS, on a certificate for ``localhost`` and ``127.0.0.1`` signed
                by a CA of its own (:attr:`ca_file`).

        Raises:
            MosquittoUnavailableError: no ``mosquitto`` binary, or it did not start.
        """
        found = shutil.which("mosquitto") or (
            "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
        )
        if found is None:
            raise MosquittoUnavailableError(
                "no mosquitto binary: apt-get install mosquitto (scripts/install --test does)"
            )
        root = Path(tempfile.mkdtemp(prefix="citybrain-mqtt-"))
        broker = cls(binary=Path(found), root=root, port=_free_port())
        try:
            broker._write_config(users or {}, tls)
            broker.start()
        except MosquittoUnavailableError:
            broker.remove()
            raise
        return broker

    @property
    def ca_file(self) -> Path:
        """The CA that signed the TLS listener's certificate."""
        return self.root / "ca.crt"

    def _write_config(self, users: dict[str, str], tls: bool) -> None:
        lines = [
            f"listener {self.port} {self.host}",
            f"allow_anonymous {'false' if users else 'true'}",
            "persistence true",
            f"persistence_location {self.root}/",
            "max_queued_messages 100000",
            "log_dest stderr",
        ]
        if users:
            passwords = self.root / "passwd"
            passwords.write_text("".join(f"{u}:{p}\n" for u, p in users.items()))
            try:  # hash them in place
                run_tool(["mosquitto_passwd", "-U", str(passwords)])
            except CertificateError as exc:
                raise MosquittoUnavailableError(str(exc)) from None
            lines.append(f"password_file {passwords}")
        if tls:
            try:
                files = make_certificates(self.root)
            except CertificateError as exc:
                raise MosquittoUnavailableError(str(exc)) from None
            lines += [f"cafile {files.ca}", f"certfile {files.cert}", f"keyfile {files.key}"]
        user = "root"
        if os.geteuid() == 0:
            # Mosquitto run as root drops to its own account, which must own its files.
            with contextlib.suppress(KeyError):
                account = pwd.getpwnam("mosquitto")
                for path in [self.root, *self.root.iterdir()]:
                    os.chown(path, account.pw_uid, account.pw_gid)
                user = "mosquitto"
        lines.append(f"user {user}")
        (self.root / "mosquitto.conf").write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        """Start the broker (again) on the same port; wait until it accepts connections."""
        log = (self.root / "mosquitto.log").open("ab")
        self.process = subprocess.Popen(
            [str(self.binary), "-c", str(self.root / "mosquitto.conf")],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise MosquittoUnavailableError(f"mosquitto exited: {self.log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise MosquittoUnavailableError(f"mosquitto did not listen in time: {self.log_tail()}")

    def stop(self) -> None:
        """Stop the broker as an administrator would (SIGTERM: it saves its state first)."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """Kill the broker without warning."""
        self._end(signal.SIGKILL)

    def remove(self) -> None:
        """Kill the broker if it runs and delete its folder."""
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self) -> str:
        path = self.root / "mosquitto.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def _end(self, sig: signal.Signals) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass(frozen=True)
class Broker:
    """The broker a test session uses; ``own`` is set when we started it."""

    host: str
    port: int
    own: OwnMosquitto | None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


def broker_from_env() -> Broker:
    """The broker ``CITYBRAIN_TEST_MQTT`` asks for; the caller removes an own one when done.

    Raises:
        MosquittoUnavailableError: none can be had; the message says why.
    """
    mode = os.environ.get(MODE_VAR, "auto")
    if mode not in ("auto", "own", "external"):
        raise MosquittoUnavailableError(f"{MODE_VAR}={mode!r}: use auto, own or external")
    url = urlsplit(os.environ.get(URL_VAR, DEFAULT_URL))
    host, port = url.hostname or "127.0.0.1", url.port or 1883
    if mode != "own" and broker_answers(host, port):
        return Broker(host=host, port=port, own=None)
    if mode == "external":
        raise MosquittoUnavailableError(f"{MODE_VAR}=external but no broker answers at {url}")
    own = OwnMosquitto.create()
    return Broker(host=own.host, port=own.port, own=own)


@dataclass(frozen=True)
class Received:
    """One message a :class:`Subscriber` got."""

    topic: str
    payload: bytes
    retain: bool
    at: float


@dataclass
class Subscriber:
    """A paho client on its own thread that records every message on ``topics``.

    ``persistent`` keeps its session (client id, subscriptions, queued QoS 1 messages) on the
    broker while it is disconnected, so that it misses nothing across a broker restart.
    """

    host: str
    port: int
    topics: list[str]
    persistent: bool = False
    protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv311
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    client_id: str = field(default_factory=lambda: f"test-sub-{uuid.uuid4().hex[:10]}")
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Condition()
        self._subscribed = threading.Event()
        kwargs: dict[str, Any] = {}
        if self.protocol == MQTTProtocolVersion.MQTTv311:
            kwargs["clean_session"] = not self.persistent
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=self.protocol,
            **kwargs,
        )  # fmt: skip
        self._client.reconnect_delay_set(min_delay=1, max_delay=1)
        if self.username is not None:
            self._client.username_pw_set(self.username, self.password)
        if self.ca_file is not None:
            self._client.tls_set(ca_certs=str(self.ca_file))
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *args: self._subscribed.set()
        self._client.on_message = self._on_message

    def start(self, timeout: float = 10.0) -> Subscriber:
        """Connect, subscribe, and return once the broker confirmed the subscription."""
        if self.protocol == MQTTProtocolVersion.MQTTv5:
            # MQTT 5 keeps a session only for its expiry interval (default 0: not at all).
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = 3600 if self.persistent else 0
            self._client.connect(
                self.host, self.port, keepalive=10, clean_start=not self.persistent,
                properties=properties,
            )  # fmt: skip
        else:
            self._client.connect(self.host, self.port, keepalive=10)
        self._client.loop_start()
        if not self._subscribed.wait(timeout):
            raise TimeoutError(f"no SUBACK from {self.host}:{self.port}")
        return self

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def messages(self, topic: str | None = None) -> list[Received]:
        with self._lock:
            return [m for m in self.received if topic is None or m.topic == topic]

    def wait_for(self, condition: Callable[[list[Received]], bool], timeout: float) -> bool:
        """Wait until ``condition(messages so far)`` holds; ``False`` on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: condition(self.received), timeout)

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if not reason.is_failure and not flags.session_present:
            client.subscribe([(topic, 1) for topic in self.topics])

    def _on_message(self, _client: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.received.append(
                Received(message.topic, bytes(message.payload), bool(message.retain), time.time())
            )
            self._lock.notify_all()


def clear_retained(host: str, port: int, patterns: list[str], settle: float = 0.5) -> int:
    """Delete every retained message matching ``patterns``; how many there were."""
    sub = Subscriber(host, port, patterns).start()
    time.sleep(settle)  # retained messages arrive right after the SUBACK
    sub.stop()
    topics = {m.topic for m in sub.messages() if m.retain and m.payload}
    if topics:
        client = mqtt.Client(CallbackAPIVersion.VERSION2)
        client.connect(host, port)
        client.loop_start()
        for topic in topics:
            client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
        client.disconnect()
        client.loop_stop()
    return len(topics)


@pytest.fixture(scope="session")
def mqtt_broker() -> Iterator[Broker]:
    """The session's broker (see the module docstring); skips if there is none."""
    try:
        broker = broker_from_env()
    except MosquittoUnavailableError as exc:
        pytest.skip(f"no MQTT broker for the tests: {exc}")
    try:
        yield broker
    finally:
        if broker.own is not None:
            broker.own.remove()


@pytest.fixture
def mqtt_prefix(mqtt_broker: Broker) -> Iterator[str]:
    """A topic prefix of this test's own; its retained messages are deleted afterwards."""
    prefix = f"citybrain-test-{uuid.uuid4().hex[:10]}"
    yield prefix
    clear_retained(mqtt_broker.host, mqtt_broker.port, [f"{prefix}/#", f"{prefix}-ha/#"])


@pytest.fixture
def own_mosquitto() -> Iterator[OwnMosquitto]:
    """A broker of this test's own, which it may stop and start; skips if impossible."""
    try:
        broker = OwnMosquitto.create()
    except MosquittoUnavailableError as exc:
        pytest.skip(f"cannot start an own mosquitto: {exc}")
    try:
        yield broker
    finally:
        broker.remove()
