"""The exceptions citybrain raises, in one hierarchy.

Catch :class:`CitybrainError` for any of them. Each message names the thing that is wrong (a file
and line, a source URL with its credentials redacted, a model file) and what to do about it.
"""

from __future__ import annotations

__all__ = [
    "CitybrainError",
    "ConfigError",
    "CorruptSourceError",
    "ModelError",
    "SourceError",
    "SourceNotFoundError",
    "SourceUnreachableError",
    "StoreError",
]


class CitybrainError(Exception):
    """Base class of every error citybrain raises on purpose."""


class ConfigError(CitybrainError):
    """A configuration file or value is invalid; the message names file, line and field."""


class SourceError(CitybrainError):
    """A video source cannot be read."""


class SourceNotFoundError(SourceError):
    """A file source does not exist."""


class SourceUnreachableError(SourceError):
    """A network source cannot be reached (after the configured retries)."""


class CorruptSourceError(SourceError):
    """A source opened but its container or stream cannot be decoded."""


class ModelError(CitybrainError):
    """A model file is missing, fails its checksum, or cannot be loaded."""


class StoreError(CitybrainError):
    """The database or media store failed."""
