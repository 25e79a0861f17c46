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
        analysis_source: the stream analysed instead of ``source`` (a substream), if any.
    """

    camera_id: int
    name: str
    source: str
    config: CameraConfig
    realtime: bool
    loop: bool
    analysis_source: str | None = None

    @property
    def safe_source(self) -> str:
        """The source analysed, with its credentials redacted."""
        return redact_url(self.analysis_source or self.source)

    def start_command(self) -> StartCamera:
        return StartCamera(
            camera_id=self.camera_id,
            source=self.source,
            config=self.config,
            realtime=self.realtime,
            loop=self.loop,
            analysis_source=self.analysis_source,
        )


def plan_camera(
    camera_id: int,
    name: str,
    source: str,
    config: Mapping[str, Any],
    analysis_source: str | None = None,
) -> CameraPlan:
    """The plan of a stored camera.

    A file source is played in real time and looped: in the server a camera is a continuous
    stream, and a file that ran once and stopped would show as a dead camera. With an analysis
    source, that is the stream the worker reads (the viewing ``source`` is checked all the same).

    Raises:
        ConfigError: the config is invalid (:attr:`~citybrain.errors.ConfigError.problems`
            names each field).
        SourceError: the source's URL scheme is not supported.
    """
    validated = stored_camera_config(name, config)
    source_kind(source)  # a viewing source of an unsupported kind is refused all the same
    is_file = not source_kind(analysis_source or source).is_network
    return CameraPlan(
        camera_id=camera_id,
        name=name,
        source=source,
        config=validated,
        realtime=is_file,
        loop=is_file,
        analysis_source=analysis_source,
    )
