"""The outbound sections of the server settings: ``mqtt`` (absent: MQTT is off) and
``webhooks`` (timeouts, retries, bounds). Pure Pydantic: the integrations read them, this
module never imports the integrations (nor paho)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["MqttSettings", "MqttTls", "WebhookSettings"]

_SCHEMES = {"mqtt": 1883, "mqtts": 8883}


class MqttTls(BaseModel):
    """TLS towards the broker; absent files mean the system's CAs and no client certificate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ca_file: Path | None = Field(
        default=None, title="CA file", description="PEM file of the CAs that sign the broker's "
        "certificate; absent = the system's CAs.",
    )  # fmt: skip
    cert_file: Path | None = Field(
        default=None, title="Client certificate", description="PEM client certificate, for "
        "brokers that authenticate clients by certificate.",
    )  # fmt: skip
    key_file: Path | None = Field(
        default=None, title="Client key", description="PEM key of the client certificate."
    )

    @model_validator(mode="after")
    def _key_with_cert(self) -> MqttTls:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self


class MqttSettings(BaseModel):
    """Where and how the server publishes to MQTT."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(
        title="Broker URL",
        description="mqtt://host[:1883] or mqtts://host[:8883] (TLS). Credentials go in "
        "`username` and `password_file`, never in the URL.",
        examples=["mqtt://127.0.0.1:1883"],
    )
    username: str | None = Field(default=None, title="User name", max_length=256)
    password_file: Path | None = Field(
        default=None,
        title="Password file",
        description="A file holding the broker password (read at start; trailing newline "
        "ignored), so that the password stays out of the settings.",
    )
    topic_prefix: str = Field(
        default="citybrain",
        title="Topic prefix",
        description="First level of every topic: <prefix>/available, <prefix>/events, …",
        min_length=1,
        max_length=128,
    )
    tls: bool | MqttTls = Field(
        default=False,
        title="TLS",
        description="true for TLS with the system's CAs, or a mapping with ca_file, cert_file, "
        "key_file; mqtts:// URLs turn it on.",
    )
    protocol: Literal["3.1.1", "5"] = Field(
        default="3.1.1", title="MQTT version", description="3.1.1 or 5."
    )
    client_id: str | None = Field(
        default=None,
        title="Client id",
        description="absent = citybrain-<random>; two clients with one id push each other off.",
        max_length=128,
    )
    keepalive_seconds: int = Field(default=30, ge=5, le=3600, title="Keep-alive")
    discovery: bool = Field(
        default=False,
        title="Home Assistant discovery",
        description="Announce each camera's health and zone occupancy as Home Assistant sensors.",
    )
    discovery_prefix: str = Field(
        default="homeassistant", min_length=1, max_length=128, title="Discovery prefix"
    )
    queue_max_messages: int = Field(
        default=100_000,
        ge=10,
        le=100_000_000,
        title="Queue bound (messages)",
        description="Messages kept on disk while the broker is away; beyond it the oldest are "
        "dropped and counted (citybrain_mqtt_dropped_total).",
    )
    queue_max_mb: float = Field(
        default=64.0, gt=0, le=100_000, title="Queue bound (MiB)", description="The same in MiB."
    )
    reconnect_min_seconds: float = Field(default=0.5, gt=0, le=60, title="First reconnect delay")
    reconnect_max_seconds: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        title="Longest reconnect delay",
        description="Reconnect delays double from the first up to this, with jitter.",
    )

    @field_validator("url")
    @classmethod
    def _broker_url(cls, url: str) -> str:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError as exc:
            raise ValueError(f"invalid broker URL: {exc}") from None
        if parts.scheme not in _SCHEMES:
            raise ValueError(f"broker URL scheme must be mqtt or mqtts, not {parts.scheme!r}")
        if not parts.hostname:
            raise ValueError("broker URL has no host")
        if parts.username is not None or parts.password is not None:
            raise ValueError(
                "no credentials in the broker URL: use mqtt.username and mqtt.password_file"
            )
        if parts.path not in ("", "/") or parts.query:
            raise ValueError("broker URL takes no path or query")
        return url

    @field_validator("topic_prefix", "discovery_prefix")
    @classmethod
    def _topic_level(cls, prefix: str) -> str:
        if (
            any(c in prefix for c in "+#\x00")
            or prefix.startswith(("$", "/"))
            or prefix.endswith("/")
        ):
            raise ValueError("must not contain + # or NUL, start with $ or /, or end with /")
        return prefix

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or _SCHEMES[parts.scheme]

    @property
    def tls_options(self) -> MqttTls | None:
        """The TLS set-up to use, or ``None`` for plain TCP."""
        if isinstance(self.tls, MqttTls):
            return self.tls
        if self.tls or urlsplit(self.url).scheme == "mqtts":
            return MqttTls()
        return None

    @property
    def queue_max_bytes(self) -> int:
        return int(self.queue_max_mb * 1024 * 1024)


class WebhookSettings(BaseModel):
    """The ``webhooks`` section of the server settings (every field has a default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, title="Attempt timeout",
        description="Seconds one attempt may take (connect, send, answer).",
    )  # fmt: skip
    retry_first_seconds: float = Field(
        default=1.0, gt=0, le=3600, title="First retry delay",
        description="Delays double from this after each failure, with jitter.",
    )  # fmt: skip
    retry_max_seconds: float = Field(default=600.0, gt=0, le=86400, title="Longest retry delay")
    give_up_hours: float = Field(
        default=24.0, gt=0, le=24 * 14, title="Give-up time",
        description="A delivery failing this long is given up and its webhook marked failing.",
    )  # fmt: skip
    concurrency: int = Field(
        default=16, ge=1, le=1024, title="Parallel webhooks",
        description="Webhooks attempted at once (each webhook's deliveries go one by one).",
    )  # fmt: skip
    max_pending: int = Field(
        default=100_000, ge=1, le=10_000_000, title="Queue bound per webhook",
        description="Pending deliveries per webhook; beyond it new ones are dropped and counted "
        "(citybrain_webhook_dropped_total).",
    )  # fmt: skip
