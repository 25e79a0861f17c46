"""City-data benchmark: importing 100,000 sites, and the camera-site join and coverage for 10,000
cameras, with the pure ``citybrain.citydata`` package (Shapely and pyproj, no database).

Writes an NYC DOB permit CSV in the dataset's real shape (every column, personal ones included,
which the import drops) with N geocoded permits spread over New York City, and M cameras with
random headings, views and ranges over the same area; then times:

- import: parsing the CSV through the ``nyc-dob-permits`` preset into sites (30 m areas);
- footprints: the M camera sectors;
- join: which sites each footprint touches (STRtree);
- coverage: per site the share any camera sees and the uncovered part, and the totals.

    .venv/bin/python bench/sites.py                       # 100,000 sites, 10,000 cameras
    .venv/bin/python bench/sites.py --sites 20000 --cameras 2000

Goal (issue 12): under 10 s each on the project's machine (the store's PostGIS version of the
join and coverage comes with the store's sites table; this measures the in-process path).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import time
from pathlib import Path

import numpy as np

from citybrain.citydata import NYC_DOB_PERMITS, coverage, footprint_pairs, import_text, sectors

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.citydata_samples import NYC_COLUMNS, nyc_row

__all__ = ["main"]

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
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
