"""The server's outbound network settings: which destinations it may contact."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork

__all__ = ["NetworkSettings"]


class NetworkSettings(BaseModel):
    """The ``network`` section of the server settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allow: tuple[IPvAnyNetwork, ...] = Field(
        default=(),
        title="Allowed networks",
        description="CIDR ranges the server may contact even where a broader entry or a "
        "built-in rule (link-local, metadata services) denies them; the most specific entry "
        "decides.",
        examples=[["169.254.10.0/24"]],
    )
    deny: tuple[IPvAnyNetwork, ...] = Field(
        default=(),
        title="Denied networks",
        description="CIDR ranges the server must not contact (camera sources, webhooks, MQTT); "
        "`[0.0.0.0/0, ::/0]` with some `allow` entries makes an allow-list.",
        examples=[["10.0.0.0/8", "0.0.0.0/0"]],
    )
