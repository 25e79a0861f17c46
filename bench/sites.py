"""City-data benchmark: importing 100,000 sites, and the camera-site join and coverage for 10,000
cameras, with the pure ``citybrain.citydata`` package (Shapely and pyproj), and with
``--postgres`` in the store on PostgreSQL with PostGIS too.

Writes an NYC DOB permit CSV in the dataset's real shape (every column, personal ones included,
which the import drops) with N geocoded permits spread over New York City, and M cameras with
random headings, views and ranges over the same area; then times:

- import: parsing the CSV through the ``nyc-dob-permits`` preset into sites (30 m areas);
- footprints: the M camera sectors;
- join: which sites each footprint touches (STRtree);
- coverage: per site the share any camera sees and the uncovered part, and the totals.

With ``--postgres [ADMIN_URL]`` (default: the local server's ``test`` database) a scratch
database with PostGIS is created on that server (and dropped at the end), and the store's paths
are timed as the server runs them:

- store import: ``SiteRepo.replace_source`` of the parsed sites into the empty table (one binary
  COPY, the secondary indexes built after it, the change log by COPY too), then the same file
  again (nothing changed: read back and compared, nothing written; a changed file goes through
  a temporary table and one ``INSERT ... ON CONFLICT``);
- store join: ``SiteRepo.candidates`` for the cameras' footprints: one query, the GiST index
  finding each footprint's sites, the sites read back as the runtime gets them;
- store coverage: ``SiteRepo.coverage`` in PostGIS (``ST_Union`` of each site's footprints,
  areas on the spheroid).

    .venv/bin/python bench/sites.py                       # 100,000 sites, 10,000 cameras
    .venv/bin/python bench/sites.py --sites 20000 --cameras 2000
    .venv/bin/python bench/sites.py --postgres            # and the PostGIS store

Goal (issue 12): under 10 s each on the project's machine with PostGIS.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from citybrain.citydata import (
    NYC_DOB_PERMITS,
    ImportResult,
    coverage,
    footprint_pairs,
    import_text,
    sectors,
)
from citybrain.store import SiteRepo, open_store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.citydata_samples import NYC_COLUMNS, nyc_row

__all__ = ["main"]

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
#: Every bench permit is valid then (issued in 2024, expiring a year later).
AT = datetime(2024, 12, 31, tzinfo=UTC)
#: Roughly the five boroughs.
LON = (-74.05, -73.75)
LAT = (40.57, 40.90)


def permits_csv(n: int, rng: np.random.Generator) -> str:
    """``n`` permits at random places, each with its own job number and validity."""
    lon = rng.uniform(*LON, n)
    lat = rng.uniform(*LAT, n)
    start = rng.integers(0, 700, n)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(NYC_COLUMNS)
    base = nyc_row()
    for i in range(n):
        month, day = 1 + int(start[i]) % 12, 1 + int(start[i]) % 28
        row = base | {
            "job__": str(100_000_000 + i),
            "house__": str(1 + i % 500),
            "issuance_date": f"{month:02d}/{day:02d}/2024",
            "expiration_date": f"{month:02d}/{day:02d}/2025",
            "gis_latitude": f"{lat[i]:.6f}",
            "gis_longitude": f"{lon[i]:.6f}",
        }
        writer.writerow([row[column] for column in NYC_COLUMNS])
    return out.getvalue()


class _Clock:
    """Wall and CPU seconds of one stage (on a shared host the CPU time is the steadier)."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def report(self, label: str, detail: str) -> None:
        wall, cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu
        print(f"{label:<12} {wall:7.2f} s wall {cpu:7.2f} s CPU   {detail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sites", type=int, default=100_000)
    parser.add_argument("--cameras", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument(
        "--postgres", nargs="?", const=DEFAULT_SERVER, default=None, metavar="ADMIN_URL",
        help="also time the store on this PostgreSQL server (PostGIS; a scratch database)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")

    text = permits_csv(args.sites, rng)
    clock = _Clock()
    result = import_text(text, NYC_DOB_PERMITS, label="permits.csv")
    clock.report("import", f"{len(result.sites):,} sites from {len(text) / 1e6:.1f} MB of CSV")

    n = args.cameras
    clock = _Clock()
    footprints = sectors(rng.uniform(*LON, n), rng.uniform(*LAT, n), rng.uniform(0, 360, n),
                         rng.uniform(40, 120, n), rng.uniform(20, 150, n))  # fmt: skip
    clock.report("footprints", f"{n:,} camera sectors")

    areas = np.asarray([site.area for site in result.sites], dtype=object)
    clock = _Clock()
    pairs = footprint_pairs(list(footprints), areas)
    seen = len(set(pairs[1].tolist()))
    clock.report("join", f"{pairs.shape[1]:,} camera-site pairs, {seen:,} sites seen")

    clock = _Clock()
    report = coverage(result.sites, {f"cam-{i}": fp for i, fp in enumerate(footprints)})
    share = report.total.share
    clock.report("coverage", f"{report.total.sites:,} sites, {share:.2%} of their area covered")
    if args.postgres:
        bench_postgis(args.postgres, result, list(footprints))
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def bench_postgis(server: str, result: ImportResult, footprints: list[Any]) -> None:
    """The store's import, join and coverage on PostgreSQL with PostGIS (a scratch database).

    The database's own work runs in the server's processes: the CPU column is this process's
    only, so for these rows the wall time is the figure.
    """
    name = f"citybrain_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_libpq(server), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = server.rsplit("/", 1)[0] + "/" + name
    try:
        store = open_store(url)  # migrates: creates PostGIS, the tables and the GiST index
        try:
            _store_steps(store, result, footprints)
        finally:
            store.close()
    finally:
        with psycopg.connect(_libpq(server), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _store_steps(store: Any, result: ImportResult, footprints: list[Any]) -> None:
    for label in ("store import", "re-import"):
        clock = _Clock()
        with store.session() as session:
            outcome = SiteRepo(session).replace_source(
                source=result.source, sites=result.sites, now=AT, by="bench",
                label="permits.csv", merged=result.merged,
            )  # fmt: skip
        log = outcome.changes
        clock.report(label, f"{len(log.added):,} added, {log.unchanged:,} unchanged (PostGIS)")
    with store.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE sites")
    cameras = dict(enumerate(footprints))
    clock = _Clock()
    with store.session() as session:
        found = SiteRepo(session).candidates(cameras)
    pairs = sum(len(v) for v in found.values())
    clock.report("store join", f"{pairs:,} camera-site pairs for {len(cameras):,} cameras")
    clock = _Clock()
    with store.session() as session:
        report = SiteRepo(session).coverage(cameras, kinds=None, at=AT)
    share = report.total.share
    clock.report("store cover", f"{report.total.sites:,} sites, {share:.2%} covered (PostGIS)")


if __name__ == "__main__":
    raise SystemExit(main())
