"""The webhook outbox and directory in the store, on SQLite and PostgreSQL.

The outbox contract is checked on the store's outbox and on the in-memory reference alike;
then the webhook service delivers from the store to a real receiver that verifies signatures,
across a restart of the service with deliveries pending.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from citybrain.config.outbound import WebhookSettings
from citybrain.integrations.metrics import OutboundMetrics
from citybrain.integrations.notices import EventNotice
from citybrain.integrations.webhooks import (
    DeliveryOutbox,
    MemoryOutbox,
    OutboundMessage,
    WebhookService,
    new_secret,
)
from citybrain.netpolicy import NetworkPolicy
from citybrain.records import CameraFields, Role, WebhookFields
from citybrain.services.webhook_store import SqlDirectory, SqlOutbox
from citybrain.store import CameraRepo, DeliveryRepo, Store, UserRepo, WebhookRepo
from support.webhook_receiver import Receiver

T = 1_790_000_000.0


def message(n: int) -> OutboundMessage:
    return OutboundMessage(f"msg_{n:04d}", "citybrain.event.started", b'{"n":%d}' % n, f"ev{n}")


def add_webhook(store: Store, url: str = "http://127.0.0.1:9/", **fields: object) -> int:
    with store.session() as session:
        users = UserRepo(session)
        owner = users.by_username(username="root") or users.create(
            username="root", password_hash="x", role=Role.ADMIN
        )
        webhook = WebhookRepo(session).create(
            WebhookFields(url=url),
            owner_id=owner.id,
            secret=new_secret(),
            **fields,  # type: ignore[arg-type]
        )
        return webhook.id


@pytest.fixture(params=["memory", "store"])
def outbox_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make_outbox(kind: str, store: Store, max_pending: int = 100) -> DeliveryOutbox:
    if kind == "memory":
        return MemoryOutbox(max_pending=max_pending)
    return SqlOutbox(store, max_pending=max_pending)


def test_the_outbox_contract(store: Store, outbox_kind: str) -> None:
    one, two = add_webhook(store), add_webhook(store)
    outbox = make_outbox(outbox_kind, store, max_pending=3)
    ids = outbox.enqueue_many([(one, message(1)), (two, message(2)), (one, message(3))], now=T)
    assert all(ids) and ids == sorted(ids)  # type: ignore[type-var]
    assert outbox.enqueue(one, message(4), now=T + 1) is not None
    assert outbox.enqueue(one, message(5), now=T + 1) is None  # its queue is full
    assert outbox.pending_counts() == {one: 3, two: 1}
    heads = {d.webhook_id: d for d in outbox.heads()}
    assert (heads[one].message_id, heads[two].message_id) == ("msg_0001", "msg_0002")
    assert (heads[one].body, heads[one].enqueued_at, heads[one].event_id) == (b'{"n":1}', T, "ev1")

    outbox.record_failure(
        heads[one].id,
        attempts=1,
        status_code=500,
        error="HTTP 500",
        at=T + 2,
        next_attempt_at=T + 9,
    )
    again = {d.webhook_id: d for d in outbox.heads()}[one]
    assert (again.id, again.attempts, again.next_attempt_at) == (heads[one].id, 1, T + 9)
    assert (again.last_status_code, again.last_error, again.last_attempt_at) == (
        500,
        "HTTP 500",
        T + 2,
    )
    outbox.mark_delivered(again.id, attempts=2, status_code=204, at=T + 10)
    assert {d.webhook_id: d for d in outbox.heads()}[one].message_id == "msg_0003"
    if outbox_kind == "store":  # what it keeps in memory is what a fresh read finds
        assert sorted(SqlOutbox(store).heads(), key=lambda d: d.id) == sorted(
            outbox.heads(), key=lambda d: d.id
        )

    head = {d.webhook_id: d for d in outbox.heads()}[one]
    outbox.mark_failed(head.id, attempts=9, status_code=None, error="timed out", at=T + 11)
    assert outbox.expire(one, enqueued_before=T + 2, error="gave up", at=T + 11) == 1
    assert outbox.pending_counts() == {two: 1}
    assert outbox.purge(two) == 1
    assert outbox.heads() == [] and outbox.pending_counts() == {}
    # After the queue ran dry, new deliveries are heads at once (the cache knows them all).
    later = outbox.enqueue(one, message(6), now=T + 20)
    assert [d.id for d in outbox.heads()] == [later]


def test_the_store_keeps_what_the_deliveries_view_shows(store: Store) -> None:
    hook = add_webhook(store)
    outbox = SqlOutbox(store)
    first = outbox.enqueue(hook, message(1), now=T)
    assert first is not None
    outbox.record_failure(
        first, attempts=1, status_code=None, error="x" * 900, at=T + 1, next_attempt_at=T + 2
    )
    outbox.mark_delivered(first, attempts=2, status_code=200, at=T + 3)
    outbox.enqueue(hook, message(2), now=T + 4)
    with store.session() as session:
        page = DeliveryRepo(session).page(webhook_id=hook, limit=10)
        cutoff = datetime.fromtimestamp(T + 1, UTC)
        assert DeliveryRepo(session).delete_finished_before(cutoff=cutoff) == 1
        left = DeliveryRepo(session).page(webhook_id=hook, limit=10)
    assert [(d.message_id, d.status.value, d.attempts) for d in page] == [
        ("msg_0002", "pending", 0), ("msg_0001", "delivered", 2),
    ]  # fmt: skip
    assert page[1].last_status_code == 200 and page[1].last_error is None
    assert page[1].last_attempt_at == datetime.fromtimestamp(T + 3, UTC)
    assert [d.message_id for d in left] == ["msg_0002"]  # pending deliveries are kept
    # Deleting the webhook deletes its deliveries.
    with store.session() as session:
        assert WebhookRepo(session).delete(webhook_id=hook)
    assert outbox.heads() == []


def test_the_directory_applies_filters_owner_limits_and_rotations(store: Store) -> None:
    with store.session() as session:
        gate = CameraRepo(session).create(CameraFields(name="gate", source="/v/gate.mp4")).id
        yard = CameraRepo(session).create(CameraFields(name="yard", source="/v/yard.mp4")).id
        lim = UserRepo(session).create(
            username="lim", password_hash="x", role=Role.ADMIN, camera_ids=[gate]
        )
        limited = WebhookRepo(session).create(
            WebhookFields(url="http://127.0.0.1:9/a", kinds=["dwell"]), owner_id=lim.id,
            secret=new_secret(),
        ).id  # fmt: skip
    filtered = add_webhook(store, camera_ids=[yard])
    clock = [0.0]
    directory = SqlDirectory(store, clock=lambda: clock[0])
    targets = {t.id: t for t in directory.targets()}
    assert targets[limited].owner_cameras == frozenset({gate})
    assert targets[limited].kinds == frozenset({"dwell"}) and targets[limited].cameras is None
    assert targets[filtered].cameras == frozenset({yard})
    assert targets[filtered].owner_cameras is None

    # A webhook made a moment ago is found although the cache is fresh (never purged).
    newer = add_webhook(store)
    assert directory.target(newer) is not None
    # Narrowing the owner's limit shows after the cache's few seconds.
    with store.session() as session:
        UserRepo(session).update(user_id=lim.id, camera_ids=[yard])
    assert directory.target(limited).owner_cameras == frozenset({gate})  # type: ignore[union-attr]
    clock[0] = 6.0
    assert directory.target(limited).owner_cameras == frozenset({yard})  # type: ignore[union-attr]

    with store.session() as session:
        old = WebhookRepo(session).get(webhook_id=newer)
        assert old is not None
        WebhookRepo(session).rotate_secret(
            webhook_id=newer, secret=new_secret(),
            previous_until=datetime.now(UTC) + timedelta(hours=1),
        )  # fmt: skip
    directory.changed()
    rotated = directory.target(newer)
    assert rotated is not None and rotated.secrets[1] == old.secret and len(rotated.secrets) == 2
    directory.set_failing(newer, T)
    assert directory.target(newer).failing_since == T  # type: ignore[union-attr]


def _notice(n: int) -> EventNotice:
    return EventNotice(
        phase="start", camera_id=1, camera="gate", at=datetime.now(UTC),
        event={"id": f"ev{n:04d}", "kind": "restricted_zone", "camera_id": 1},
    )  # fmt: skip


def _service(store: Store) -> WebhookService:
    settings = WebhookSettings(retry_first_seconds=0.1, retry_max_seconds=0.3, timeout_seconds=5)
    service = WebhookService(
        SqlOutbox(store), SqlDirectory(store), policy=NetworkPolicy(), metrics=OutboundMetrics(),
        settings=settings, source="https://cb.example",
    )  # fmt: skip
    service.start()
    return service


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not condition():
        time.sleep(0.05)
    return condition()


def test_pending_deliveries_survive_a_restart_of_the_service(
    store: Store, receiver: Receiver
) -> None:
    hook = add_webhook(store, url=receiver.url())
    with store.session() as session:
        secret = WebhookRepo(session).get(webhook_id=hook).secret  # type: ignore[union-attr]
    receiver.use_secret(secret)
    receiver.fail_for(3600)
    first = _service(store)
    try:
        assert first.publish_many([_notice(n) for n in range(20)]) == 20
        assert receiver.wait_for(lambda a: len(a) >= 2, timeout=10)  # attempts were made
    finally:
        first.close()
    with store.session() as session:
        assert DeliveryRepo(session).pending_counts() == {hook: 20}
    receiver.fail_for(0)
    second = _service(store)
    try:
        assert _wait(lambda: len(receiver.accepted()) >= 20, timeout=20)
        assert _wait(lambda: not SqlOutbox(store).pending_counts(), timeout=5)
    finally:
        second.close()
    ids = [a.json()["data"]["id"] for a in receiver.accepted()]
    assert ids == [f"ev{n:04d}" for n in range(20)]  # every one, once, in order
    assert all(a.verified for a in receiver.arrivals)
    with store.session() as session:
        oldest = DeliveryRepo(session).page(webhook_id=hook, limit=100)[-1]
    assert oldest.attempts >= 3 and oldest.status.value == "delivered"  # backoff resumed
