"""Validated configuration: one Pydantic model per section, loaded from YAML with line numbers."""

from citybrain.config.load import load_config, parse_config
from citybrain.config.model import CameraConfig

__all__ = ["CameraConfig", "load_config", "parse_config"]
