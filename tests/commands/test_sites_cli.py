"""``citybrain sites import`` and ``citybrain sites coverage`` against a real store (SQLite and
PostgreSQL with PostGIS), with files in the real shapes (NYC DOB permits, VIZ Berlin)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citybrain.cli import app
from citybrain.records import CameraFields
from citybrain.store import CameraRepo, SiteRepo, Store
from support.citydata_samples import (
    NYC_PERSONAL_VALUES,
    nyc_csv,
    nyc_row,
    viz_collection,
    viz_feature,
)


@pytest.fixture
def settings_file(store: Store, tmp_path: Path) -> Path:
    path = tmp_path / "server.yaml"
    url = store.engine.url.render_as_string(hide_password=False)
    path.write_text(
        f"data_dir: {tmp_path / 'data'}\ndatabase_url: {url}\ncoverage_kinds: [facility]\n",
        encoding="utf-8",
    )
    return path


def _run(settings_file: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["sites", *args, "--settings", str(settings_file)])
    return result.exit_code, result.output


def test_import_reimport_and_refusal(store: Store, settings_file: Path, tmp_path: Path) -> None:
    permits = tmp_path / "permits.csv"
    rows = [nyc_row(), nyc_row(job__="421987654", gis_latitude="40.7532", gis_longitude="-73.9348")]
    permits.write_text(nyc_csv(*rows), encoding="utf-8")
    code, output = _run(settings_file, "import", str(permits), "--preset", "nyc-dob-permits")
    assert code == 0, output
    assert "nyc-dob-permits: 2 added, 0 changed, 0 expired, 0 removed, 0 unchanged" in output

    permits.write_text(nyc_csv(rows[0], nyc_row(job__="421987654", job_type="NB",
                                                 gis_latitude="40.7532",
                                                 gis_longitude="-73.9348")))  # fmt: skip
    code, output = _run(settings_file, "import", str(permits), "--preset", "nyc-dob-permits")
    assert code == 0 and "0 added, 1 changed, 0 expired, 0 removed, 1 unchanged" in output

    bad = tmp_path / "bad.csv"
    bad.write_text(nyc_csv(nyc_row(job__="9", expiration_date="2025-13-45")), encoding="utf-8")
    code, output = _run(settings_file, "import", str(bad), "--preset", "nyc-dob-permits")
    assert code == 1
    assert f"{bad}: line 2: expiration_date: '2025-13-45' is not a date" in output
    assert "refused: nothing of" in output

    viz = tmp_path / "viz.json"
    viz.write_text(viz_collection(viz_feature()), encoding="utf-8")
    code, output = _run(settings_file, "import", str(viz), "--preset", "berlin-viz",
                        "--kind", "no_parking")  # fmt: skip
    assert code == 0 and "berlin-viz: 1 added" in output

    with store.session() as session:
        repo = SiteRepo(session)
        kinds = {s.id: s.kind for s in repo.search().items}
        stored = " ".join(str(s.model_dump()) for s in repo.search().items)
    assert kinds == {
        "nyc-dob-permits.123456789": "construction_permit",
        "nyc-dob-permits.421987654": "construction_permit",
        "berlin-viz.8-2025-f08e1425": "no_parking",
    }
    assert [v for v in NYC_PERSONAL_VALUES if v in stored] == []


def test_exactly_one_of_preset_and_mapping(settings_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a\n1\n", encoding="utf-8")
    code, output = _run(settings_file, "import", str(path))
    assert code == 2 and "exactly one of --preset and --mapping" in output
    mapping = tmp_path / "m.yaml"
    mapping.write_text("source: x\nid: a\ngeometry: {crs: 'EPSG:99999'}\n", encoding="utf-8")
    code, output = _run(settings_file, "import", str(path), "--mapping", str(mapping))
    assert code == 2 and f"{mapping}:3: geometry.crs: unknown CRS 'EPSG:99999'" in output


def test_coverage_table(store: Store, settings_file: Path, tmp_path: Path) -> None:
    """A 100 m square facility half inside a camera's sector: 50 %."""
    lat, lon = 52.52, 13.40
    phi = math.radians(lat)
    dy = 50 / (111_132.92 - 559.82 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi))
    dx = 50 / (111_412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi))
    square = (f"POLYGON (({lon - dx} {lat - dy}, {lon + dx} {lat - dy}, {lon + dx} {lat + dy}, "
              f"{lon - dx} {lat + dy}, {lon - dx} {lat - dy}))")  # fmt: skip
    (tmp_path / "places.csv").write_text(f'ref,shape\nplaza,"{square}"\n', encoding="utf-8")
    (tmp_path / "places.yaml").write_text(
        "source: places\nkind: facility\nid: ref\ngeometry: {wkt: shape}\n", encoding="utf-8"
    )
    code, output = _run(settings_file, "import", str(tmp_path / "places.csv"),
                        "--mapping", str(tmp_path / "places.yaml"))  # fmt: skip
    assert code == 0, output
    with store.session() as session:
        CameraRepo(session).create(CameraFields(
            name="north", source="rtsp://10.0.0.1/s", lat=lat, lon=lon, heading_deg=0.0,
            fov_deg=180.0, range_m=200.0))  # fmt: skip
    code, output = _run(settings_file, "coverage")
    assert code == 0, output
    [row] = [line for line in output.splitlines() if "places.plaza" in line]
    cells = [cell.strip() for cell in row.split("│") if cell.strip()]
    assert cells == ["places.plaza", "facility", "10,000", "5,000", "50.0%"]
    assert "total (1 sites)" in output and "1 enabled camera(s) counted" in output
