"""A publisher in a process of its own, for the last-will test; killed by the test.

python mqtt_child.py URL TOPIC_PREFIX DATA_DIR
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from citybrain.config.outbound import MqttSettings
from citybrain.integrations.metrics import OutboundMetrics
from citybrain.integrations.mqtt import MqttPublisher
from citybrain.netpolicy import NetworkPolicy


def main() -> None:
    url, prefix, data_dir = sys.argv[1:4]
    settings = MqttSettings(url=url, topic_prefix=prefix)
    publisher = MqttPublisher.from_settings(
        settings, data_dir=Path(data_dir), policy=NetworkPolicy(), metrics=OutboundMetrics()
    )
    publisher.start()
    deadline = time.monotonic() + 30
    while not publisher.connected and time.monotonic() < deadline:
        time.sleep(0.02)
    print("connected" if publisher.connected else "not connected", flush=True)
    time.sleep(600)


if __name__ == "__main__":
    main()
