"""Nothing is lost while the broker is away, and the last will speaks for a killed server.

Outages use a broker of the test's own (never the shared one). They are short here, as the
behaviour is the same; the issue's 30 s outage runs once, end to end through a server
(``tests/e2e/test_outbound.py``).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from mqttsupport import event_ids, event_notice, first_arrivals, make_publisher, wait_until
from paho.mqtt.enums import MQTTProtocolVersion

from citybrain.integrations.metrics import OutboundMetrics
from support.mosquitto import Broker, OwnMosquitto, Subscriber

PREFIX = "citybrain"


def _ids(n: int) -> list[str]:
    return [f"ev{i:06d}" for i in range(n)]


def _outage(tmp_path: Path, broker: OwnMosquitto, seconds: float, protocol: str) -> None:
    """Publish 10 events/s before, during and after ``seconds`` without the broker."""
    version = MQTTProtocolVersion.MQTTv5 if protocol == "5" else MQTTProtocolVersion.MQTTv311
    sub = Subscriber(
        broker.host, broker.port, [f"{PREFIX}/events"], persistent=True, protocol=version
    ).start()
    metrics = OutboundMetrics()
    publisher = make_publisher(tmp_path, broker.url, PREFIX, metrics=metrics, protocol=protocol)
    sent = 0
    stop = threading.Event()

    def produce() -> None:
        nonlocal sent
        while not stop.is_set():
            publisher.publish_event(event_notice(sent))
            sent += 1
            time.sleep(0.1)

    producer = threading.Thread(target=produce)
    try:
        assert wait_until(lambda: publisher.connected, timeout=10)
        producer.start()
        time.sleep(1.5)
        broker.stop()  # mid-run: messages are in flight
        assert wait_until(lambda: not publisher.connected, timeout=5)
        time.sleep(seconds)
        queued = metrics.registry.get_sample_value("citybrain_mqtt_queued") or 0
        assert queued >= seconds * 10 * 0.8  # on disk while the broker is away
        broker.start()
        time.sleep(1.5)
        stop.set()
        producer.join()
        expected = _ids(sent)
        assert sub.wait_for(lambda ms: set(event_ids(ms)) >= set(expected), timeout=30), (
            f"{len(set(event_ids(sub.messages())))} of {sent} arrived"
        )
    finally:
        stop.set()
        publisher.close()
        sub.stop()
    assert first_arrivals(event_ids(sub.messages())) == expected  # every one, in order
    assert metrics.registry.get_sample_value("citybrain_mqtt_dropped_total") == 0
    assert metrics.registry.get_sample_value("citybrain_mqtt_connects_total") == 2


def test_a_broker_outage_loses_nothing(tmp_path: Path, own_mosquitto: OwnMosquitto) -> None:
    # The 30 s outage runs end to end, through a server (tests/e2e/test_outbound.py).
    _outage(tmp_path, own_mosquitto, 3.0, "3.1.1")


def test_a_short_broker_outage_loses_nothing_mqtt5(
    tmp_path: Path, own_mosquitto: OwnMosquitto
) -> None:
    _outage(tmp_path, own_mosquitto, 2.0, "5")


def test_beyond_the_queue_bound_the_oldest_are_dropped_and_counted(
    tmp_path: Path, own_mosquitto: OwnMosquitto
) -> None:
    broker = own_mosquitto
    sub = Subscriber(broker.host, broker.port, [f"{PREFIX}/events"], persistent=True).start()
    metrics = OutboundMetrics()
    publisher = make_publisher(tmp_path, broker.url, PREFIX, metrics=metrics, queue_max_messages=10)
    try:
        assert wait_until(lambda: publisher.connected, timeout=10)
        broker.stop()
        assert wait_until(lambda: not publisher.connected, timeout=5)
        for seq in range(25):
            publisher.publish_event(event_notice(seq))
        assert metrics.registry.get_sample_value("citybrain_mqtt_dropped_total") == 15
        assert publisher.pending() == 10
        broker.start()
        assert sub.wait_for(lambda ms: len(ms) >= 10, timeout=15)
        assert wait_until(lambda: publisher.pending() == 0, timeout=5)
    finally:
        publisher.close()
        sub.stop()
    assert first_arrivals(event_ids(sub.messages())) == _ids(25)[15:]


def test_what_is_queued_survives_a_restart_of_the_publisher(
    tmp_path: Path, own_mosquitto: OwnMosquitto
) -> None:
    broker = own_mosquitto
    sub = Subscriber(broker.host, broker.port, [f"{PREFIX}/events"], persistent=True).start()
    broker.stop()
    first = make_publisher(tmp_path, broker.url, PREFIX)
    for seq in range(20):
        first.publish_event(event_notice(seq))
    first.close(timeout=5)
    broker.start()
    second = make_publisher(tmp_path, broker.url, PREFIX)
    try:
        assert sub.wait_for(lambda ms: len(set(event_ids(ms))) >= 20, timeout=15)
    finally:
        second.close()
        sub.stop()
    assert first_arrivals(event_ids(sub.messages())) == _ids(20)


def test_the_last_will_says_offline_when_the_process_is_killed(
    tmp_path: Path, mqtt_broker: Broker, mqtt_prefix: str
) -> None:
    topic = f"{mqtt_prefix}/available"
    sub = Subscriber(mqtt_broker.host, mqtt_broker.port, [topic]).start()
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("mqtt_child.py")), mqtt_broker.url,
         mqtt_prefix, str(tmp_path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "connected"
        assert sub.wait_for(lambda ms: [m.payload for m in ms] == [b"online"], timeout=5)
        child.kill()  # SIGKILL: no goodbye; only the broker's last will can speak
        child.wait(timeout=10)
        assert sub.wait_for(lambda ms: ms[-1].payload == b"offline", timeout=10)
    finally:
        child.kill()
        child.wait(timeout=10)
        sub.stop()
    assert [m.payload for m in sub.messages()] == [b"online", b"offline"]
    late = Subscriber(mqtt_broker.host, mqtt_broker.port, [topic]).start()
    assert late.wait_for(lambda ms: len(ms) == 1, timeout=5)
    late.stop()
    assert (late.messages()[0].payload, late.messages()[0].retain) == (b"offline", True)
