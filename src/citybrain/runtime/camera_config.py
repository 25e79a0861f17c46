"""A stored camera as the runtime runs it: its validated config and how its source is read.

The store keeps a camera's analysis settings as the JSON of a
:class:`~citybrain.config.CameraConfig`, minus what the camera row already says: the
``camera.name`` comes from the row (a user never types it twice), so does the source.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from citybrain.config.model import CameraConfig
from citybrain.errors import ConfigError
from citybrain.ingest.urls import redact_url, source_kind
from citybrain.runtime.messages import StartCamera

__all__ = ["CameraPlan", "camera_config", "config_from_command", "plan_camera"]


def camera_config(name: str, config: Mapping[str, Any]) -> CameraConfig:
    """Validate a stored camera ``config`` for the camera called ``name``.

    The ``camera`` section is optional; its ``name`` is always the row's and its ``fps``
    defaults to the engine's analysis rate. Anonymisation is on unless the config turns it off.

    Raises:
        ConfigError: the config is invalid; the message names the camera and each field.
    """
    data = dict(config)
    section = dict(data.get("camera") or {})
    section["name"] = name
    # The row's source is authoritative; a copy in the config would only go stale.
    section.pop("source", None)
    data["camera"] = section
    try:
        return CameraConfig.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in error['loc']) or '(top level)'}: {error['msg']}"
            for error in exc.errors(include_url=False)
        ]
        raise ConfigError(f"camera {name!r}: invalid config: " + "; ".join(problems)) from None


@dataclass(frozen=True, slots=True)
class CameraPlan:
    """What a worker needs to run one camera; two equal plans need no restart.

    Attributes:
        camera_id: the camera's id in the store.
        name: its name (for logs).
        source: its source, credentials included (never logged: see :attr:`safe_source`).
        config_json: the validated config, as canonical JSON.
        realtime: pace a file source like a camera.
        loop: replay a file source forever.
    """

    camera_id: int
    name: str
    source: str
    config_json: str
    realtime: bool
    loop: bool

    @property
    def safe_source(self) -> str:
        """The source with its credentials redacted."""
        return redact_url(self.source)

    def start_command(self) -> StartCamera:
        return StartCamera(
            camera_id=self.camera_id,
            source=self.source,
            config_json=self.config_json,
            realtime=self.realtime,
            loop=self.loop,
        )


def plan_camera(camera_id: int, name: str, source: str, config: Mapping[str, Any]) -> CameraPlan:
    """The plan of a stored camera.

    A file source is played in real time and looped: in the server a camera is a continuous
    stream, and a file that ran once and stopped would show as a dead camera.

    Raises:
        ConfigError: the config is invalid.
        SourceError: the source's URL scheme is not supported.
    """
    validated = camera_config(name, config)
    is_file = not source_kind(source).is_network
    try:
        canonical = json.dumps(validated.model_dump(mode="json"), sort_keys=True)
    except (TypeError, ValueError) as exc:  # pragma: no cover - a validated model always dumps
        raise ConfigError(f"camera {name!r}: config cannot be serialised: {exc}") from exc
    return CameraPlan(
        camera_id=camera_id,
        name=name,
        source=source,
        config_json=canonical,
        realtime=is_file,
        loop=is_file,
    )


def config_from_command(command: StartCamera) -> CameraConfig:
    """The config a :class:`StartCamera` carries.

    Raises:
        ConfigError: the JSON does not validate (a server and worker of different versions).
    """
    try:
        return CameraConfig.model_validate_json(command.config_json)
    except ValidationError as exc:
        raise ConfigError(f"camera {command.camera_id}: invalid config: {exc}") from None
