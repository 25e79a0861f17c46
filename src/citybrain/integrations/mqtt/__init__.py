"""MQTT: citybrain's events, camera health, zone occupancy and line counts on a broker.

See :mod:`~citybrain.integrations.mqtt.messages` for the topic layout and
:mod:`~citybrain.integrations.mqtt.publisher` for how nothing is lost while the broker is away.
"""

from citybrain.config.outbound import MqttSettings, MqttTls
from citybrain.integrations.mqtt.diskqueue import DiskQueue, PushResult, QueuedMessage, QueueError
from citybrain.integrations.mqtt.messages import MQTT_TYPES, MqttMessage, Topics, topic_level
from citybrain.integrations.mqtt.publisher import QUEUE_FILE, MqttPublisher, read_password

__all__ = [
    "MQTT_TYPES",
    "QUEUE_FILE",
    "DiskQueue",
    "MqttMessage",
    "MqttPublisher",
    "MqttSettings",
    "MqttTls",
    "PushResult",
    "QueueError",
    "QueuedMessage",
    "Topics",
    "read_password",
    "topic_level",
]
