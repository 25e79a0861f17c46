"""The errors of city-data import, footprints and calibration.

Both derive from :class:`citybrain.errors.CitybrainError`; a caller that handles every citybrain
error needs nothing new.
"""

from __future__ import annotations

from collections.abc import Sequence

from citybrain.errors import CitybrainError

__all__ = ["GeometryError", "Problems", "SiteImportError"]

#: More problems than this in one file are summarised: the first ones show what is wrong.
MAX_PROBLEMS = 20


class SiteImportError(CitybrainError):
    """A file of sites was refused; nothing of it was kept.

    ``problems`` has one line per problem, each naming the row (``line 4``) or the feature
    (``feature 2``) and the field; the message is the file's label and those lines.
    """

    def __init__(self, label: str, problems: Sequence[str], *, more: int = 0) -> None:
        self.label = label
        self.problems = tuple(problems)
        self.more = more
        lines = [f"{label}: {problem}" for problem in self.problems]
        if more:
            lines.append(f"{label}: ... and {more} more problem(s)")
        super().__init__("\n".join(lines))


class GeometryError(CitybrainError, ValueError):
    """A footprint, calibration or geometry argument is unusable; the message says why."""


class Problems:
    """Problems found in one file: the first :data:`MAX_PROBLEMS` kept, all of them counted."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.count = 0

    def add(self, where: str, field: str, message: str) -> None:
        """One problem of record ``where`` (``line 4``, ``feature 2``) in ``field``."""
        self.count += 1
        if len(self.lines) < MAX_PROBLEMS:
            self.lines.append(f"{where}: {field}: {message}")

    def raise_if_any(self, label: str) -> None:
        """Refuse the file ``label`` if anything was wrong."""
        if self.count:
            raise SiteImportError(label, self.lines, more=self.count - len(self.lines))
