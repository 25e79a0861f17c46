"""PostGIS in the test databases: imported sites stored as geometry with a GiST index, queried.

Runs on the session's server (the running one, or one the tests start) and on a server the test
starts itself, so both ways the suite gets PostgreSQL can create the extension.
"""

from __future__ import annotations

import psycopg
import pytest

from citybrain.citydata import NYC_DOB_PERMITS, Site, area_m2, import_text, sector
from support.citydata_samples import nyc_csv, nyc_row
from support.postgres import OwnPostgres, create_database

pytestmark = pytest.mark.postgres


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _sites() -> list[Site]:
    rows = [
        nyc_row(),
        nyc_row(job__="421987654", gis_latitude="40.7532", gis_longitude="-73.9348"),
    ]
    return import_text(nyc_csv(*rows), NYC_DOB_PERMITS).sites


def _store_and_query(url: str) -> None:
    sites = _sites()
    camera = sector(-73.99175, 40.75760, 0.0, 60.0, 80.0)  # looks north at the first permit
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        version = conn.execute("SELECT postgis_lib_version()").fetchone()
        assert version is not None and version[0].startswith("3.")
        conn.execute(
            "CREATE TABLE sites (id text PRIMARY KEY, area geometry(Geometry, 4326) NOT NULL)"
        )
        conn.execute("CREATE INDEX sites_area ON sites USING gist (area)")
        for site in sites:
            conn.execute(
                "INSERT INTO sites VALUES (%s, ST_GeomFromWKB(%s, 4326))",
                (site.id, site.area.wkb),
            )
        rows = conn.execute("SELECT id, ST_Area(area::geography) FROM sites ORDER BY id").fetchall()
        seen = conn.execute(
            "SELECT id FROM sites WHERE ST_Intersects(area, ST_GeomFromWKB(%s, 4326))",
            (camera.wkb,),
        ).fetchall()
    by_id = {site.id: site for site in sites}
    for site_id, geodesic_area in rows:
        # PostGIS measures on the ellipsoid; ours in an equal-area projection: the same area.
        assert area_m2(by_id[site_id].area) == pytest.approx(geodesic_area, rel=1e-3)
    assert seen == [("nyc-dob-permits.123456789",)]


def test_postgis_in_the_session_database(postgis_url: str) -> None:
    _store_and_query(postgis_url)


def test_postgis_on_a_server_the_test_starts(own_postgres: OwnPostgres) -> None:
    url = create_database(own_postgres.admin_url, "citybrain_gis", extensions=["postgis"])
    _store_and_query(url)
