"""Validated configuration: one Pydantic model per section, loaded from YAML with line numbers.

:func:`load_config` / :func:`parse_config` read a file (``analyze``, ``camera add``);
:func:`stored_camera_config` validates what the store holds for a camera. All raise
:class:`~citybrain.errors.ConfigError` with the field path of each problem.
"""

from citybrain.config.load import (
    config_for_store,
    load_config,
    parse_config,
    stored_camera_config,
)
from citybrain.config.model import CameraConfig

__all__ = [
    "CameraConfig",
    "config_for_store",
    "load_config",
    "parse_config",
    "stored_camera_config",
]
