"""Server settings: one YAML file validated like camera configs (file, line and field in errors)."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, IPvAnyNetwork, ValidationError

from citybrain.config.console import ConsoleSettings
from citybrain.config.network import NetworkSettings
from citybrain.config.outbound import MqttSettings, WebhookSettings
from citybrain.config.sites import SiteKind, SiteRuleTemplate, SiteSourceSettings
from citybrain.errors import ConfigError

__all__ = [
    "LimitSettings",
    "ServerSettings",
    "SourceSettings",
    "default_data_dir",
    "load_settings",
]


def default_data_dir() -> Path:
    """``$CITYBRAIN_DATA``, else ``./citybrain-data``."""
    return Path(os.environ.get("CITYBRAIN_DATA") or "citybrain-data")


class SourceSettings(BaseModel):
    """The ``sources`` section: where camera file sources may lie."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file_roots: tuple[Path, ...] = Field(
        default=(),
        title="File roots",
        description="Folders under which a file source may lie (resolved, symlinks followed); "
        "absent = none, so file sources are refused, except the samples folder while demo "
        "cameras run.",
        examples=[["/srv/video"]],
    )


class LimitSettings(BaseModel):
    """The ``limits`` section: how much one request or one user may take."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    json_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        le=64 * 1_048_576,
        title="JSON body limit",
        description="Largest request body (bytes) outside site imports (`site_import_max_mb`); "
        "refused before it is read.",
    )
    live_streams_per_user: int = Field(
        default=8,
        ge=1,
        le=1000,
        title="Live streams per user",
        description="Live video streams (MJPEG, the live wall) one user may hold open at once.",
    )


class ServerSettings(BaseModel):
    """Everything ``citybrain serve`` needs besides the cameras (which live in the store)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path = Field(
        default_factory=default_data_dir,
        title="Data directory",
        description="Database (SQLite default), media (snapshots), journals and the token key.",
    )
    database_url: str | None = Field(
        default=None,
        title="Database URL",
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db; "
        "absent = SQLite in the data directory.",
    )
    host: str = Field(default="127.0.0.1", title="Host", description="Address to listen on.")
    port: int = Field(default=8000, ge=1, le=65535, title="Port", description="TCP port.")
    retention_hours: float = Field(
        default=72.0,
        gt=0,
        le=24 * 366,
        title="Retention",
        description="Events, snapshots and audit entries older than this are deleted.",
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        title="Worker processes",
        description="Processes that run the cameras; each shares one batched detector.",
    )
    detector_threads: int | None = Field(
        default=None,
        ge=1,
        le=64,
        title="Detector threads",
        description="ONNX Runtime threads per worker; absent = its default.",
    )
    worker_niceness: int = Field(
        default=5,
        ge=0,
        le=19,
        title="Worker niceness",
        description="How much lower the camera workers' CPU priority is than the server's: "
        "when analysis needs more CPU than there is, cameras drop frames while the console, "
        "the API and the alerts stay responsive. 0 = the same priority.",
    )
    demo: bool | None = Field(
        default=None,
        title="Demo cameras",
        description="Add a looping demo camera per development clip in CITYBRAIN_SAMPLES; "
        "absent = only when the store has no cameras yet and CITYBRAIN_SAMPLES is set.",
    )
    token_hours: float = Field(
        default=12.0,
        gt=0,
        le=24 * 30,
        title="Login token lifetime",
        description="Hours a login's bearer token stays valid.",
    )
    live_fps: float = Field(
        default=2.0,
        gt=0,
        le=15,
        title="Live frame rate",
        description="Anonymised frames per second each camera publishes for live views.",
    )
    console: ConsoleSettings = Field(
        default_factory=ConsoleSettings,
        title="Console",
        description="The browser console: an optional XYZ map tile URL and its attribution.",
    )
    # --- what the server trusts and refuses (hardening) ---
    network: NetworkSettings = Field(
        default_factory=NetworkSettings,
        title="Network",
        description="Which destinations the server may contact (camera sources, webhooks, "
        "MQTT): `allow` and `deny` CIDR lists. By default link-local addresses (cloud metadata "
        "services included) and the server's own address and port are refused; loopback and "
        "private ranges are allowed, since a restreamer on the same box is common.",
    )
    sources: SourceSettings = Field(
        default_factory=SourceSettings,
        title="Camera sources",
        description="Where a file source may lie.",
    )
    trusted_proxies: tuple[IPvAnyNetwork, ...] = Field(
        default=(),
        title="Trusted proxies",
        description="Addresses of reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto headers are believed; absent = none (the peer's address is the "
        "client's).",
        examples=[["127.0.0.1/32"]],
    )
    limits: LimitSettings = Field(
        default_factory=LimitSettings,
        title="Limits",
        description="Request body sizes and concurrent streams.",
    )
    # --- city data (issue 12) ----------------------------------------------------------------
    site_rules: dict[SiteKind, list[SiteRuleTemplate]] = Field(
        default_factory=dict,
        title="Rules from data",
        description="Site kind -> rule templates in the camera config's rule format, added to "
        "every camera that sees an active site of that kind, e.g. construction_permit: "
        "[{kind: hardhat_required, seconds: 5}].",
    )
    coverage_kinds: list[SiteKind] | None = Field(
        default=None,
        title="Coverage kinds",
        description="Site kinds GET /api/coverage and `citybrain sites coverage` report on by "
        "default; absent = every kind.",
    )
    site_import_max_mb: float = Field(
        default=64.0,
        gt=0,
        le=1024,
        title="Largest site import",
        description="Megabytes a file of sites may have (uploads, the command line, refreshes).",
    )
    site_sources: list[SiteSourceSettings] = Field(
        default_factory=list,
        title="Site refreshes",
        description="Sources of sites read on a schedule (a folder or an http(s) URL).",
    )

    # --- handing incidents on (issue 14: MQTT and signed webhooks) ---
    mqtt: MqttSettings | None = Field(
        default=None,
        title="MQTT",
        description="The broker events, camera health, zone occupancy and line counts are "
        "published to (url, username, password_file, topic_prefix, tls, …); absent = MQTT off.",
    )
    webhooks: WebhookSettings = Field(
        default_factory=WebhookSettings,
        title="Webhooks",
        description="Attempt timeout, retry delays, give-up time (24 h) and queue bound of the "
        "webhook deliveries; the webhooks themselves are managed through /api/webhooks.",
    )
    public_url: AnyHttpUrl | None = Field(
        default=None,
        title="Public URL",
        description="The server's address as others reach it: makes snapshot URLs in MQTT and "
        "webhook messages absolute, and is the CloudEvents `source`; absent = paths only.",
        examples=["https://citybrain.example.org"],
    )

    @property
    def public_base(self) -> str | None:
        """:attr:`public_url` without its trailing slash (``None`` if not set)."""
        return None if self.public_url is None else str(self.public_url).rstrip("/")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'citybrain.db').resolve()}"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def site_import_max_bytes(self) -> int:
        return int(self.site_import_max_mb * 1024 * 1024)


def load_settings(path: Path | None, **overrides: object) -> ServerSettings:
    """Settings from ``path`` (optional) with command-line ``overrides`` (``None`` values skipped).

    Raises:
        ConfigError: the file is unreadable or invalid; the message names file, line and field.
    """
    data: dict[str, object] = {}
    lines: dict[str, int] = {}
    if path is not None:
        try:
            node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read settings: {exc}") from None
        if node is not None:
            if not isinstance(node, yaml.MappingNode):
                raise ConfigError(f"{path}:1: settings must be a mapping")
            loader = yaml.SafeLoader("")
            for key_node, value_node in node.value:
                key = str(loader.construct_object(key_node))
                lines[key] = key_node.start_mark.line + 1
                data[key] = loader.construct_object(value_node, deep=True)
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return ServerSettings.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            field = ".".join(str(p) for p in error["loc"])
            top = str(error["loc"][0]) if error["loc"] else ""
            where = f"{path}:{lines.get(top, 1)}" if path is not None else "settings"
            problems.append(f"{where}: {field}: {error['msg']}")
        raise ConfigError("\n".join(problems)) from None
