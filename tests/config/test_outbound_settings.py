"""The ``mqtt``, ``webhooks`` and ``public_url`` settings: validated with the rest of the server's
settings, errors naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from citybrain.cli import app
from citybrain.config.server import load_settings
from citybrain.errors import ConfigError


def test_absent_means_mqtt_off_and_webhook_defaults(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=tmp_path)
    assert settings.mqtt is None and settings.public_base is None
    assert (settings.webhooks.give_up_hours, settings.webhooks.max_pending) == (24.0, 100_000)


def test_the_issues_keys(tmp_path: Path) -> None:
    path = tmp_path / "server.yaml"
    path.write_text(
        "mqtt:\n"
        "  url: mqtts://broker.lan\n"
        "  username: citybrain\n"
        "  password_file: /run/secrets/mqtt\n"
        "  topic_prefix: city\n"
        "  tls: {ca_file: /etc/ca.pem}\n"
        "webhooks: {timeout_seconds: 5}\n"
        "public_url: https://cb.example.org/\n"
    )
    settings = load_settings(path)
    assert settings.mqtt is not None
    assert (settings.mqtt.host, settings.mqtt.port, settings.mqtt.topic_prefix) == (
        "broker.lan", 8883, "city",
    )  # fmt: skip
    assert settings.mqtt.tls_options is not None
    assert str(settings.mqtt.tls_options.ca_file) == "/etc/ca.pem"
    assert settings.webhooks.timeout_seconds == 5
    assert settings.public_base == "https://cb.example.org"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("public_url: ftp://x\n", ":1: public_url:"),
        ("port: 8000\nmqtt: {url: 'http://broker'}\n", ":2: mqtt.url: Value error, broker URL"),
        ("mqtt: {url: 'mqtt://u:p@b'}\n", ":1: mqtt.url: Value error, no credentials"),
        ("mqtt: {url: 'mqtt://b', topic_prefix: 'a/#'}\n", ":1: mqtt.topic_prefix:"),
        ("mqtt: {url: 'mqtt://b', qos: 2}\n", ":1: mqtt.qos: Extra inputs"),
        ("webhooks: {give_up_hours: 0}\n", ":1: webhooks.give_up_hours:"),
    ],
)
def test_errors_name_file_line_and_field(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "server.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert f"{path}{where}" in str(caught.value)


def test_serve_refuses_an_unreadable_password_file(tmp_path: Path) -> None:
    path = tmp_path / "server.yaml"
    path.write_text(f"mqtt: {{url: 'mqtt://127.0.0.1', password_file: {tmp_path / 'nope'}}}\n")
    result = CliRunner().invoke(
        app, ["serve", "--config", str(path), "--data", str(tmp_path / "data")]
    )
    assert result.exit_code == 1
    assert "mqtt.password_file: cannot read" in result.output
