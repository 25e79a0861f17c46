"""Webhook signatures (checked with the standardwebhooks package), envelopes, filters, retries."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from mqttsupport import event_notice
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from citybrain.integrations.metrics import OutboundMetrics
from citybrain.integrations.notices import EventNotice
from citybrain.integrations.webhooks import (
    CONTENT_TYPE,
    MemoryDirectory,
    MemoryOutbox,
    RetryPolicy,
    WebhookService,
    WebhookTarget,
    check_webhook_url,
    cloudevent,
    new_secret,
    probe_message,
    secret_key,
    signature_headers,
)
from citybrain.netpolicy import NetworkPolicy


def test_signatures_verify_with_the_standardwebhooks_package() -> None:
    secret = new_secret()
    body = b'{"specversion":"1.0","id":"msg_1","data":{"caf\xc3\xa9":1}}'
    now = int(time.time())
    headers = signature_headers([secret], "msg_1", now, body)
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)  # a changed body
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)  # another secret
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, {**headers, "webhook-id": "msg_2"})
    old = signature_headers([secret], "msg_1", now - 3600, body)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(body, old)


def test_during_a_rotation_both_secrets_sign() -> None:
    old, new = new_secret(), new_secret()
    body = b"{}"
    headers = signature_headers([new, old], "msg_9", int(time.time()), body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(body, headers)
    Webhook(new).verify(body, headers)


def test_secrets() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(secret_key(secret)) == 32
    assert new_secret() != secret
    for bad, why in [
        ("abc", "starts with"),
        ("whsec_!!!", "base64"),
        ("whsec_" + "QUJD", "24 bytes"),
    ]:
        with pytest.raises(ValueError, match=why):
            secret_key(bad)
    with pytest.raises(ValueError, match="no signing secret"):
        signature_headers([], "msg", 1, b"")


def test_cloudevents_envelope() -> None:
    notice = event_notice(5, phase="end")
    message = cloudevent(notice, source="https://cb.example", base_url="https://cb.example")
    envelope = json.loads(message.body)
    assert envelope == {
        "specversion": "1.0", "id": message.message_id, "source": "https://cb.example",
        "type": "citybrain.event.ended", "time": "2026-03-02T08:00:00Z", "subject": "gate",
        "datacontenttype": "application/json",
        "data": {**notice.event,
                 "snapshot_url": "https://cb.example/api/events/ev000005/snapshot.jpg"},
    }  # fmt: skip
    assert message.message_id.startswith("msg_")
    assert message.event_type == "citybrain.event.ended"
    types = {
        cloudevent(event_notice(1, phase=p), source="/cb").event_type for p in ("start", "update")
    }
    assert types == {"citybrain.event.started", "citybrain.event.updated"}
    assert (
        cloudevent(notice, source="/cb").message_id != cloudevent(notice, source="/cb").message_id
    )
    assert CONTENT_TYPE.startswith("application/cloudevents+json")


def test_envelopes_carry_no_image_bytes() -> None:
    notice = EventNotice(
        phase="start", camera_id=1, camera="gate", at=datetime.now(UTC),
        event={"id": "e", "details": {"face": bytearray(b"\x00\x01")}},
    )  # fmt: skip
    with pytest.raises(TypeError, match="snapshot URLs"):
        cloudevent(notice, source="/cb")
    # The service leaves such an event out (logged) and queues the others of the batch.
    outbox, directory = MemoryOutbox(), MemoryDirectory()
    directory.put(WebhookTarget(1, "http://127.0.0.1:9/", (new_secret(),)))
    service = WebhookService(outbox, directory, policy=NetworkPolicy(), metrics=OutboundMetrics())
    assert service.publish_many([event_notice(1), notice, event_notice(2)]) == 2
    assert [d.event_id for d in outbox.history(1)] == ["ev000001", "ev000002"]


def test_test_message() -> None:
    envelope = json.loads(probe_message(source="/cb", webhook_id=4).body)
    assert envelope["type"] == "citybrain.webhook.test"
    assert envelope["data"]["webhook_id"] == 4
    assert "subject" not in envelope


def test_which_events_a_webhook_selects() -> None:
    gate = event_notice(1)  # camera 7, restricted_zone
    everything = WebhookTarget(id=1, url="http://x", secrets=("s",))
    assert everything.selects(gate)
    assert not WebhookTarget(id=1, url="http://x", secrets=("s",), enabled=False).selects(gate)
    by_kind = WebhookTarget(id=1, url="http://x", secrets=("s",), kinds=frozenset({"dwell"}))
    assert not by_kind.selects(gate)
    by_camera = WebhookTarget(id=1, url="http://x", secrets=("s",), cameras=frozenset({7, 8}))
    assert by_camera.selects(gate)
    # The owner's camera limit applies on top of the webhook's own filter.
    limited = WebhookTarget(
        id=1, url="http://x", secrets=("s",), cameras=frozenset({7, 8}),
        owner_cameras=frozenset({8}),
    )  # fmt: skip
    assert not limited.selects(gate)
    owner_only = WebhookTarget(id=1, url="http://x", secrets=("s",), owner_cameras=frozenset({7}))
    assert owner_only.selects(gate)


def test_webhook_urls() -> None:
    assert check_webhook_url("https://hooks.example/x?y=1") == "https://hooks.example/x?y=1"
    for bad, why in [
        ("ftp://h/x", "http"),
        ("https:///x", "host"),
        ("https://h/x#frag", "fragment"),
        ("https://h/x y", "spaces"),
        ("https://h:99999/", "invalid URL"),
        ("https://h/" + "a" * 3000, "at most"),
    ]:
        with pytest.raises(ValueError, match=why):
            check_webhook_url(bad)


def test_retry_delays_double_up_to_a_cap_with_jitter() -> None:
    retry = RetryPolicy(first_delay=1.0, max_delay=600.0)
    top = [retry.delay(n, rng=lambda: 1.0) for n in range(1, 13)]
    assert top == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]
    assert [retry.delay(n, rng=lambda: 0.0) for n in (1, 4, 20)] == [0.5, 4.0, 300.0]
    assert retry.delay(10_000) <= 600
    # Over 24 h of failures that is about 150 attempts: the receiver is not hammered.
    elapsed, attempts = 0.0, 0
    while elapsed < retry.give_up_after:
        attempts += 1
        elapsed += retry.delay(attempts, rng=lambda: 0.75)
    assert 150 <= attempts <= 200
