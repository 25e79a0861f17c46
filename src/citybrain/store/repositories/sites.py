"""Sites: import (replace a source), read, search, delete; the camera-site join; the logs.

Spatial filters run in PostGIS on PostgreSQL (``area && envelope`` on the GiST index, then
``ST_Intersects``); on SQLite the four indexed bounds columns narrow the rows and Shapely decides.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import ColumnElement, and_, delete, func, insert, or_, select, text
from sqlalchemy.orm import Session

from citybrain.citydata import CoverageReport, Site, no_cyclic_gc
from citybrain.records.site import SiteAction, SiteChange, SiteImport, SiteRecord
from citybrain.store.repositories.site_coverage import site_coverage
from citybrain.store.repositories.site_rows import site_select, sites_from_rows
from citybrain.store.repositories.site_writes import ImportOutcome, record_refused, replace_source
from citybrain.store.schema import site_changes, site_imports, sites
from citybrain.store.types import SRID, ewkb_hexes, utc

__all__ = ["BBox", "ImportOutcome", "SitePage", "SiteRepo"]

K = TypeVar("K", bound=Hashable)
#: ``min_lon, min_lat, max_lon, max_lat`` (WGS 84 degrees).
BBox = tuple[float, float, float, float]
MAX_SITE_PAGE = 10_000


@dataclass(frozen=True, slots=True)
class SitePage:
    """A page of sites in id order; ``next_cursor`` continues after it (``None``: the end)."""

    items: list[SiteRecord]
    next_cursor: str | None


class SiteRepo:
    """Site rows in one session (the caller commits)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._postgres = session.get_bind().dialect.name == "postgresql"

    # --- writes ------------------------------------------------------------------------------

    def replace_source(
        self,
        *,
        source: str,
        sites: Sequence[Site],
        now: datetime,
        by: str | None,
        label: str,
        merged: int = 0,
        skipped: int = 0,
    ) -> ImportOutcome:
        """Make ``sites`` the source's sites; the change log and the import's row with them."""
        with no_cyclic_gc():  # 100,000 sites read back, compared and written
            return replace_source(
                self._session, source=source, new=sites, now=now, by=by, label=label,
                merged=merged, skipped=skipped,
            )  # fmt: skip

    def record_refused(
        self, *, source: str, now: datetime, by: str | None, label: str, problems: Sequence[str]
    ) -> SiteImport:
        """Note an import that was refused (its file's sites were not kept)."""
        return record_refused(
            self._session, source=source, now=now, by=by, label=label, problems=problems
        )

    def delete(self, *, site_id: str, now: datetime, by: str | None) -> bool:
        """Delete a site, logging ``removed``; ``False`` if there is no such site."""
        gone = self._session.execute(
            delete(sites).where(sites.c.id == site_id).returning(sites.c.source)
        ).first()
        if gone is None:
            return False
        self._session.execute(
            insert(site_changes).values(
                at=utc(now),
                source=gone.source,
                site_id=site_id,
                action=SiteAction.REMOVED.value,
                import_id=None,
                by=by,
            )
        )
        return True

    # --- reads -------------------------------------------------------------------------------

    def get(self, *, site_id: str) -> SiteRecord | None:
        """The site, or ``None``."""
        row = self._session.execute(select(sites).where(sites.c.id == site_id)).first()
        return None if row is None else SiteRecord.model_validate(row._mapping)

    def search(
        self,
        *,
        kinds: Collection[str] | None = None,
        active_at: datetime | None = None,
        bbox: BBox | None = None,
        cursor: str | None = None,
        limit: int = 1000,
    ) -> SitePage:
        """Sites of ``kinds``, valid at ``active_at``, touching ``bbox``, in id order.

        On SQLite the bounds filter is exact only in Shapely, after the page is read: a page
        may then hold fewer than ``limit`` sites while ``next_cursor`` still goes on.
        """
        clauses = self._filters(kinds, active_at, bbox)
        if cursor is not None:
            clauses.append(sites.c.id > cursor)
        query = select(sites).where(*clauses).order_by(sites.c.id).limit(limit)
        rows = self._session.execute(query).all()
        records = [SiteRecord.model_validate(row._mapping) for row in rows]
        if bbox is not None and not self._postgres and records:
            box = shapely.box(*bbox)
            hits = shapely.intersects(np.asarray([r.area for r in records], dtype=object), box)
            records = [r for r, hit in zip(records, hits, strict=True) if hit]
        next_cursor = rows[-1].id if len(rows) == limit else None
        return SitePage(records, next_cursor)

    def all_sites(
        self, *, kinds: Collection[str] | None = None, active_at: datetime | None = None
    ) -> builtins.list[Site]:
        """Every site (of ``kinds``, valid at ``active_at``), as the pure model."""
        query = select(*site_select(self._session)).where(*self._filters(kinds, active_at, None))
        return sites_from_rows(self._session.execute(query.order_by(sites.c.id)).all())

    def candidates(self, footprints: Mapping[K, BaseGeometry]) -> dict[K, builtins.list[Site]]:
        """For each footprint, the sites whose area it touches, valid at any time (callers
        filter by time themselves, so that starts and expiries need no query)."""
        keys = list(footprints)
        if not keys:
            return {}
        found = self._pairs([footprints[k] for k in keys])
        return {keys[i]: hits for i, hits in found.items()}

    def _pairs(self, shapes: Sequence[BaseGeometry]) -> dict[int, builtins.list[Site]]:
        if self._postgres:
            return self._pairs_postgis(shapes)
        out: dict[int, builtins.list[Site]] = {}
        loaded: dict[str, Site] = {}
        for i, shape in enumerate(shapes):
            query = select(*site_select(self._session)).where(*_bounds(shape.bounds))
            batch = sites_from_rows(self._session.execute(query).all())
            batch = [loaded.setdefault(site.id, site) for site in batch]
            if batch:
                hit = shapely.intersects(np.asarray([s.area for s in batch], dtype=object), shape)
                out[i] = [site for site, h in zip(batch, hit, strict=True) if h]
        return {i: hits for i, hits in out.items() if hits}

    def _pairs_postgis(self, shapes: Sequence[BaseGeometry]) -> dict[int, builtins.list[Site]]:
        """One query for all footprints: the GiST index finds each one's sites."""
        hexes = ewkb_hexes(shapes)
        pairs = self._session.execute(
            text(
                "SELECT f.i, s.id FROM unnest(CAST(:i AS int[]), CAST(:g AS text[])) AS f(i, g) "
                "JOIN sites s ON s.area && CAST(f.g AS geometry) "
                "AND ST_Intersects(s.area, CAST(f.g AS geometry))"
            ),
            {"i": list(range(len(shapes))), "g": hexes},
        ).all()
        ids = sorted({site_id for _, site_id in pairs})
        loaded: dict[str, Site] = {}
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            query = select(*site_select(self._session)).where(sites.c.id.in_(chunk))
            loaded |= {s.id: s for s in sites_from_rows(self._session.execute(query).all())}
        out: dict[int, builtins.list[Site]] = {}
        for index, site_id in sorted(pairs):
            if site_id in loaded:
                out.setdefault(index, []).append(loaded[site_id])
        return out

    def seen_by(self, *, site_id: str, footprints: Mapping[K, BaseGeometry]) -> builtins.list[K]:
        """Which of ``footprints`` touch the site (for a site's page)."""
        row = self._session.execute(select(sites.c.area).where(sites.c.id == site_id)).first()
        if row is None or not footprints:
            return []
        keys = list(footprints)
        shapes = np.asarray([footprints[k] for k in keys], dtype=object)
        hits = shapely.intersects(shapes, row.area)
        return [k for k, hit in zip(keys, hits, strict=True) if hit]

    def coverage(
        self,
        footprints: Mapping[Hashable, BaseGeometry | None],
        *,
        kinds: Collection[str] | None,
        at: datetime,
        geometry: bool = False,
    ) -> CoverageReport:
        """How much of each site (of ``kinds``, valid at ``at``) the footprints see, and totals;
        each site's uncovered part only with ``geometry``."""
        return site_coverage(self._session, footprints, kinds=kinds, at=at, geometry=geometry)

    # --- the logs ----------------------------------------------------------------------------

    def imports(
        self, *, source: str | None = None, by: str | None = None, limit: int = 100
    ) -> builtins.list[SiteImport]:
        """Imports, newest first."""
        query = select(site_imports).order_by(site_imports.c.at.desc(), site_imports.c.id.desc())
        if source is not None:
            query = query.where(site_imports.c.source == source)
        if by is not None:
            query = query.where(site_imports.c.by == by)
        rows = self._session.execute(query.limit(limit))
        return [SiteImport.model_validate(row._mapping) for row in rows]

    def changes(
        self,
        *,
        site_id: str | None = None,
        import_id: int | None = None,
        since: datetime | None = None,
        limit: int = 1000,
    ) -> builtins.list[SiteChange]:
        """Change-log entries, newest first."""
        query = select(site_changes).order_by(site_changes.c.at.desc(), site_changes.c.id.desc())
        if site_id is not None:
            query = query.where(site_changes.c.site_id == site_id)
        if import_id is not None:
            query = query.where(site_changes.c.import_id == import_id)
        if since is not None:
            query = query.where(site_changes.c.at >= utc(since))
        rows = self._session.execute(query.limit(limit))
        return [SiteChange.model_validate(row._mapping) for row in rows]

    # --- filters -----------------------------------------------------------------------------

    def _filters(
        self, kinds: Collection[str] | None, active_at: datetime | None, bbox: BBox | None
    ) -> builtins.list[ColumnElement[bool]]:
        c = sites.c
        clauses: list[ColumnElement[bool]] = []
        if kinds is not None:
            clauses.append(c.kind.in_(sorted(kinds)))
        if active_at is not None:
            at = utc(active_at)
            clauses.append(or_(c.valid_from.is_(None), c.valid_from <= at))
            clauses.append(or_(c.valid_to.is_(None), c.valid_to > at))
        if bbox is not None:
            if self._postgres:
                envelope = text(f"ST_MakeEnvelope(:x0, :y0, :x1, :y1, {SRID})").bindparams(
                    x0=bbox[0], y0=bbox[1], x1=bbox[2], y1=bbox[3]
                )
                clauses.append(
                    and_(c.area.op("&&")(envelope), func.ST_Intersects(c.area, envelope))
                )
            else:
                clauses.extend(_bounds(bbox))
        return clauses


def _bounds(bbox: BBox) -> builtins.list[ColumnElement[bool]]:
    """Sites whose bounds overlap ``bbox`` (the indexed prefilter of SQLite)."""
    x0, y0, x1, y1 = bbox
    c = sites.c
    return [c.min_lon <= x1, c.max_lon >= x0, c.min_lat <= y1, c.max_lat >= y0]
