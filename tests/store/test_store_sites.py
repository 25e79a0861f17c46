"""Sites in the store, on SQLite and on PostgreSQL with PostGIS: import, re-import with its change
log, nothing half-written, search, the camera-site join and coverage against hand-worked geometry.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import shapely
from sqlalchemy import delete as sa_delete
from sqlalchemy import insert as sa_insert
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citybrain.citydata import (
    NYC_DOB_PERMITS,
    Site,
    area_m2,
    area_m2_local,
    buffer_m,
    import_text,
    sector,
)
from citybrain.records.site import SiteRecord
from citybrain.store import SiteRepo, Store
from citybrain.store.repositories.site_writes import REINDEX_MIN
from citybrain.store.schema import sites
from citybrain.store.types import ewkb_hexes
from support.citydata_samples import NYC_PERSONAL_VALUES, nyc_csv, nyc_row

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
#: The sample permit at 350 West 42nd Street, and one in Queens.
MIDTOWN = (-73.991898, 40.757929)


def _permits(*rows: dict[str, str]) -> list[Site]:
    return import_text(nyc_csv(*rows), NYC_DOB_PERMITS).sites


def _import(store: Store, sites: list[Site], now: datetime = NOW) -> object:
    with store.session() as session:
        return SiteRepo(session).replace_source(
            source="nyc-dob-permits", sites=sites, now=now, by="admin", label="permits.csv"
        )


def test_site_record_has_every_field_of_the_pure_site() -> None:
    pure = {f.name for f in dataclasses.fields(Site)}
    assert pure <= set(SiteRecord.model_fields)


def test_import_reimport_and_change_log(store: Store) -> None:
    first = _permits(
        nyc_row(),
        nyc_row(job__="421987654", gis_latitude="40.7532", gis_longitude="-73.9348"),
        nyc_row(job__="500000001", gis_latitude="40.7000", gis_longitude="-73.9000"),
    )
    outcome = _import(store, first)
    assert outcome.changes.added == tuple(s.id for s in first)  # type: ignore[attr-defined]
    with store.session() as session:
        stored = SiteRepo(session).get(site_id="nyc-dob-permits.123456789")
    assert stored is not None
    assert stored.kind == "construction_permit"
    assert stored.attributes["permit_number"] == "123456789"
    assert stored.attributes["contractor"] == "ACME BUILDERS LLC"
    assert stored.valid_from == datetime(2024, 3, 15, 4, 0, tzinfo=UTC)  # New York midnight
    assert shapely.equals_exact(stored.area, first[0].area, tolerance=0.0)
    assert stored.min_lon < MIDTOWN[0] < stored.max_lon
    assert stored.imported_at == stored.updated_at == NOW

    later = NOW + timedelta(days=1)
    second = _permits(
        nyc_row(),  # unchanged
        nyc_row(job__="421987654", gis_latitude="40.7533", gis_longitude="-73.9348"),  # moved
        nyc_row(job__="600000002", gis_latitude="40.6500", gis_longitude="-73.9500"),  # new
    )  # 500000001 is gone
    outcome = _import(store, second, later)
    changes = outcome.changes  # type: ignore[attr-defined]
    assert changes.added == ("nyc-dob-permits.600000002",)
    assert changes.changed == ("nyc-dob-permits.421987654",)
    assert changes.removed == ("nyc-dob-permits.500000001",)
    assert changes.unchanged == 1
    record = outcome.record  # type: ignore[attr-defined]
    assert (record.added, record.changed, record.removed, record.unchanged) == (1, 1, 1, 1)
    with store.session() as session:
        repo = SiteRepo(session)
        assert repo.get(site_id="nyc-dob-permits.500000001") is None
        kept = repo.get(site_id="nyc-dob-permits.123456789")
        moved = repo.get(site_id="nyc-dob-permits.421987654")
        log = repo.changes(limit=50)
        imports = repo.imports(source="nyc-dob-permits")
    assert kept is not None and kept.updated_at == NOW  # unchanged rows are not rewritten
    assert moved is not None and moved.updated_at == later and moved.imported_at == NOW
    assert sorted((c.action, c.site_id) for c in log if c.at == later) == [
        ("added", "nyc-dob-permits.600000002"),
        ("changed", "nyc-dob-permits.421987654"),
        ("removed", "nyc-dob-permits.500000001"),
    ]
    assert [i.status for i in imports] == ["ok", "ok"] and imports[0].by == "admin"


def test_personal_fields_are_never_stored(store: Store) -> None:
    _import(store, _permits(nyc_row()))
    with store.engine.connect() as connection:
        dump = " ".join(
            str(value)
            for row in connection.execute(text("SELECT * FROM sites")).all()
            for value in row
        )
    assert "ACME BUILDERS LLC" in dump
    leaked = [value for value in NYC_PERSONAL_VALUES if value in dump]
    assert leaked == []


def test_a_failing_import_keeps_nothing_of_it(store: Store) -> None:
    _import(store, _permits(nyc_row()))
    good = _permits(nyc_row(job__="700000001", gis_latitude="40.70", gis_longitude="-73.90"))[0]
    # Two sites with one id: the database refuses the second, after the first was written.
    clash = dataclasses.replace(good, source_id="other")
    with pytest.raises(IntegrityError), store.session() as session:
        SiteRepo(session).replace_source(
            source="nyc-dob-permits", sites=[good, clash], now=NOW, by=None, label="bad.csv"
        )
    with store.session() as session:
        repo = SiteRepo(session)
        assert repo.get(site_id=good.id) is None
        assert repo.get(site_id="nyc-dob-permits.123456789") is not None
        assert [i.label for i in repo.imports()] == ["permits.csv"]
        assert {c.site_id for c in repo.changes()} == {"nyc-dob-permits.123456789"}


def test_search_by_kind_time_and_box_and_delete(store: Store) -> None:
    permits = _permits(
        nyc_row(),
        nyc_row(job__="421987654", gis_latitude="40.7532", gis_longitude="-73.9348",
                issuance_date="01/01/2030", expiration_date="01/01/2031"),
    )  # fmt: skip
    _import(store, permits)
    with store.session() as session:
        repo = SiteRepo(session)
        every = repo.search()
        assert [s.id for s in every.items] == sorted(s.id for s in permits)
        assert every.next_cursor is None
        now = repo.search(active_at=datetime(2024, 6, 1, tzinfo=UTC))
        assert [s.id for s in now.items] == ["nyc-dob-permits.123456789"]
        box = (MIDTOWN[0] - 0.001, MIDTOWN[1] - 0.001, MIDTOWN[0] + 0.001, MIDTOWN[1] + 0.001)
        assert [s.id for s in repo.search(bbox=box).items] == ["nyc-dob-permits.123456789"]
        assert repo.search(kinds=["road_works"]).items == []
        page = repo.search(limit=1)
        assert len(page.items) == 1 and page.next_cursor == page.items[0].id
        rest = repo.search(limit=1, cursor=page.next_cursor)
        assert [s.id for s in rest.items] == ["nyc-dob-permits.421987654"]
        assert repo.delete(site_id="nyc-dob-permits.123456789", now=NOW, by="ann")
        assert not repo.delete(site_id="nyc-dob-permits.123456789", now=NOW, by="ann")
        removed = [c for c in repo.changes() if c.action == "removed"]
    assert [(c.site_id, c.by, c.import_id) for c in removed] == [
        ("nyc-dob-permits.123456789", "ann", None)
    ]


def test_camera_site_join(store: Store) -> None:
    _import(store, _permits(nyc_row(), nyc_row(job__="421987654", gis_latitude="40.7532",
                                                gis_longitude="-73.9348")))  # fmt: skip
    towards = sector(MIDTOWN[0], MIDTOWN[1] - 0.0005, 0.0, 60.0, 80.0)  # looks north at it
    away = sector(MIDTOWN[0], MIDTOWN[1] - 0.0005, 180.0, 60.0, 80.0)  # looks south, away
    with store.session() as session:
        found = SiteRepo(session).candidates({1: towards, 2: away})
    assert {k: [s.id for s in v] for k, v in found.items()} == {1: ["nyc-dob-permits.123456789"]}
    assert found[1][0].attributes["permit_number"] == "123456789"


def _square(lon: float, lat: float, side_m: float) -> shapely.Polygon:
    """A square of ``side_m`` metres centred on (lon, lat), in degrees: the lengths of a degree
    of latitude and of longitude on the WGS 84 ellipsoid at ``lat`` (the textbook series)."""
    phi = math.radians(lat)
    metres_per_lat = 111_132.92 - 559.82 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)
    metres_per_lon = 111_412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi)
    half_lat, half_lon = side_m / 2 / metres_per_lat, side_m / 2 / metres_per_lon
    return shapely.box(lon - half_lon, lat - half_lat, lon + half_lon, lat + half_lat)


def test_coverage_against_hand_worked_geometry(store: Store) -> None:
    """A 100 m square; a camera at its centre looking north with a 180-degree view and 200 m of
    range sees exactly its northern half; a camera 1 km away sees none of it."""
    lon, lat = -73.98, 40.75
    square = _square(lon, lat, 100.0)
    site = Site(id="city.plaza", source="city", source_id="plaza", kind="facility",
                name="Plaza", geometry=square, area=square)  # fmt: skip
    with store.session() as session:
        SiteRepo(session).replace_source(source="city", sites=[site], now=NOW, by=None, label="x")
    cameras = {
        7: sector(lon, lat, 0.0, 180.0, 200.0),
        8: sector(lon + 0.02, lat, 0.0, 90.0, 100.0),
        9: None,
    }
    with store.session() as session:
        report = SiteRepo(session).coverage(cameras, kinds=["facility"], at=NOW, geometry=True)
    (result,) = report.sites
    assert result.site_id == "city.plaza" and result.cameras == (7,)
    assert result.area_m2 == pytest.approx(10_000.0, rel=0.001)
    assert result.area_m2 == pytest.approx(area_m2(square), rel=0.002)
    assert result.share == pytest.approx(0.5, abs=0.002)
    assert result.covered_m2 == pytest.approx(5_000.0, rel=0.004)
    south = shapely.box(square.bounds[0], square.bounds[1], square.bounds[2], lat)
    assert shapely.hausdorff_distance(result.uncovered, south) < 1e-7  # about a centimetre
    assert report.total.share == pytest.approx(0.5, abs=0.002)
    assert report.kinds["facility"].sites == 1
    with store.session() as session:
        other = SiteRepo(session).coverage(cameras, kinds=["road_works"], at=NOW)
        plain = SiteRepo(session).coverage(cameras, kinds=None, at=NOW)
    assert other.sites == [] and other.total.sites == 0
    assert plain.sites[0].uncovered.is_empty  # no outline asked for


def test_a_permit_that_ran_out_between_refreshes_is_logged_expired(store: Store) -> None:
    [permit] = _permits(nyc_row())  # valid until 2025-03-14 (New York), the sample's expiry
    assert permit.valid_to is not None
    _import(store, [permit], now=permit.valid_to - timedelta(days=1))
    outcome = _import(store, [permit], now=permit.valid_to + timedelta(days=1))
    assert outcome.changes.expired == (permit.id,)  # type: ignore[attr-defined]
    again = _import(store, [permit], now=permit.valid_to + timedelta(days=2))
    assert again.changes.expired == () and again.changes.unchanged == 1  # type: ignore[attr-defined]
    with store.session() as session:
        actions = [c.action for c in SiteRepo(session).changes(site_id=permit.id)]
    assert actions == ["expired", "added"]


_SHAPES = [
    shapely.Point(-73.99, 40.76),
    shapely.LineString([(13.40, 52.52), (13.41, 52.53)]),
    shapely.box(0.0, 0.0, 1.0, 1.0),
    shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 3)]),
    shapely.GeometryCollection([shapely.Point(1, 2), shapely.LineString([(0, 0), (1, 1)])]),
    shapely.Point(1.0, 2.0, 3.0),
]


def test_ewkb_hexes_are_what_geos_and_postgis_write(store: Store) -> None:
    hexes = ewkb_hexes(_SHAPES)
    # GEOS's own EWKB writer, given the SRID on each geometry (the slow way).
    stamped = shapely.set_srid(np.asarray(_SHAPES, dtype=object), 4326)
    assert hexes == [w.hex() for w in shapely.to_wkb(stamped, include_srid=True, byte_order=1)]
    assert hexes[0] == "0101000020e6100000" + shapely.to_wkb(_SHAPES[0], byte_order=1)[5:].hex()
    if store.engine.dialect.name != "postgresql":
        return
    with store.engine.connect() as connection:
        for shape, value in zip(_SHAPES, hexes, strict=True):
            row = connection.execute(
                text(
                    "SELECT ST_SRID(g), encode(ST_AsEWKB(g, 'NDR'), 'hex'), ST_AsText(g) "
                    "FROM (SELECT CAST(:g AS geometry) AS g) AS t"
                ),
                {"g": value},
            ).one()
            assert row[0] == 4326
            assert row[1] == value  # PostGIS writes back exactly what it read
            assert shapely.equals_exact(shapely.from_wkt(row[2]), shape, tolerance=0)


def _odd_sites() -> list[Site]:
    """Sites with every kind of value the bulk write must carry exactly: text with quotes,
    backslashes, tabs, line breaks and non-ASCII; null, numeric and boolean attributes; open and
    closed validity; points with a radius and polygons without; a multipolygon."""
    square = shapely.box(13.40, 52.52, 13.401, 52.521)
    two = shapely.MultiPolygon([square, shapely.box(13.41, 52.52, 13.411, 52.521)])
    point = shapely.Point(-73.991898, 40.757929)
    return [
        Site(
            id="odd.1", source="odd", source_id="1", kind="facility",
            name='Straße "Nord"\t\\ 1\nHof', geometry=point, area=buffer_m(point, 30.0),
            radius_m=30.0, valid_from=NOW - timedelta(days=3), valid_to=NOW + timedelta(days=3),
            attributes={"note": "a\\b\t\"c\"\r\nd", "n": 3, "x": 0.1, "ok": True, "none": None,
                        "emoji": "\u2603"},
            key_attributes=("note", "n"),
        ),
        Site(
            id="odd.2", source="odd", source_id="2", kind="restricted_area", name="",
            geometry=square, area=square, attributes={},
        ),
        Site(
            id="odd.3", source="odd", source_id="3", kind="road_works", name="zwei",
            geometry=two, area=two, valid_to=datetime(2030, 1, 1, tzinfo=UTC),
            attributes={"list": "[1,2]"}, key_attributes=("list",),
        ),
    ]  # fmt: skip


def test_bulk_write_keeps_every_value_exactly(store: Store) -> None:
    # The bulk paths (binary COPY on PostgreSQL, executemany on SQLite) and the column-wise
    # read back give the very sites that went in, on both databases.
    sites = _odd_sites()
    with store.session() as session:
        SiteRepo(session).replace_source(
            source="odd", sites=sites, now=NOW, by="admin", label="odd.csv"
        )
    with store.session() as session:
        repo = SiteRepo(session)
        back = {site.id: site for site in repo.all_sites()}
        records = {site.id: repo.get(site_id=site.id) for site in sites}
    for site in sites:
        got = back[site.id]
        assert got == dataclasses.replace(site, geometry=got.geometry, area=got.area)
        assert shapely.equals_exact(got.geometry, site.geometry, tolerance=0.0)
        assert shapely.equals_exact(got.area, site.area, tolerance=0.0)
        assert got.valid_from is None or got.valid_from.tzinfo is UTC
        record = records[site.id]
        assert record is not None
        assert record.attributes == site.attributes and record.name == site.name
        assert (record.min_lon, record.min_lat, record.max_lon, record.max_lat) == site.area.bounds
        assert record.area_m2 == pytest.approx(area_m2(site.area), rel=1e-4)
        assert record.imported_at == record.updated_at == NOW
    # Re-importing the same sites finds nothing changed: what was read back equals the file.
    with store.session() as session:
        outcome = SiteRepo(session).replace_source(
            source="odd", sites=sites, now=NOW, by="admin", label="odd.csv"
        )
    assert outcome.changes.unchanged == 3 and not outcome.changes.changed


def _indexes(store: Store) -> list[tuple[str, str]]:
    with store.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'sites'")
        ).all()
    return sorted((row[0], row[1]) for row in rows)


def _exclusive_lock_held(session: Session) -> bool:
    return bool(
        session.scalar(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = pg_backend_pid() "
                "AND relation = 'sites'::regclass AND mode = 'AccessExclusiveLock')"
            )
        )
    )


def test_a_large_first_import_builds_the_indexes_after_its_copy(store: Store) -> None:
    rows = [
        nyc_row(job__=str(800_000_000 + i), gis_latitude=f"{40.70 + (i // 40) * 0.001:.6f}",
                gis_longitude=f"{-74.00 + (i % 40) * 0.001:.6f}")
        for i in range(REINDEX_MIN)
    ]  # fmt: skip
    permits = _permits(*rows)
    postgres = store.engine.dialect.name == "postgresql"
    before = _indexes(store) if postgres else []
    with store.session() as session:
        outcome = SiteRepo(session).replace_source(
            source="nyc-dob-permits", sites=permits, now=NOW, by="admin", label="p.csv"
        )
        # An empty table: locked until the commit, its indexes built after the COPY.
        assert not postgres or _exclusive_lock_held(session)
    assert len(outcome.changes.added) == REINDEX_MIN
    if postgres:
        assert _indexes(store) == before  # every index back, as it was defined
        assert any("gist" in definition for _, definition in before)
    # The GiST index (PostgreSQL) and the bounds (SQLite) find the sites a footprint touches.
    footprint = shapely.box(-73.9955, 40.7045, -73.9925, 40.7065)
    expected = {s.id for s in permits if s.area.intersects(footprint)}
    with store.session() as session:
        found = SiteRepo(session).candidates({"cam": footprint})
        assert {s.id for s in found["cam"]} == expected and len(expected) >= 4
        if postgres:  # the rebuilt GiST index is valid: the planner can use it
            session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = session.execute(
                text("EXPLAIN SELECT id FROM sites WHERE area && ST_MakeEnvelope(0,0,1,1,4326)")
            ).all()
            assert "ix_sites_area_gist" in " ".join(str(row[0]) for row in plan)
    # A re-import of a table that has sites takes no table lock: readers go on.
    moved = [dataclasses.replace(s, name=s.name + " (moved)") for s in permits[:10]]
    with store.session() as session:
        outcome = SiteRepo(session).replace_source(
            source="nyc-dob-permits", sites=moved + permits[10:], now=NOW, by="admin",
            label="p.csv",
        )  # fmt: skip
        assert not postgres or not _exclusive_lock_held(session)
    assert len(outcome.changes.changed) == 10


def _raw_rows(store: Store) -> list[tuple[object, ...]]:
    """Every column of every site as the database holds it (geometry as EWKB, JSON and times
    as text on SQLite: the very bytes written)."""
    postgres = store.engine.dialect.name == "postgresql"
    columns = []
    for column in sites.c:
        name = f'"{column.name}"'
        if column.name in ("geometry", "area"):
            columns.append(f"ST_AsEWKB({name})" if postgres else name)
        elif column.name in ("attributes", "key_attributes") or not postgres:
            columns.append(f"CAST({name} AS TEXT)")
        else:
            columns.append(name)
    with store.engine.connect() as connection:
        query = f"SELECT {', '.join(columns)} FROM sites ORDER BY id"
        return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                for row in connection.exec_driver_sql(query).all()]  # fmt: skip


def _reference_row(site: Site, now: datetime) -> dict[str, object]:
    """A site's row as SQLAlchemy's own insert writes it, value by value."""
    x0, y0, x1, y1 = site.area.bounds
    return {
        "id": site.id, "source": site.source, "source_id": site.source_id, "kind": site.kind,
        "name": site.name, "radius_m": site.radius_m, "valid_from": site.valid_from,
        "valid_to": site.valid_to, "attributes": dict(site.attributes),
        "key_attributes": list(site.key_attributes), "geometry": site.geometry,
        "area": site.area, "min_lon": x0, "min_lat": y0, "max_lon": x1, "max_lat": y1,
        "area_m2": float(area_m2_local([site.area])[0]), "imported_at": now, "updated_at": now,
    }  # fmt: skip


def test_bulk_write_gives_the_rows_sqlalchemy_writes(store: Store) -> None:
    # Binary COPY (PostgreSQL) and plain executemany of rows made a column at a time (SQLite)
    # store exactly what SQLAlchemy's insert of the same sites, value by value, stores.
    odd = _odd_sites()
    with store.session() as session:
        SiteRepo(session).replace_source(
            source="odd", sites=odd, now=NOW, by="admin", label="odd.csv"
        )
    bulk = _raw_rows(store)
    with store.session() as session:
        session.execute(sa_delete(sites))
        session.execute(sa_insert(sites), [_reference_row(site, NOW) for site in odd])
    assert bulk == _raw_rows(store)
    assert len(bulk) == 3
