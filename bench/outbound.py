"""Outbound benchmark: events through MQTT and webhooks, and how long they take to arrive.

Each run goes through the real parts: the MQTT publisher (on-disk queue, paho, a real
Mosquitto) and the webhook service (outbox, engine, signing, httpx) to a real HTTP receiver on
loopback that verifies every signature with the ``standardwebhooks`` package.

1. **Paced**: ``--rate`` events per second for ``--seconds``; each event starts (``new`` /
   ``citybrain.event.started``) and ends a second later. Prints the p50/p95/max latency from
   the moment an event starts to its arrival at the MQTT subscriber and at the webhook
   receiver. Goal: p95 <= 1 s at 100 events/s.
2. **Burst**: ``--burst`` events at once; prints events per second through each, from the
   first event to the last arrival.

``--mode server`` (the default) measures from the event's start *in the engine*: an engine
process emits typed ``EventMessage`` s (a snapshot JPEG with each start) into a worker queue,
and a server process takes it from there with the parts ``citybrain serve`` wires
(``build_server``: message router, snapshot store, event writer into SQLite, live hub, MQTT
publisher, webhook fan-out, the durable outbox in SQLite, the delivery engine); the subscriber
and the receiver run in this process, as the systems a city runs would run apart from the
server. ``--mode core`` measures the integrations alone, in one process, from the hand-off to
them (in-memory outbox).

    .venv/bin/python bench/outbound.py                       # 100 events/s for 20 s, burst 5000
    .venv/bin/python bench/outbound.py --rate 200 --seconds 10 --burst 20000
    .venv/bin/python bench/outbound.py --mode core --mqtt-url mqtt://127.0.0.1:1883

Needs the test extra (``standardwebhooks``) and Mosquitto (its own is started when no broker
answers at ``--mqtt-url``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import queue as queue_module
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import cv2
import numpy as np

from citybrain.config.outbound import MqttSettings
from citybrain.config.server import ServerSettings
from citybrain.core.events import Event, EventPhase, EventUpdate, new_event_id
from citybrain.integrations.metrics import OutboundMetrics
from citybrain.integrations.mqtt import QUEUE_FILE, DiskQueue, MqttPublisher
from citybrain.integrations.notices import EventNotice, Phase
from citybrain.integrations.webhooks import (
    MemoryDirectory,
    MemoryOutbox,
    WebhookService,
    WebhookTarget,
    new_secret,
)
from citybrain.netpolicy import NetworkPolicy
from citybrain.records import CameraFields, Role, WebhookFields
from citybrain.runtime.messages import EventMessage
from citybrain.server.app import build_server
from citybrain.store import CameraRepo, UserRepo, WebhookRepo
from support.mosquitto import OwnMosquitto, Subscriber, broker_answers, clear_retained
from support.webhook_receiver import Receiver

__all__ = ["main"]


@dataclass
class Sinks:
    """What is measured: a subscriber on ``<prefix>/events`` and a webhook receiver."""

    subscriber: Subscriber
    receiver: Receiver
    prefix: str


@dataclass
class Core(Sinks):
    mqtt: MqttPublisher
    webhooks: WebhookService


def _notice(seq: int, phase: Phase, started: float) -> EventNotice:
    at = datetime.fromtimestamp(started, UTC)
    return EventNotice(
        phase=phase, camera_id=1, camera="bench", at=at,
        event={
            "id": f"b{seq:08d}", "camera_id": 1, "kind": "restricted_zone", "rule": "intruders",
            "zone": "site", "line": None, "label": "person", "track_id": seq,
            "started_at": at.isoformat(), "ended_at": None, "score": 0.8,
            "bbox": [0.1, 0.1, 0.2, 0.4], "details": {}, "started_posix": started,
        },
    )  # fmt: skip


def _hand_off(sinks: Core, notice: EventNotice) -> None:
    """What the server's router does with an event phase."""
    sinks.mqtt.publish_event(notice)
    sinks.webhooks.publish(notice)


def _started(event: dict[str, object]) -> float:
    """The POSIX time an event started (its ``started_at``)."""
    return datetime.fromisoformat(str(event["started_at"]).replace("Z", "+00:00")).timestamp()


def _latencies(sinks: Sinks, phase_type: str) -> tuple[list[float], list[float]]:
    """Seconds from start to arrival of every ``new`` event: (MQTT, webhooks)."""
    mqtt = []
    for message in sinks.subscriber.messages(f"{sinks.prefix}/events"):
        body = json.loads(message.payload)
        if body["type"] == "new":
            mqtt.append(message.at - _started(body))
    hooks = []
    for arrival in sinks.receiver.accepted():
        envelope = arrival.json()
        if envelope["type"] == phase_type:
            hooks.append(arrival.at - _started(envelope["data"]))
    return mqtt, hooks


def _wait_all(sinks: Sinks, expected: int, timeout: float) -> float:
    """Wait until both sides have ``expected`` messages; the time of the last arrival."""
    topic = f"{sinks.prefix}/events"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (
            len(sinks.subscriber.messages(topic)) >= expected
            and len(sinks.receiver.accepted()) >= expected
        ):
            break
        time.sleep(0.05)
    last = [m.at for m in sinks.subscriber.messages(topic)[-1:]]
    last += [a.at for a in sinks.receiver.accepted()[-1:]]
    return max(last, default=time.time())


def _paced_core(sinks: Core, rate: float, seconds: float) -> None:
    count = int(rate * seconds)
    ends: list[tuple[float, int, float]] = []
    begin = time.monotonic()
    for seq in range(count):
        due = begin + seq / rate
        while ends and ends[0][0] <= time.monotonic():
            _, end_seq, started = ends.pop(0)
            _hand_off(sinks, _notice(end_seq, "end", started))
        if (pause := due - time.monotonic()) > 0:
            time.sleep(pause)
        started = time.time()
        _hand_off(sinks, _notice(seq, "start", started))
        ends.append((time.monotonic() + 1.0, seq, started))
    for _, end_seq, started in ends:
        _hand_off(sinks, _notice(end_seq, "end", started))
    _report_paced(sinks, rate, seconds)


def _report_paced(sinks: Sinks, rate: float, seconds: float) -> None:
    count = int(rate * seconds)
    _wait_all(sinks, 2 * count, timeout=120)
    mqtt, hooks = _latencies(sinks, "citybrain.event.started")
    bodies = [json.loads(m.payload) for m in sinks.subscriber.messages(f"{sinks.prefix}/events")]
    starts = sorted(_started(body) for body in bodies if body["type"] == "new")
    lag = (starts[-1] - starts[0]) - (count - 1) / rate if len(starts) > 1 else 0.0
    print(f"paced: {count} events at {rate:g}/s for {seconds:g} s (the last started {lag:+.2f} s "
          f"late), each started and ended: {2 * count} messages per sink")  # fmt: skip
    for name, values in (("MQTT", mqtt), ("webhooks", hooks)):
        if len(values) < count:
            print(f"  {name}: only {len(values)} of {count} starts arrived")
        if values:
            q = statistics.quantiles(values, n=100)
            print(f"  {name}: start -> arrival p50 {q[49] * 1000:.1f} ms, "
                  f"p95 {q[94] * 1000:.1f} ms, max {max(values) * 1000:.1f} ms "
                  f"(goal p95 <= 1000 ms)")  # fmt: skip


def _burst_core(sinks: Core, count: int) -> None:
    before = _counts(sinks)
    for seq in range(count):
        _hand_off(sinks, _notice(10**7 + seq, "start", time.time()))
    _report_burst(sinks, count, before)


def _counts(sinks: Sinks) -> tuple[int, int]:
    return len(sinks.subscriber.messages(f"{sinks.prefix}/events")), len(sinks.receiver.accepted())


def _report_burst(sinks: Sinks, count: int, before: tuple[int, int]) -> None:
    """Events per second from the first event's start to the last arrival, on each side."""
    topic = f"{sinks.prefix}/events"
    before_mqtt, before_hooks = before
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        got_mqtt = sinks.subscriber.messages(topic)[before_mqtt:]
        got_hooks = sinks.receiver.accepted()[before_hooks:]
        if len(got_mqtt) >= count and len(got_hooks) >= count:
            break
        time.sleep(0.05)
    starts = [_started(json.loads(m.payload)) for m in got_mqtt]
    first, last = min(starts), max(starts)
    print(f"burst: {count} events started in {last - first:.2f} s "
          f"({count / max(last - first, 1e-9):,.0f}/s)")  # fmt: skip
    mqtt_s = got_mqtt[-1].at - first
    hooks_s = got_hooks[-1].at - first
    print(
        f"  MQTT: {len(got_mqtt)} arrived in {mqtt_s:.2f} s, {len(got_mqtt) / mqtt_s:,.0f} events/s"
    )
    print(f"  webhooks: {len(got_hooks)} arrived in {hooks_s:.2f} s, "
          f"{len(got_hooks) / hooks_s:,.0f} events/s (one webhook: in order, one request at a "
          "time)")  # fmt: skip


def _broker(url: str) -> tuple[str, int, OwnMosquitto | None]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 1883
    if broker_answers(host, port):
        return host, port, None
    own = OwnMosquitto.create()
    return own.host, own.port, own


def _core(host: str, port: int, data_dir: Path, metrics: OutboundMetrics) -> Core:
    prefix = f"citybrain-bench-{os.getpid()}"
    settings = MqttSettings(url=f"mqtt://{host}:{port}", topic_prefix=prefix)
    queue = DiskQueue(data_dir / QUEUE_FILE, max_messages=10**6, max_bytes=1 << 30)
    mqtt = MqttPublisher(settings, queue=queue, policy=NetworkPolicy(), metrics=metrics)
    subscriber = Subscriber(host, port, [f"{prefix}/events"]).start()
    receiver = Receiver(new_secret()).start()
    directory = MemoryDirectory()
    directory.put(WebhookTarget(1, receiver.url(), (receiver.secret,)))
    webhooks = WebhookService(
        MemoryOutbox(max_pending=10**6), directory, policy=NetworkPolicy(), metrics=metrics
    )
    mqtt.start()
    webhooks.start()
    return Core(subscriber, receiver, prefix, mqtt, webhooks)


# -- server mode: from the engine's event start, through the server's own parts --------------


def _engine(queue: Queue[EventMessage | None], camera_id: int, rate: float, seconds: float,
            burst: int) -> None:  # fmt: skip
    """The "engine" (a process of its own, as a worker is): emits event starts, with a
    snapshot JPEG each, at ``rate`` for ``seconds`` and each one's end a second later, or
    ``burst`` starts at once; then ``None``."""
    jpeg = cv2.imencode(".jpg", np.full((270, 480, 3), 90, np.uint8))[1].tobytes()

    def update(phase: EventPhase, event_id: str, origin: float) -> EventMessage:
        event = Event(
            id=event_id, kind="restricted_zone", rule="intruders", camera="bench", zone="site",
            label="person", track_id=1, start=0.0, end=1.0 if phase == EventPhase.END else None,
            score=0.8, bbox=(0.1, 0.1, 0.2, 0.4),
        )  # fmt: skip
        snapshot = jpeg if phase == EventPhase.START else None
        return EventMessage(camera_id, EventUpdate(phase, event), origin, snapshot)

    if burst:
        for _ in range(burst):
            queue.put(update(EventPhase.START, new_event_id(), time.time()))
        queue.put(None)
        return
    ends: list[tuple[float, str, float]] = []
    begin = time.monotonic()
    for seq in range(int(rate * seconds)):
        while ends and ends[0][0] <= time.monotonic():
            _, event_id, origin = ends.pop(0)
            queue.put(update(EventPhase.END, event_id, origin))
        if (pause := begin + seq / rate - time.monotonic()) > 0:
            time.sleep(pause)
        event_id, origin = new_event_id(), time.time()  # the event starts now, in the engine
        queue.put(update(EventPhase.START, event_id, origin))
        ends.append((time.monotonic() + 1.0, event_id, origin))
    for _, event_id, origin in ends:
        queue.put(update(EventPhase.END, event_id, origin))
    queue.put(None)


def _server_process(
    settings: dict[str, object],
    hook_url: str,
    secret: str,
    ready: Queue[int],
    messages: Queue[EventMessage | None],
    stop: EventType,
) -> None:
    """The server (a process of its own, as ``citybrain serve`` is): ``build_server`` with a
    webhook to the receiver, its router draining the worker queue until ``stop``."""
    server = build_server(ServerSettings.model_validate(settings))
    with server.store.session() as session:
        owner = UserRepo(session).create(username="bench", password_hash="-", role=Role.ADMIN)
        camera = CameraRepo(session).create(CameraFields(name="bench", source="/bench.mp4"))
        WebhookRepo(session).create(WebhookFields(url=hook_url), owner_id=owner.id, secret=secret)
    server.outbound.start()
    mqtt = server.outbound.mqtt
    deadline = time.monotonic() + 10
    while mqtt is not None and not mqtt.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    ready.put(camera.id)
    try:
        while not stop.is_set():
            try:
                message = messages.get(timeout=0.2)
            except queue_module.Empty:
                continue
            if message is not None:
                server.router.handle(message)  # what a worker's drain thread does
    finally:
        server.close()


def _run_server(host: str, port: int, args: argparse.Namespace, data_dir: Path) -> None:
    """Engine process -> worker queue -> server process -> broker and receiver (this one)."""
    prefix = f"citybrain-bench-{os.getpid()}"
    receiver = Receiver(new_secret()).start()
    secret = new_secret()
    receiver.use_secret(secret)
    subscriber = Subscriber(host, port, [f"{prefix}/events"]).start()
    settings = {
        "data_dir": str(data_dir), "public_url": "https://cb.example",
        "mqtt": {"url": f"mqtt://{host}:{port}", "topic_prefix": prefix,
                 "queue_max_messages": 10**6, "queue_max_mb": 1024},
        "webhooks": {"max_pending": 10**6},
    }  # fmt: skip
    context = multiprocessing.get_context("spawn")
    messages: Queue[EventMessage | None] = context.Queue(10_000)
    ready: Queue[int] = context.Queue()
    stop = context.Event()
    server = context.Process(
        target=_server_process, args=(settings, receiver.url(), secret, ready, messages, stop)
    )
    server.start()
    rig = Sinks(subscriber, receiver, prefix)
    try:
        camera_id = ready.get(timeout=120)

        def engine(rate: float, seconds: float, burst: int) -> None:
            run = context.Process(target=_engine, args=(messages, camera_id, rate, seconds, burst))
            run.start()
            run.join()

        engine(args.rate, args.seconds, 0)
        _report_paced(rig, args.rate, args.seconds)
        if args.burst:
            before = _counts(rig)
            engine(0, 0, args.burst)
            _report_burst(rig, args.burst, before)
    finally:
        stop.set()
        server.join(60)
        subscriber.stop()
        receiver.stop()


def _run_core(host: str, port: int, args: argparse.Namespace, data_dir: Path) -> None:
    sinks = _core(host, port, data_dir, OutboundMetrics())
    try:
        deadline = time.monotonic() + 10
        while not sinks.mqtt.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        _paced_core(sinks, args.rate, args.seconds)
        if args.burst:
            _burst_core(sinks, args.burst)
    finally:
        sinks.mqtt.close()
        sinks.webhooks.close()
        sinks.subscriber.stop()
        sinks.receiver.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="events per second (paced)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the paced run")
    parser.add_argument("--burst", type=int, default=5000, help="events in the burst (0: none)")
    parser.add_argument("--mode", choices=("server", "core"), default="server")
    parser.add_argument("--mqtt-url", default="mqtt://127.0.0.1:1883")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; mode {args.mode}")
    host, port, own = _broker(args.mqtt_url)
    print(f"broker {host}:{port} ({'own mosquitto' if own else 'running'}), receiver on loopback")
    prefix = f"citybrain-bench-{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="citybrain-bench-") as tmp:
        try:
            run = _run_server if args.mode == "server" else _run_core
            run(host, port, args, Path(tmp))
        finally:
            clear_retained(host, port, [f"{prefix}/#"])
            if own is not None:
                own.remove()
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
