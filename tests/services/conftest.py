"""Services fixtures: a real store (SQLite and PostgreSQL), a real MQTT broker and a real webhook
receiver on loopback."""

from __future__ import annotations

from support.mosquitto import mqtt_broker, mqtt_prefix, own_mosquitto
from support.postgres import postgres_server, postgres_url
from support.stores import store
from support.webhook_receiver import receiver

__all__ = [
    "mqtt_broker",
    "mqtt_prefix",
    "own_mosquitto",
    "postgres_server",
    "postgres_url",
    "receiver",
    "store",
]
