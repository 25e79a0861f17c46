"""What a re-import of a source changes: the change log of a refresh.

Pure: the sites a source had before, the sites of its new file, the time now and the time of the
previous refresh in; the sites added, changed, expired and removed out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import shapely

from citybrain.citydata.model import Site

__all__ = ["ChangeLog", "diff_sites"]


@dataclass(frozen=True)
class ChangeLog:
    """Site ids by what happened to them; ``unchanged`` counts the rest.

    Attributes:
        added: In the new file only.
        changed: In both, with a different name, kind, geometry, validity or attributes, and not
            expired.
        expired: In the new file, no longer valid now, but still valid (or not yet started) at
            the previous refresh, or before this file shortened its validity.
        removed: In the old sites only; a refresh deletes them.
        unchanged: How many are the same.
    """

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    expired: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: int = 0

    def as_dict(self) -> dict[str, object]:
        """For a JSON response or a log line."""
        return {
            "added": list(self.added),
            "changed": list(self.changed),
            "expired": list(self.expired),
            "removed": list(self.removed),
            "unchanged": self.unchanged,
        }


def diff_sites(
    old: Iterable[Site], new: Iterable[Site], *, now: datetime, since: datetime | None = None
) -> ChangeLog:
    """The change log of replacing a source's ``old`` sites by ``new`` at ``now``.

    Args:
        old: The sites the store holds for the source.
        new: The sites of the new file (the same source).
        now: The time of this refresh (aware).
        since: The time of the previous refresh; ``None`` = only validity changes in this file
            count as expiry.
    """
    before = {site.source_id: site for site in old}
    after = {site.source_id: site for site in new}
    added, expired = [], []
    kept: list[tuple[Site, Site]] = []
    for source_id, site in after.items():
        previous = before.get(source_id)
        if previous is None:
            added.append(site.id)
        elif _expired(previous, site, now=now, since=since):
            expired.append(site.id)
        else:
            kept.append((previous, site))
    same = _same_content(kept)
    changed = [site.id for (_, site), equal in zip(kept, same, strict=True) if not equal]
    removed = [site.id for source_id, site in before.items() if source_id not in after]
    unchanged = len(kept) - len(changed)
    return ChangeLog(tuple(added), tuple(changed), tuple(expired), tuple(removed), unchanged)


def _same_content(pairs: list[tuple[Site, Site]]) -> list[bool]:
    """:meth:`Site.same_content` of each pair, the geometries compared in one call (a re-import
    of 100,000 sites compares 100,000 pairs)."""
    if not pairs:
        return []
    old = np.asarray([a.geometry for a, _ in pairs], dtype=object)
    new = np.asarray([b.geometry for _, b in pairs], dtype=object)
    geometry = shapely.equals_exact(old, new, tolerance=0.0).tolist()
    return [g and a.same_fields(b) for (a, b), g in zip(pairs, geometry, strict=True)]


def _expired(previous: Site, site: Site, *, now: datetime, since: datetime | None) -> bool:
    if site.valid_to is None or site.valid_to > now:
        return False
    if since is not None and site.valid_to > since:
        return True  # its end fell between the two refreshes
    # Or this file moved its end into the past.
    return previous.valid_to is None or previous.valid_to > now
