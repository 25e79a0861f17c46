"""The exceptions citybrain raises, in one hierarchy.

Catch :class:`CitybrainError` for any of them. Each message names the thing that is wrong (a file
and line, a source URL with its credentials redacted, a model file) and what to do about it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

__all__ = [
    "CitybrainError",
    "ConfigError",
    "ConfigProblem",
    "CorruptSourceError",
    "ModelError",
    "SourceError",
    "SourceNotFoundError",
    "SourceUnreachableError",
    "StoreError",
]


class CitybrainError(Exception):
    """Base class of every error citybrain raises on purpose."""


class ConfigProblem(NamedTuple):
    """One thing wrong in a config: where (``("rules", "intruders", "zone")``) and what."""

    loc: tuple[str | int, ...]
    message: str


class ConfigError(CitybrainError):
    """A configuration file or value is invalid; the message names file, line and field.

    Attributes:
        problems: each problem with its field path (empty where the whole file is at fault), so
            that an API can name ``body.config.<path>`` without parsing the message.
    """

    def __init__(self, message: str, problems: Sequence[ConfigProblem] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


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
