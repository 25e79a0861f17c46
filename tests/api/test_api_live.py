"""Live: the SSE event stream, MJPEG, the latest frame, metrics and the audit trail."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator

import cv2
import numpy as np
import pytest
from apisupport import World
from fastapi.testclient import TestClient

from citybrain.core.events import Event, EventPhase, EventUpdate, new_event_id
from citybrain.records import CameraHealth, Role, event_state
from citybrain.runtime.messages import EventMessage, FrameMessage
from citybrain.services.hub import LiveHub
from citybrain.services.metrics import ServerMetrics

DEADLINE_S = 10.0


def _jpeg(value: int) -> bytes:
    image = np.full((48, 64, 3), value, dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return bytes(data.tobytes())


def _message(camera_id: int, phase: EventPhase = EventPhase.START) -> EventMessage:
    event = Event(
        id=new_event_id(), kind="restricted_zone", rule="intruders", camera="gate", zone="site",
        line=None, label="person", track_id=4, start=1.5, end=None, score=0.8,
        bbox=(0.1, 0.1, 0.5, 0.9), snapshot_at=1.5,
    )  # fmt: skip
    return EventMessage(camera_id=camera_id, update=EventUpdate(phase, event), wall_origin=1.7e9)


def _health(camera_id: int) -> CameraHealth:
    return CameraHealth(
        camera_id=camera_id, online=True, fps_in=12.5, fps_analysed=5.0, lag_seconds=0.2,
        frames_dropped=3, reconnects=1, last_error=None, at=1.7e9,
    )  # fmt: skip


def _sse_messages(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event name, data) pairs, until the deadline (keep-alives keep the loop turning)."""
    deadline = time.monotonic() + DEADLINE_S
    kind = data = ""
    for line in lines:
        assert time.monotonic() < deadline, "the stream did not deliver in time"
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = line.removeprefix("data: ")
        elif line == "" and kind:
            yield kind, data
            kind = data = ""


def test_event_stream_delivers_events_and_health(client: TestClient, world: World) -> None:
    mine, theirs = world.camera("mine"), world.camera("theirs")
    hub = world.services.hub
    hub.publish_health(_health(theirs))  # before connecting: not for this user
    ann = world.user("ann", Role.OPERATOR, cameras=(mine,))
    with client.stream("GET", "/api/events/stream", headers=ann) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        hidden, shown = _message(theirs), _message(mine)

        def publish() -> None:  # on its own thread, as the runtime's receiver does
            for message in (hidden, shown):
                state = event_state(message.update, camera_id=message.camera_id, origin=1.7e9)
                hub.publish_event("start", state)
            hub.publish_health(_health(mine))

        publisher = threading.Thread(target=publish)
        publisher.start()
        publisher.join()
        received: dict[str, str] = {}
        for kind, data in _sse_messages(response.iter_lines()):
            assert hidden.update.event.id not in data and f'"camera_id":{theirs}' not in data
            received.setdefault(kind, data)
            if len(received) == 2:
                break
    # The health may come from the snapshot sent on connecting or live: either is right.
    assert set(received) == {"event", "health"}
    assert f'"id":"{shown.update.event.id}"' in received["event"]
    assert '"phase":"start"' in received["event"] and f'"camera_id":{mine}' in received["event"]
    assert f'"camera_id":{mine}' in received["health"] and '"fps_in":12.5' in received["health"]
    assert world.audit_actions("events.stream")[0]["username"] == "ann"


def test_event_stream_pushes_operator_updates(client: TestClient, world: World) -> None:
    event_id = world.event(world.camera("gate"))
    ann = world.user("ann", Role.OPERATOR)
    with client.stream("GET", "/api/events/stream", headers=ann) as response:
        assert client.post(f"/api/events/{event_id}/acknowledge", headers=ann).is_success
        kind, data = next(_sse_messages(response.iter_lines()))
    assert kind == "event" and f'"id":"{event_id}"' in data
    assert '"phase":"acknowledged"' in data and '"acknowledged_by":"ann"' in data
    assert world.services.hub.subscriber_count == 0


def test_slow_subscribers_lose_the_oldest_messages() -> None:
    hub = LiveHub(queue_size=8)

    async def scenario() -> tuple[list[int], int]:
        subscription = hub.subscribe(camera_ids={1})

        def publish() -> None:
            for camera_id in [1] * 20 + [2] * 5:
                hub.publish_health(_health(camera_id))

        publisher = threading.Thread(target=publish)
        publisher.start()
        publisher.join()
        messages = await subscription.get(timeout=1.0)
        hub.unsubscribe(subscription)
        return [m.seq for m in messages], subscription.dropped

    seqs, dropped = asyncio.run(scenario())
    assert seqs == list(range(13, 21)) and dropped == 12
    with pytest.raises(ValueError, match="must be a JPEG"):
        hub.set_frame(FrameMessage(camera_id=1, jpeg=b"\x89PNG raw pixels", timestamp=0.0))


def _read_part(chunks: Iterator[bytes], buffer: bytearray) -> bytes:
    """The next JPEG part of a multipart MJPEG body."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        head_end = buffer.find(b"\r\n\r\n")
        if head_end >= 0:
            head = bytes(buffer[:head_end]).decode()
            assert head.startswith("--frame\r\nContent-Type: image/jpeg")
            length = int(head.split("Content-Length: ")[1].split("\r\n")[0])
            if len(buffer) >= head_end + 4 + length + 2:
                part = bytes(buffer[head_end + 4 : head_end + 4 + length])
                del buffer[: head_end + 4 + length + 2]
                return part
        assert time.monotonic() < deadline, "no MJPEG part in time"
        buffer += next(chunks)


def test_frames_and_mjpeg_are_served_from_the_hub_and_audited(
    client: TestClient, world: World
) -> None:
    gate, other = world.camera("gate"), world.camera("other")
    ann = world.user("ann", Role.OPERATOR, cameras=(gate,))
    waiting = client.get(f"/api/cameras/{gate}/frame.jpg", headers=ann)
    assert waiting.status_code == 503 and "no frame yet" in waiting.json()["detail"]
    assert client.get(f"/api/cameras/{gate}/live.mjpeg", headers=ann).status_code == 503
    hub = world.services.hub
    first, second = _jpeg(40), _jpeg(200)
    hub.set_frame(FrameMessage(camera_id=gate, jpeg=first, timestamp=1.0))
    hub.set_frame(FrameMessage(camera_id=other, jpeg=_jpeg(90), timestamp=1.0))
    frame = client.get(f"/api/cameras/{gate}/frame.jpg", headers=ann)
    assert frame.status_code == 200 and frame.content == first
    assert frame.headers["content-type"] == "image/jpeg"
    with client.stream("GET", f"/api/cameras/{gate}/live.mjpeg", headers=ann) as response:
        assert response.headers["content-type"] == "multipart/x-mixed-replace; boundary=frame"
        chunks, buffer = response.iter_bytes(), bytearray()
        assert _read_part(chunks, buffer) == first
        hub.set_frame(FrameMessage(camera_id=gate, jpeg=second, timestamp=2.0))
        part = _read_part(chunks, buffer)
    assert part == second
    decoded = cv2.imdecode(np.frombuffer(part, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and decoded.shape == (48, 64, 3)
    for path in (f"/api/cameras/{other}/frame.jpg", f"/api/cameras/{other}/live.mjpeg"):
        assert client.get(path, headers=ann).status_code == 404
    auditor = world.user("audrey", Role.AUDITOR)
    assert client.get(f"/api/cameras/{gate}/frame.jpg", headers=auditor).status_code == 403
    assert [(e["username"], e["camera_id"]) for e in world.audit_actions("frame.read")] == [
        ("ann", gate)
    ]
    assert [e["camera_id"] for e in world.audit_actions("live.open")] == [gate]


def test_metrics_are_prometheus_text_in_a_private_registry(
    client: TestClient, world: World
) -> None:
    metrics = world.services.metrics
    metrics.observe_health(_health(7))
    metrics.observe_health(_health(8).model_copy(update={"decoder": "cuda"}))
    metrics.observe_detector(seconds=0.012)
    metrics.set_queue_depth(queue="events", depth=4)
    metrics.count_event(camera_id=7, kind="dwell", n=2)
    admin = world.user("root", Role.ADMIN)
    response = client.get("/metrics", headers=admin)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    for line in ('citybrain_camera_fps{camera="7",stage="decoded"} 12.5',
                 'citybrain_camera_frames_dropped{camera="7"} 3.0',
                 'citybrain_camera_hw_decoding{camera="7"} 0.0',
                 'citybrain_camera_hw_decoding{camera="8"} 1.0',
                 'citybrain_detector_latency_seconds_count{worker="0"} 1.0',
                 'citybrain_queue_depth{queue="events"} 4.0',
                 'citybrain_events_total{camera="7",kind="dwell"} 2.0',
                 "citybrain_live_subscribers 0.0"):  # fmt: skip
        assert line in text, line
    metrics.forget_camera(7)
    assert 'camera="7"' not in client.get("/metrics", headers=admin).text
    assert "citybrain_camera_fps{" not in ServerMetrics().render().decode()  # a fresh registry
    limited = world.user("ann", Role.OPERATOR, cameras=(world.camera("gate"),))
    assert client.get("/metrics", headers=limited).status_code == 403


def test_audit_trail_is_for_auditors_and_filters(client: TestClient, world: World) -> None:
    mine, theirs = world.camera("mine"), world.camera("theirs")
    world.services.hub.set_frame(FrameMessage(camera_id=mine, jpeg=_jpeg(1), timestamp=0.0))
    world.services.hub.set_frame(FrameMessage(camera_id=theirs, jpeg=_jpeg(2), timestamp=0.0))
    ann = world.user("ann", Role.OPERATOR)
    for camera_id in (mine, theirs, theirs):
        assert client.get(f"/api/cameras/{camera_id}/frame.jpg", headers=ann).is_success
    for role in (Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR):
        headers = world.user(f"u-{role.value}", role)
        assert client.get("/api/audit", headers=headers).status_code == 403
    auditor = world.user("audrey", Role.AUDITOR)
    frames = client.get(
        "/api/audit", params={"action": "frame.read", "user": "ann"}, headers=auditor
    ).json()
    assert frames["total"] == 3
    assert [e["camera_id"] for e in frames["items"]] == [theirs, theirs, mine]  # newest first
    assert frames["items"][0]["client"] == "testclient"
    by_camera = client.get("/api/audit", params={"camera": mine}, headers=auditor).json()
    assert {e["camera_id"] for e in by_camera["items"]} <= {mine, None}
    later = client.get("/api/audit", params={"from": "2999-01-01T00:00:00Z"}, headers=auditor)
    assert later.json()["total"] == 0
    limited = world.user("alex", Role.AUDITOR, cameras=(mine,))
    seen = client.get("/api/audit", params={"action": "frame.read"}, headers=limited).json()
    assert [e["camera_id"] for e in seen["items"]] == [mine]


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_video_requests_make_their_camera_watched_and_get_fresh_frames(
    client: TestClient, world: World
) -> None:
    gate, yard, dock = world.camera("gate"), world.camera("yard"), world.camera("dock")
    ann = world.user("ann", Role.OPERATOR, cameras=(gate, yard, dock))
    hub = world.services.hub
    told: list[frozenset[int]] = []

    def camera_runtime() -> None:
        """What a server's workers do when told: render a frame of each newly watched camera."""
        watched = hub.watched()
        fresh = watched - (told[-1] if told else frozenset())
        told.append(watched)
        for camera_id in fresh:
            frame = FrameMessage(camera_id=camera_id, jpeg=_jpeg(200), timestamp=2.0)
            threading.Timer(0.1, hub.set_frame, (frame,)).start()

    hub.on_demand_change(camera_runtime)
    stale = _jpeg(10)
    for camera_id in (gate, yard, dock):
        hub.set_frame(FrameMessage(camera_id=camera_id, jpeg=stale, timestamp=1.0))
    assert hub.watched() == frozenset()

    # Nobody watched the gate: its last frame may be old, so the request waits for a new one.
    response = client.get(f"/api/cameras/{gate}/frame.jpg", headers=ann)
    assert response.status_code == 200 and response.content == _jpeg(200)
    assert told == [frozenset({gate})] and hub.watching(gate)  # for a while after the request

    with client.stream("GET", f"/api/cameras/{yard}/live.mjpeg", headers=ann) as stream:
        assert stream.status_code == 200
        assert _read_part(stream.iter_bytes(), bytearray()) == _jpeg(200)
        assert hub.watched() == {gate, yard}
    _until(lambda: not hub.watching(yard), "the closed MJPEG stream still watches its camera")

    with client.stream("GET", f"/api/live/wall.mjpeg?camera={dock}", headers=ann) as wall:
        assert wall.status_code == 200
        assert hub.watching(dock)
        assert _read_part(wall.iter_bytes(), bytearray())  # the stale frame, then fresh ones
    _until(lambda: not hub.watching(dock), "the closed wall still watches its camera")
    assert told[-1] == frozenset({gate})  # told each time the watched cameras changed
