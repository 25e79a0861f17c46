"""Integration fixtures: a real MQTT broker and a real webhook receiver on loopback."""

from __future__ import annotations

import sys
from pathlib import Path

# pytest runs with --import-mode=importlib, which leaves sys.path alone: tests/ holds the shared
# helpers (support.mosquitto), this folder the integration tests' own (mqttsupport, …).
for _path in (Path(__file__).resolve().parents[1], Path(__file__).resolve().parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from support.mosquitto import mqtt_broker, mqtt_prefix, own_mosquitto  # noqa: E402
from support.webhook_receiver import receiver  # noqa: E402

__all__ = ["mqtt_broker", "mqtt_prefix", "own_mosquitto", "receiver"]
