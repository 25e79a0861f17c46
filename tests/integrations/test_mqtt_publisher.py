"""The MQTT publisher against a real Mosquitto: layout, order, retained state, discovery."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mqttsupport import event_ids, event_notice, make_publisher, wait_until

from citybrain.integrations.metrics import OutboundMetrics
from citybrain.integrations.notices import CountNotice, HealthNotice, OccupancyNotice
from citybrain.netpolicy import NetworkPolicy
from support.mosquitto import Broker, Subscriber


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_events_health_occupancy_and_counts_arrive(
    tmp_path: Path, mqtt_broker: Broker, mqtt_prefix: str, protocol: str
) -> None:
    p = mqtt_prefix
    sub = Subscriber(mqtt_broker.host, mqtt_broker.port, [f"{p}/#"]).start()
    metrics = OutboundMetrics()
    publisher = make_publisher(tmp_path, mqtt_broker.url, p, metrics=metrics, protocol=protocol)
    try:
        for seq in range(50):
            publisher.publish_event(event_notice(seq, phase="start" if seq % 2 == 0 else "end"))
        publisher.publish_health(
            HealthNotice(camera_id=7, camera="gate", health={"online": True, "fps_in": 25.0})
        )
        for count in (1, 2, 2, 2, 0):  # repeats of one count are not sent again
            publisher.publish_occupancy(OccupancyNotice(7, "gate", "site", "person", count))
        publisher.publish_count(
            CountNotice(
                camera_id=7, camera="gate", rule="counts", line="door", direction="in",
                label="person", interval_start=datetime(2026, 3, 2, 8, tzinfo=UTC),
                interval_seconds=60, count=12,
            )
        )  # fmt: skip
        assert sub.wait_for(lambda ms: any(m.topic == f"{p}/counts" for m in ms), timeout=10)
        assert wait_until(lambda: publisher.pending() == 0, timeout=5)
    finally:
        publisher.close()
        sub.stop()

    assert [m.payload for m in sub.messages(f"{p}/available")][:1] == [b"online"]
    events = sub.messages(f"{p}/events")
    assert event_ids(events) == [f"ev{i:06d}" for i in range(50)]  # once each, in order
    assert [json.loads(m.payload)["type"] for m in events[:3]] == ["new", "end", "new"]
    health = sub.messages(f"{p}/cameras/gate/health")
    assert json.loads(health[-1].payload) == {"camera": "gate", "online": True, "fps_in": 25.0}
    # Retained states queued before they could be sent keep only the latest per topic.
    occupancy = [m.payload for m in sub.messages(f"{p}/cameras/gate/site/person")]
    assert occupancy[-1] == b"0"
    sent = iter([b"1", b"2", b"0"])
    assert all(value in sent for value in occupancy)  # a subsequence: in order, no repeats
    count = json.loads(sub.messages(f"{p}/counts")[0].payload)
    assert (count["line"], count["direction"], count["count"]) == ("door", "in", 12)
    published = 50 + 1 + len(occupancy) + 1
    assert metrics.registry.get_sample_value("citybrain_mqtt_published_total") == published
    assert metrics.registry.get_sample_value("citybrain_mqtt_queued") == 0
    assert metrics.registry.get_sample_value("citybrain_mqtt_publish_latency_seconds_count") == (
        published
    )
    # A clean stop says offline itself (the will is for deaths).
    assert sub.messages(f"{p}/available")[-1].payload == b"offline"

    # Retained states are there for whoever subscribes later.
    late = Subscriber(mqtt_broker.host, mqtt_broker.port, [f"{p}/cameras/#", f"{p}/available"])
    late.start()
    try:
        assert late.wait_for(lambda ms: len(ms) >= 3, timeout=5)
    finally:
        late.stop()
    retained = {m.topic: m.payload for m in late.messages() if m.retain}
    assert retained[f"{p}/cameras/gate/site/person"] == b"0"
    assert json.loads(retained[f"{p}/cameras/gate/health"])["online"] is True
    assert retained[f"{p}/available"] == b"offline"


def test_home_assistant_discovery(tmp_path: Path, mqtt_broker: Broker, mqtt_prefix: str) -> None:
    p = mqtt_prefix
    sub = Subscriber(mqtt_broker.host, mqtt_broker.port, [f"{p}-ha/#", f"{p}/#"]).start()
    publisher = make_publisher(tmp_path, mqtt_broker.url, p, discovery=True)
    try:
        publisher.publish_health(HealthNotice(7, "gate", {"online": True, "fps_analysed": 5.0}))
        publisher.publish_health(HealthNotice(7, "gate", {"online": False, "fps_analysed": 0.0}))
        publisher.publish_occupancy(OccupancyNotice(7, "gate", "site", "person", 2))
        assert wait_until(lambda: publisher.pending() == 0 and publisher.connected, timeout=10)
        assert sub.wait_for(lambda ms: len([m for m in ms if "/config" in m.topic]) >= 3, 5)
        configs = [m for m in sub.messages() if m.topic.endswith("/config")]
        assert len(configs) == 3  # announced once, not with every health report
        by_kind = {m.topic.split("/")[1]: json.loads(m.payload) for m in configs}
        assert by_kind["binary_sensor"]["state_topic"] == f"{p}/cameras/gate/health"
        assert {c["state_topic"] for c in map(json.loads, (m.payload for m in configs))} == {
            f"{p}/cameras/gate/health", f"{p}/cameras/gate/site/person",
        }  # fmt: skip

        # Home Assistant restarts and says so: the sensors are announced again.
        first = len(sub.messages())
        status = Subscriber(mqtt_broker.host, mqtt_broker.port, [f"{p}-ha/status"]).start()
        status._client.publish(f"{p}-ha/status", b"online", qos=1).wait_for_publish(5)
        status.stop()
        assert sub.wait_for(
            lambda ms: len([m for m in ms[first:] if m.topic.endswith("/config")]) >= 3, 5
        )

        # A removed camera leaves no retained state and no sensors behind.
        publisher.forget_camera("gate")
        assert wait_until(lambda: publisher.pending() == 0, timeout=5)
    finally:
        publisher.close()
        sub.stop()
    late = Subscriber(mqtt_broker.host, mqtt_broker.port, [f"{p}-ha/#", f"{p}/cameras/#"]).start()
    late.wait_for(lambda ms: False, timeout=0.5)
    late.stop()
    assert [m.topic for m in late.messages() if m.payload] == []


def test_a_broker_the_network_policy_refuses_is_never_contacted(
    tmp_path: Path, mqtt_broker: Broker, mqtt_prefix: str
) -> None:
    metrics = OutboundMetrics()
    policy = NetworkPolicy(deny=[f"{mqtt_broker.host}/32"])
    publisher = make_publisher(
        tmp_path, mqtt_broker.url, mqtt_prefix, policy=policy, metrics=metrics
    )
    try:
        publisher.publish_event(event_notice(1))
        assert not wait_until(lambda: publisher.connected, timeout=1.5)
        assert publisher.pending() == 1  # kept for when the policy allows it
        assert metrics.registry.get_sample_value("citybrain_mqtt_connects_total") == 0
    finally:
        publisher.close(timeout=5)


def test_a_queue_that_cannot_be_written_loses_the_message_but_never_raises(
    tmp_path: Path, mqtt_broker: Broker, mqtt_prefix: str
) -> None:
    metrics = OutboundMetrics()
    publisher = make_publisher(tmp_path, mqtt_broker.url, mqtt_prefix, metrics=metrics)
    try:
        assert wait_until(lambda: publisher.connected, timeout=10)
        publisher._queue.close()  # as if the disk failed under it
        publisher.publish_event(event_notice(1))  # the server's event path goes on
        assert metrics.registry.get_sample_value("citybrain_mqtt_failed_total") == 1
    finally:
        publisher.close(timeout=5)
