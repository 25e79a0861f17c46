"""Outbound benchmark: events through MQTT and webhooks, and how long they take to arrive.

Two runs, each through the real parts: the MQTT publisher (on-disk queue, paho, a real
Mosquitto) and the webhook service (outbox, engine, signing, httpx) to a real HTTP receiver on
loopback that verifies every signature with the ``standardwebhooks`` package.

1. **Paced**: ``--rate`` events per second for ``--seconds``; each event starts (``new`` /
   ``citybrain.event.started``) and ends a second later. Prints the p50/p95/max latency from
   the moment an event starts (handed to the integrations) to its arrival at the MQTT
   subscriber and at the webhook receiver. Goal: p95 <= 1 s at 100 events/s.
2. **Burst**: ``--burst`` events at once; prints events per second through each, from the
   first hand-off to the last arrival.

Phase A measures from the hand-off to the integrations; once the server is wired (phase B)
the same figures are taken from the engine's event start, through worker and server queues.

    .venv/bin/python bench/outbound.py                       # 100 events/s for 20 s, burst 5000
    .venv/bin/python bench/outbound.py --rate 200 --seconds 10 --burst 20000
    .venv/bin/python bench/outbound.py --mqtt-url mqtt://127.0.0.1:1883

Needs the test extra (``standardwebhooks``) and Mosquitto (its own is started when no broker
answers at ``--mqtt-url``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from citybrain.integrations.metrics import OutboundMetrics
from citybrain.integrations.mqtt import QUEUE_FILE, DiskQueue, MqttPublisher, MqttSettings
from citybrain.integrations.notices import EventNotice, Phase
from citybrain.integrations.webhooks import (
    MemoryDirectory,
    MemoryOutbox,
    WebhookService,
    WebhookTarget,
    new_secret,
)
from citybrain.netpolicy import NetworkPolicy
from support.mosquitto import OwnMosquitto, Subscriber, broker_answers, clear_retained
from support.webhook_receiver import Receiver

__all__ = ["main"]


@dataclass
class Sinks:
    mqtt: MqttPublisher
    webhooks: WebhookService
    subscriber: Subscriber
    receiver: Receiver
    prefix: str


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


def _hand_off(sinks: Sinks, notice: EventNotice) -> None:
    """What the server's sink does with an event phase."""
    sinks.mqtt.publish_event(notice)
    sinks.webhooks.publish(notice)


def _latencies(sinks: Sinks, phase_type: str) -> tuple[list[float], list[float]]:
    """Seconds from start to arrival of every ``new`` event: (MQTT, webhooks)."""
    mqtt = []
    for message in sinks.subscriber.messages(f"{sinks.prefix}/events"):
        body = json.loads(message.payload)
        if body["type"] == "new":
            mqtt.append(message.at - body["started_posix"])
    hooks = []
    for arrival in sinks.receiver.accepted():
        envelope = arrival.json()
        if envelope["type"] == phase_type:
            hooks.append(arrival.at - envelope["data"]["started_posix"])
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


def _paced(sinks: Sinks, rate: float, seconds: float) -> None:
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
    lag = time.monotonic() - begin - seconds
    _wait_all(sinks, 2 * count, timeout=60)
    mqtt, hooks = _latencies(sinks, "citybrain.event.started")
    print(f"paced: {count} events at {rate:g}/s for {seconds:g} s (hand-off {lag:+.2f} s late), "
          f"each started and ended: {2 * count} messages per sink")  # fmt: skip
    for name, values in (("MQTT", mqtt), ("webhooks", hooks)):
        if len(values) < count:
            print(f"  {name}: only {len(values)} of {count} starts arrived")
        if values:
            q = statistics.quantiles(values, n=100)
            print(f"  {name}: start -> arrival p50 {q[49] * 1000:.1f} ms, "
                  f"p95 {q[94] * 1000:.1f} ms, max {max(values) * 1000:.1f} ms "
                  f"(goal p95 <= 1000 ms)")  # fmt: skip


def _burst(sinks: Sinks, count: int) -> None:
    topic = f"{sinks.prefix}/events"
    before_mqtt = len(sinks.subscriber.messages(topic))
    before_hooks = len(sinks.receiver.accepted())
    start = time.time()
    for seq in range(count):
        _hand_off(sinks, _notice(10**7 + seq, "start", time.time()))
    handed = time.time() - start
    got_mqtt = got_hooks = 0
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        got_mqtt = len(sinks.subscriber.messages(topic)) - before_mqtt
        got_hooks = len(sinks.receiver.accepted()) - before_hooks
        if got_mqtt >= count and got_hooks >= count:
            break
        time.sleep(0.05)
    mqtt_last = sinks.subscriber.messages(topic)[-1].at
    hooks_last = sinks.receiver.accepted()[-1].at
    print(f"burst: {count} events handed over in {handed:.2f} s "
          f"({count / handed:,.0f}/s into both queues)")  # fmt: skip
    print(f"  MQTT: {got_mqtt} arrived, {got_mqtt / (mqtt_last - start):,.0f} events/s")
    print(f"  webhooks: {got_hooks} arrived, {got_hooks / (hooks_last - start):,.0f} events/s "
          f"(one webhook: in order, one request at a time)")  # fmt: skip


def _broker(url: str) -> tuple[str, int, OwnMosquitto | None]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 1883
    if broker_answers(host, port):
        return host, port, None
    own = OwnMosquitto.create()
    return own.host, own.port, own


def _sinks(host: str, port: int, data_dir: Path, metrics: OutboundMetrics) -> Sinks:
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
    return Sinks(mqtt, webhooks, subscriber, receiver, prefix)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="events per second (paced)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the paced run")
    parser.add_argument("--burst", type=int, default=5000, help="events in the burst (0: none)")
    parser.add_argument("--mqtt-url", default="mqtt://127.0.0.1:1883")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    host, port, own = _broker(args.mqtt_url)
    print(f"broker {host}:{port} ({'own mosquitto' if own else 'running'}), receiver on loopback")
    with tempfile.TemporaryDirectory(prefix="citybrain-bench-") as tmp:
        metrics = OutboundMetrics()
        sinks = _sinks(host, port, Path(tmp), metrics)
        try:
            deadline = time.monotonic() + 10
            while not sinks.mqtt.connected and time.monotonic() < deadline:
                time.sleep(0.05)
            _paced(sinks, args.rate, args.seconds)
            if args.burst:
                _burst(sinks, args.burst)
        finally:
            sinks.mqtt.close()
            sinks.webhooks.close()
            sinks.subscriber.stop()
            sinks.receiver.stop()
            clear_retained(host, port, [f"{sinks.prefix}/#"])
            if own is not None:
                own.remove()
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
