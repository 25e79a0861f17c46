"""Prometheus metrics of the integrations, in the registry the server passes in.

The server registers them in its private registry (``ServerMetrics.registry``), so ``GET
/metrics`` shows them beside the camera metrics. Webhooks are labelled by id (their URLs may
hold secrets).

Example:
    >>> from prometheus_client import CollectorRegistry
    >>> registry = CollectorRegistry()
    >>> metrics = OutboundMetrics(registry)
    >>> metrics.mqtt_published.inc()
    >>> registry.get_sample_value("citybrain_mqtt_published_total")
    1.0
"""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["OutboundMetrics"]

# From a loopback receiver (milliseconds) to a receiver that was away for an hour.
_LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0,
    3600.0, 21600.0, 86400.0,
)  # fmt: skip


class OutboundMetrics:
    """The metric objects of the MQTT publisher and the webhook engine (thread-safe)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._mqtt(self.registry)
        self._webhooks(self.registry)

    def _mqtt(self, r: CollectorRegistry) -> None:
        self.mqtt_published = Counter(
            "citybrain_mqtt_published", "MQTT messages the broker acknowledged.", registry=r
        )
        self.mqtt_queued = Gauge(
            "citybrain_mqtt_queued",
            "MQTT messages in the on-disk queue, not yet acknowledged by the broker.",
            registry=r,
        )
        self.mqtt_dropped = Counter(
            "citybrain_mqtt_dropped",
            "MQTT messages lost because the on-disk queue was full (the oldest go first).",
            registry=r,
        )
        self.mqtt_failed = Counter(
            "citybrain_mqtt_failed",
            "MQTT messages that can never be published (refused by the client: too large, "
            "invalid topic); they are dropped and logged.",
            registry=r,
        )
        self.mqtt_connected = Gauge(
            "citybrain_mqtt_connected", "1 while connected to the MQTT broker.", registry=r
        )
        self.mqtt_connects = Counter(
            "citybrain_mqtt_connects", "Successful connections to the MQTT broker.", registry=r
        )
        self.mqtt_latency = Histogram(
            "citybrain_mqtt_publish_latency_seconds",
            "Seconds from a message's queueing to the broker's acknowledgement.",
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip

    def _webhooks(self, r: CollectorRegistry) -> None:
        self.webhook_delivered = Counter(
            "citybrain_webhook_delivered",
            "Webhook deliveries the receiver accepted (2xx).", ["webhook"], registry=r,
        )  # fmt: skip
        self.webhook_attempts_failed = Counter(
            "citybrain_webhook_attempts_failed",
            "Webhook attempts that failed (error, timeout, refused destination, non-2xx); "
            "each is retried until the give-up time.",
            ["webhook"], registry=r,
        )  # fmt: skip
        self.webhook_failed = Counter(
            "citybrain_webhook_failed",
            "Webhook deliveries given up after failing for the whole give-up time (24 h).",
            ["webhook"], registry=r,
        )  # fmt: skip
        self.webhook_queued = Gauge(
            "citybrain_webhook_queued", "Webhook deliveries waiting in the outbox.",
            ["webhook"], registry=r,
        )  # fmt: skip
        self.webhook_dropped = Counter(
            "citybrain_webhook_dropped",
            "Webhook deliveries not queued because the webhook's outbox was full.",
            ["webhook"], registry=r,
        )  # fmt: skip
        self.webhook_fanout_dropped = Counter(
            "citybrain_webhook_fanout_dropped",
            "Events not handed to webhooks because too many waited for the outbox (the "
            "database was away for long).",
            registry=r,
        )
        self.webhook_failing = Gauge(
            "citybrain_webhook_failing",
            "1 while a webhook is marked failing (a delivery failed for the give-up time).",
            ["webhook"], registry=r,
        )  # fmt: skip
        self.webhook_latency = Histogram(
            "citybrain_webhook_delivery_latency_seconds",
            "Seconds from a delivery's queueing to the receiver's 2xx.",
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip

    def forget_webhook(self, webhook_id: int) -> None:
        """Drop a deleted webhook's series."""
        label = str(webhook_id)
        for metric in (
            self.webhook_delivered, self.webhook_attempts_failed, self.webhook_failed,
            self.webhook_queued, self.webhook_dropped, self.webhook_failing,
        ):  # fmt: skip
            with contextlib.suppress(KeyError):  # never observed
                metric.remove(label)
