"""Webhook delivery against a real HTTP receiver on loopback that verifies every signature.

Retry delays and outages are shortened (the behaviour is the same; the issue's 30 s outage
runs end to end through a server, in ``tests/e2e/test_outbound.py``). The 24-hour give-up is
driven by a fake clock for the engine only: the receiver and the signatures run on real time.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import ssl
import time
from collections.abc import Sequence
from ipaddress import ip_address
from pathlib import Path

import pytest
from mqttsupport import event_notice, first_arrivals, wait_until

from citybrain.integrations.metrics import OutboundMetrics
from citybrain.integrations.webhooks import (
    Delivery,
    DeliveryEngine,
    DeliveryStatus,
    MemoryDirectory,
    MemoryOutbox,
    RetryPolicy,
    WebhookSender,
    WebhookService,
    WebhookSettings,
    WebhookTarget,
    cloudevent,
    new_secret,
)
from citybrain.netpolicy import IPAddress, NetworkPolicy, OwnEndpoint
from support.certs import CertificateError, make_certificates
from support.webhook_receiver import Receiver

FAST = WebhookSettings(retry_first_seconds=0.1, retry_max_seconds=1.0, timeout_seconds=5)


def _service(
    receiver: Receiver, *targets: WebhookTarget, settings: WebhookSettings = FAST
) -> tuple[WebhookService, MemoryOutbox, MemoryDirectory, OutboundMetrics]:
    outbox, directory, metrics = MemoryOutbox(), MemoryDirectory(), OutboundMetrics()
    for target in targets or (WebhookTarget(1, receiver.url(), (receiver.secret,)),):
        directory.put(target)
    service = WebhookService(
        outbox, directory, policy=NetworkPolicy(), metrics=metrics, settings=settings,
        source="https://cb.example", base_url="https://cb.example",
    )  # fmt: skip
    service.start()
    return service, outbox, directory, metrics


def _ids(arrivals: Sequence[object]) -> list[str]:
    return [a.json()["data"]["id"] for a in arrivals]  # type: ignore[attr-defined]


def test_every_event_arrives_once_signed_and_in_order(receiver: Receiver) -> None:
    service, outbox, _, metrics = _service(receiver)
    try:
        for seq in range(40):
            service.publish(event_notice(seq, phase=("start", "update", "end")[seq % 3]))
        assert receiver.wait_for(lambda a: len(a) >= 40, timeout=15)
        assert wait_until(lambda: not outbox.pending_counts(), timeout=5)
    finally:
        service.close()
    assert all(a.verified for a in receiver.arrivals)  # standardwebhooks accepted every one
    assert _ids(receiver.accepted()) == [f"ev{i:06d}" for i in range(40)]
    first = receiver.accepted()[0]
    envelope = first.json()
    assert first.headers["content-type"] == "application/cloudevents+json; charset=utf-8"
    assert first.headers["webhook-id"] == envelope["id"]
    assert (envelope["type"], envelope["subject"], envelope["source"]) == (
        "citybrain.event.started", "gate", "https://cb.example",
    )  # fmt: skip
    assert envelope["data"]["snapshot_url"].startswith("https://cb.example/api/events/")
    assert [a.json()["type"].rsplit(".", 1)[1] for a in receiver.accepted()[:3]] == [
        "started", "updated", "ended",
    ]  # fmt: skip
    history = outbox.history(1)
    assert {(d.status, d.attempts, d.last_status_code) for d in history} == {
        (DeliveryStatus.DELIVERED, 1, 204)
    }
    sample = metrics.registry.get_sample_value
    assert sample("citybrain_webhook_delivered_total", {"webhook": "1"}) == 40
    assert sample("citybrain_webhook_delivery_latency_seconds_count") == 40


def test_a_receiver_answering_500_for_a_while_loses_nothing(receiver: Receiver) -> None:
    # The 30 s run end to end, through a server (tests/e2e/test_outbound.py).
    seconds = 3.0
    service, outbox, _, metrics = _service(receiver)
    receiver.fail_for(seconds)
    started = time.monotonic()
    sent = 0
    try:
        while time.monotonic() - started < seconds + 1.0:  # events keep coming meanwhile
            service.publish(event_notice(sent))
            sent += 1
            time.sleep(0.1)
        assert receiver.wait_for(lambda a: len(set(_ids(receiver.accepted()))) >= sent, 15)
        assert wait_until(lambda: not outbox.pending_counts(), timeout=5)
    finally:
        service.close()
    accepted = _ids(receiver.accepted())
    assert first_arrivals(accepted) == [f"ev{i:06d}" for i in range(sent)]
    assert len(accepted) == sent  # none twice: each was acknowledged once
    refused = [a for a in receiver.arrivals if a.status == 500]
    assert refused, "the receiver never failed"
    assert {a.message_id for a in refused} <= {a.message_id for a in receiver.accepted()}
    # Retries keep the message id and re-sign with a fresh timestamp.
    retried = refused[0].message_id
    stamps = {a.headers["webhook-timestamp"] for a in receiver.arrivals if a.message_id == retried}
    assert len(stamps) > 1
    sample = metrics.registry.get_sample_value
    assert sample("citybrain_webhook_attempts_failed_total", {"webhook": "1"}) == len(refused)
    assert sample("citybrain_webhook_failed_total", {"webhook": "1"}) in (None, 0)
    assert outbox.history(1)[0].attempts > 1


def test_one_failing_webhook_does_not_hold_up_another(receiver: Receiver) -> None:
    broken = WebhookTarget(2, receiver.url("/broken"), (receiver.secret,))
    good = WebhookTarget(1, receiver.url(), (receiver.secret,))
    receiver.redirect("/broken", "https://elsewhere.example/")  # never accepted
    service, outbox, _, _ = _service(receiver, good, broken)
    try:
        for seq in range(10):
            service.publish(event_notice(seq))
        assert receiver.wait_for(lambda a: len(receiver.accepted()) >= 10, timeout=10)
    finally:
        service.close()
    assert _ids(receiver.accepted()) == [f"ev{i:06d}" for i in range(10)]
    assert outbox.pending_counts()[2] == 10  # still waiting, in order, behind the first


def test_redirects_are_followed_only_on_the_same_host(receiver: Receiver) -> None:
    receiver.redirect("/moved", "/hook", status=308)
    receiver.redirect("/away", receiver.url("/hook", host="localhost"))
    sender = WebhookSender(NetworkPolicy())
    message = cloudevent(event_notice(1), source="/cb")

    async def attempt(path: str) -> tuple[bool, int | None, str | None]:
        result = await sender.send(
            1, receiver.url(path), [receiver.secret], message.message_id, message.body
        )
        return result.ok, result.status_code, result.error

    async def both() -> list[tuple[bool, int | None, str | None]]:
        try:
            return [await attempt("/moved"), await attempt("/away")]
        finally:
            await sender.aclose()

    moved, away = asyncio.run(both())
    assert moved == (True, 204, None)
    assert away[:2] == (False, 307)
    assert "another host (localhost) refused" in (away[2] or "")
    assert [a.path for a in receiver.arrivals] == ["/moved", "/hook", "/away"]  # never followed


@pytest.mark.parametrize(
    ("url", "resolved", "why"),
    [
        ("http://169.254.169.254/latest/meta-data/", None, "cloud metadata service"),
        ("http://[fe80::1]:8080/hook", None, "link-local"),
        (
            "http://hook.test:9/hook",
            ["127.0.0.1", "169.254.169.254"],
            "hook.test (169.254.169.254)",
        ),
        ("http://[::ffff:169.254.169.254]/x", None, "metadata"),
        ("http://127.0.0.1:{port}/hook", None, "this server itself"),
    ],
)
def test_destinations_the_network_policy_refuses_are_never_contacted(
    receiver: Receiver, url: str, resolved: list[str] | None, why: str
) -> None:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        assert resolved is not None, f"{host} should not need resolving"
        return [ip_address(a) for a in resolved]

    # The receiver's own port plays the server's: what the server must never call itself.
    policy = NetworkPolicy(own=OwnEndpoint.parse("127.0.0.1", receiver.port))
    sender = WebhookSender(policy, resolve=resolve, timeout=3)
    result = asyncio.run(sender.send(1, url.format(port=receiver.port), [new_secret()], "m", b"{}"))
    assert not result.ok
    assert result.status_code is None
    assert why in (result.error or "")
    assert receiver.arrivals == []


def test_connects_to_the_checked_address_and_keeps_the_host_name(receiver: Receiver) -> None:
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[IPAddress]:
        asked.append(host)
        return [ip_address("127.0.0.1")]

    sender = WebhookSender(NetworkPolicy(), resolve=resolve)
    message = cloudevent(event_notice(1), source="/cb")
    url = f"http://hook.test:{receiver.port}/hook"
    result = asyncio.run(sender.send(1, url, [receiver.secret], message.message_id, message.body))
    assert result.ok, result.error
    assert asked == ["hook.test"]
    assert receiver.arrivals[0].headers["host"] == f"hook.test:{receiver.port}"


def test_an_ipv6_receiver() -> None:
    try:
        receiver = Receiver(new_secret(), host="::1").start()
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback: {exc}")
    try:
        sender = WebhookSender(NetworkPolicy())
        message = cloudevent(event_notice(1), source="/cb")
        result = asyncio.run(
            sender.send(1, receiver.url(), [receiver.secret], message.message_id, message.body)
        )
    finally:
        receiver.stop()
    assert result.ok, result.error
    assert receiver.arrivals[0].verified


def test_https_to_a_checked_address_with_the_name_for_sni_and_certificate(
    tmp_path: Path,
) -> None:
    try:
        files = make_certificates(tmp_path)
    except CertificateError as exc:
        pytest.skip(f"no test certificates: {exc}")
    receiver = Receiver(new_secret(), tls=files).start()
    message = cloudevent(event_notice(1), source="/cb")

    async def attempt(url: str, verify: ssl.SSLContext | bool) -> tuple[bool, str | None]:
        sender = WebhookSender(NetworkPolicy(), verify=verify, timeout=5)
        try:
            result = await sender.send(1, url, [receiver.secret], message.message_id, message.body)
        finally:
            await sender.aclose()
        return result.ok, result.error

    trusted = ssl.create_default_context(cafile=str(files.ca))
    try:
        by_name = asyncio.run(attempt(receiver.url(host="localhost"), trusted))
        by_address = asyncio.run(attempt(receiver.url(), trusted))
        untrusted = asyncio.run(attempt(receiver.url(host="localhost"), True))
    finally:
        receiver.stop()
    assert by_name == (True, None)  # connected to 127.0.0.1, verified the name localhost
    assert by_address == (True, None)
    assert not untrusted[0] and "CERTIFICATE_VERIFY_FAILED" in (untrusted[1] or "")
    assert [a.headers["host"] for a in receiver.arrivals] == [
        f"localhost:{receiver.port}", f"127.0.0.1:{receiver.port}",
    ]  # fmt: skip
    assert all(a.verified for a in receiver.arrivals)


class _Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_a_receiver_failing_for_24_hours_is_marked_failing(receiver: Receiver) -> None:
    """Engine time runs 24 h in steps; each attempt really reaches the receiver (500)."""
    clock = _Clock()
    outbox, directory, metrics = MemoryOutbox(), MemoryDirectory(), OutboundMetrics()
    directory.put(WebhookTarget(1, receiver.url(), (receiver.secret,)))
    retry = RetryPolicy(first_delay=60, max_delay=3600, give_up_after=24 * 3600)
    receiver.fail_for(3600)

    async def scenario() -> list[float]:
        sender = WebhookSender(NetworkPolicy())
        engine = DeliveryEngine(
            outbox, directory, sender, retry=retry, metrics=metrics, clock=clock,
            rng=lambda: 1.0,
        )  # fmt: skip
        message = cloudevent(event_notice(0), source="/cb")
        outbox.enqueue(1, message, now=clock.now)
        for seq in (1, 2):  # queued behind it, for most of the 24 h
            outbox.enqueue(1, cloudevent(event_notice(seq), source="/cb"), now=clock.now + seq)
        attempts_at = []
        while directory.target(1).failing_since is None:  # type: ignore[union-attr]
            heads = outbox.heads()
            clock.now = max(clock.now, heads[0].next_attempt_at)
            attempts_at.append(clock.now)
            await engine.deliver_due()
        # The next try is an hour later (not at once): the receiver still fails, and the
        # next delivery is over 24 h old by then, as is the one behind it, never attempted.
        clock.now += 3600
        await engine.deliver_due()
        outbox.enqueue(1, cloudevent(event_notice(3), source="/cb"), now=clock.now)
        receiver.fail_for(0)  # the receiver is back
        clock.now += 3600
        await engine.deliver_due()
        await sender.aclose()
        return attempts_at

    attempts_at = asyncio.run(scenario())
    gaps = [b - a for a, b in itertools.pairwise(attempts_at)]
    assert gaps[:4] == [60, 120, 240, 480]  # doubling ...
    assert max(gaps) == 3600  # ... up to the cap
    assert attempts_at[-1] - attempts_at[0] == 24 * 3600  # the last try at the give-up time
    history = outbox.history(1)
    assert [d.status for d in history] == [DeliveryStatus.FAILED] * 3 + [DeliveryStatus.DELIVERED]
    assert history[0].attempts == len(attempts_at)
    assert "gave up after 24 h" in (history[0].last_error or "")
    assert history[1].attempts == 1
    assert history[2].attempts == 0 and "not attempted" in (history[2].last_error or "")
    # The webhook was failing while it failed, and is healthy again after the next success.
    assert directory.target(1).failing_since is None  # type: ignore[union-attr]
    sample = metrics.registry.get_sample_value
    assert sample("citybrain_webhook_failed_total", {"webhook": "1"}) == 3
    assert sample("citybrain_webhook_failing", {"webhook": "1"}) == 0
    assert len([a for a in receiver.arrivals if a.status == 500]) == len(attempts_at) + 1


class FlakyOutbox(MemoryOutbox):
    """An outbox that cannot be read while ``away`` (a database outage)."""

    away = True

    def heads(self) -> Sequence[Delivery]:
        if self.away:
            raise ConnectionError("the database is away")
        return super().heads()


def test_an_outbox_that_cannot_be_read_for_a_while_stops_nothing(receiver: Receiver) -> None:
    outbox, directory = FlakyOutbox(), MemoryDirectory()
    directory.put(WebhookTarget(1, receiver.url(), (receiver.secret,)))
    service = WebhookService(outbox, directory, policy=NetworkPolicy(), metrics=OutboundMetrics())
    service.start()
    try:
        assert service.publish(event_notice(1)) == 1
        time.sleep(0.5)
        assert receiver.arrivals == []
        outbox.away = False  # back: the engine reads it again within its retry time
        assert receiver.wait_for(lambda a: len(a) == 1, timeout=10)
    finally:
        service.close()
    assert receiver.accepted()[0].verified


def test_paused_and_deleted_webhooks(receiver: Receiver) -> None:
    outbox, directory = MemoryOutbox(), MemoryDirectory()
    directory.put(WebhookTarget(1, receiver.url(), (receiver.secret,), enabled=False))
    directory.put(WebhookTarget(2, receiver.url(), (receiver.secret,)))
    message = cloudevent(event_notice(0), source="/cb")
    outbox.enqueue(1, message, now=time.time())
    outbox.enqueue(2, message, now=time.time())
    directory.delete(2)

    async def once() -> None:
        sender = WebhookSender(NetworkPolicy())
        await DeliveryEngine(outbox, directory, sender).deliver_due()
        await sender.aclose()

    asyncio.run(once())
    assert receiver.arrivals == []
    assert outbox.pending_counts() == {1: 1}  # paused: waits; deleted: gone


def test_filters_limits_and_the_test_message(receiver: Receiver) -> None:
    url = receiver.url()
    targets = [
        WebhookTarget(1, url, (receiver.secret,), kinds=frozenset({"dwell"})),
        WebhookTarget(2, url, (receiver.secret,), owner_cameras=frozenset({99})),
        WebhookTarget(3, url, (receiver.secret,), cameras=frozenset({7})),
    ]
    service, outbox, _, _ = _service(receiver, *targets)
    try:
        assert service.publish(event_notice(1)) == 1  # only webhook 3 wants camera 7's intruders
        assert receiver.wait_for(lambda a: len(a) >= 1, timeout=10)
        result = service.send_test(2)
    finally:
        service.close()
    assert [a.json()["data"]["id"] for a in receiver.arrivals[:1]] == ["ev000001"]
    assert result.ok and result.status_code == 204
    probe = receiver.arrivals[-1]
    assert probe.verified
    assert json.loads(probe.body)["type"] == "citybrain.webhook.test"
    assert outbox.history(2) == []  # the test message does not go through the outbox
