"""A stored camera as the runtime runs it: its validated config and how its source is read.

The store keeps a camera's analysis settings as the JSON of a
:class:`~citybrain.config.CameraConfig`, minus what the camera row already says (its name and
source). The supervisor validates it once, here, and the plan carries the validated config to
the worker (Pydantic models pickle): the worker neither parses nor validates it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from citybrain.config import CameraConfig, stored_camera_config
from citybrain.ingest.urls import redact_url, source_kind
from citybrain.runtime.messages import StartCamera

__all__ = ["CameraPlan", "plan_camera"]


@dataclass(frozen=True, slots=True)
class CameraPlan:
    """What a worker needs to run one camera; two equal plans need no restart.

    Attributes:
        camera_id: the camera's id in the store.
        name: its name (for logs).
        source: its source, credentials included (never logged: see :attr:`safe_source`).
        config: the validated config (models compare by value).
        realtime: pace a file source like a camera.
        loop: replay a file source forever.
    """

    camera_id: int
    name: str
    source: str
    config: CameraConfig
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
            config=self.config,
            realtime=self.realtime,
            loop=self.loop,
        )


def plan_camera(camera_id: int, name: str, source: str, config: Mapping[str, Any]) -> CameraPlan:
    """The plan of a stored camera.

    A file source is played in real time and looped: in the server a camera is a continuous
    stream, and a file that ran once and stopped would show as a dead camera.

    Raises:
        ConfigError: the config is invalid (:attr:`~citybrain.errors.ConfigError.problems`
            names each field).
        SourceError: the source's URL scheme is not supported.
    """
    validated = stored_camera_config(name, config)
    is_file = not source_kind(source).is_network
    return CameraPlan(
        camera_id=camera_id,
        name=name,
        source=source,
        config=validated,
        realtime=is_file,
        loop=is_file,
    )
