"""The publisher against a broker that requires a password and speaks TLS only."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from mqttsupport import event_ids, event_notice, make_publisher, wait_until

from citybrain.errors import ConfigError
from citybrain.integrations.metrics import OutboundMetrics
from citybrain.integrations.mqtt import MqttPublisher, MqttSettings, read_password
from citybrain.netpolicy import NetworkPolicy
from support.mosquitto import MosquittoUnavailableError, OwnMosquitto, Subscriber

USER, PASSWORD = "citybrain", "s3cret pass"


@pytest.fixture(scope="module")
def secure_broker() -> Iterator[OwnMosquitto]:
    try:
        broker = OwnMosquitto.create(users={USER: PASSWORD, "reader": "r"}, tls=True)
    except MosquittoUnavailableError as exc:
        pytest.skip(f"cannot start a TLS mosquitto: {exc}")
    try:
        yield broker
    finally:
        broker.remove()


def _password_file(tmp_path: Path, password: str) -> Path:
    path = tmp_path / "mqtt-password"
    path.write_text(password + "\n")
    return path


def test_password_and_tls(tmp_path: Path, secure_broker: OwnMosquitto) -> None:
    broker = secure_broker
    sub = Subscriber(
        "localhost", broker.port, ["citybrain/#"], username="reader", password="r",
        ca_file=broker.ca_file,
    ).start()  # fmt: skip
    publisher = make_publisher(
        tmp_path, f"mqtts://localhost:{broker.port}", "citybrain", username=USER,
        password_file=_password_file(tmp_path, PASSWORD), tls={"ca_file": broker.ca_file},
    )  # fmt: skip
    try:
        for seq in range(5):
            publisher.publish_event(event_notice(seq))
        assert sub.wait_for(lambda ms: len([m for m in ms if m.topic.endswith("events")]) >= 5, 10)
    finally:
        publisher.close()
        sub.stop()
    assert event_ids(sub.messages("citybrain/events")) == [f"ev{i:06d}" for i in range(5)]
    assert json.loads(sub.messages("citybrain/events")[0].payload)["type"] == "new"


@pytest.mark.parametrize(
    ("password", "tls", "why"),
    [
        ("wrong", "ca", "refused the connection"),
        (PASSWORD, "system", "CERTIFICATE_VERIFY_FAILED"),  # our own CA is not a system CA
    ],
)
def test_a_refused_connection_keeps_the_messages_and_says_why(
    tmp_path: Path,
    secure_broker: OwnMosquitto,
    caplog: pytest.LogCaptureFixture,
    password: str,
    tls: str,
    why: str,
) -> None:
    caplog.set_level(logging.WARNING, logger="citybrain.integrations.mqtt")
    publisher = make_publisher(
        tmp_path, f"mqtts://localhost:{secure_broker.port}", "citybrain", username=USER,
        password_file=_password_file(tmp_path, password),
        tls={"ca_file": secure_broker.ca_file} if tls == "ca" else True,
    )  # fmt: skip
    try:
        publisher.publish_event(event_notice(1))
        assert wait_until(lambda: why in caplog.text, timeout=10), caplog.text
        assert not publisher.connected
        assert publisher.pending() == 1
    finally:
        publisher.close(timeout=5)
    assert caplog.text.count(why) == 1  # said once, not on every retry
    assert PASSWORD not in caplog.text and "wrong" not in caplog.text


def test_an_unreadable_password_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"mqtt\.password_file: cannot read"):
        read_password(tmp_path / "missing")
    settings = MqttSettings(url="mqtt://b", tls={"ca_file": tmp_path / "missing-ca.pem"})

    with pytest.raises(ConfigError, match=r"mqtt\.tls"):
        MqttPublisher.from_settings(
            settings, data_dir=tmp_path, policy=NetworkPolicy(), metrics=OutboundMetrics()
        )
