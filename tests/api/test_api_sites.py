"""``/api/sites``, ``/api/coverage`` and the city data of ``/api/cameras/{id}``, on SQLite and
on PostgreSQL with PostGIS: imports in the real shapes (NYC DOB CSV rows, VIZ Berlin GeoJSON),
re-imports, bad files refused whole, roles, footprints, rules from data and coverage."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apisupport import FAST_PASSWORDS, RecordingCameras, World
from fastapi.testclient import TestClient

from citybrain.api.main import create_app
from citybrain.config.server import ServerSettings
from citybrain.records import CameraHealth, Role
from citybrain.services import Services
from citybrain.store import SiteRepo, Store
from support.citydata_samples import (
    NYC_PERSONAL_VALUES,
    nyc_csv,
    nyc_row,
    viz_collection,
    viz_feature,
)

#: 350 West 42nd Street (the sample permit), and a camera 50 m south of it looking north.
PERMIT = (-73.991898, 40.757929)
CAMERA = {"lat": 40.75748, "lon": -73.991898, "heading_deg": 0.0, "fov_deg": 60.0, "range_m": 80}
SITE_RULES = {"construction_permit": [{"kind": "hardhat_required", "seconds": 5}]}
#: Valid now: issued a year ago, expiring in a year.
ISSUED = (datetime.now(UTC) - timedelta(days=365)).strftime("%m/%d/%Y")
EXPIRES = (datetime.now(UTC) + timedelta(days=365)).strftime("%m/%d/%Y")


@pytest.fixture
def woken() -> list[int]:
    """One entry per time the API told the runtime that sites changed."""
    return []


@pytest.fixture
def services(store: Store, cameras: RecordingCameras, tmp_path: Path, woken: list[int]) -> Services:
    settings = ServerSettings(
        data_dir=tmp_path / "data", token_hours=1.0, site_rules=SITE_RULES,
        site_import_max_mb=1.0,
    )  # fmt: skip
    services = Services.of(settings, store, cameras)
    return dataclasses.replace(services, sites_changed=lambda: woken.append(1))


@pytest.fixture
def app(services: Services) -> Any:
    return create_app(services, retention_interval_s=3600.0, passwords=FAST_PASSWORDS)


def permits(*rows: dict[str, str]) -> bytes:
    return nyc_csv(*rows).encode()


def upload(
    client: TestClient, auth: dict[str, str], data: bytes, name: str = "permits.csv", **form: Any
) -> Any:
    form = {"preset": "nyc-dob-permits"} | form
    form = {k: v for k, v in form.items() if v is not None}
    return client.post("/api/sites/import", headers=auth, files={"file": (name, data)}, data=form)


def active_permit(**fields: str) -> dict[str, str]:
    return nyc_row(**({"issuance_date": ISSUED, "expiration_date": EXPIRES} | fields))


def test_import_reimport_read_and_delete(
    client: TestClient, world: World, woken: list[int]
) -> None:
    admin = world.user("ann", Role.ADMIN)
    first = upload(client, admin, permits(
        active_permit(),
        nyc_row(job__="421987654", gis_latitude="40.7532", gis_longitude="-73.9348"),
        nyc_row(job__="421987654", permit_type="PL", gis_latitude="40.7532",
                gis_longitude="-73.9348", expiration_date="06/30/2025"),  # same job: merged
        nyc_row(job__="5", gis_latitude="", gis_longitude=""),  # not geocoded: skipped
    ))  # fmt: skip
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["source"], body["added"], body["merged"]) == ("nyc-dob-permits", 2, 1)
    assert body["skipped"] == ["line 5: gis_latitude: no geometry"]

    sites = client.get("/api/sites", headers=admin).json()
    assert sites["type"] == "FeatureCollection"
    feature = next(f for f in sites["features"] if f["id"] == "nyc-dob-permits.123456789")
    assert feature["type"] == "Feature" and feature["geometry"]["type"] == "Polygon"
    props = feature["properties"]
    assert props["kind"] == "construction_permit" and props["active"] is True
    assert props["attributes"]["permit_number"] == "123456789"
    assert props["attributes"]["contractor"] == "ACME BUILDERS LLC"
    assert props["radius_m"] == 30.0
    text = json.dumps(sites)
    assert [v for v in NYC_PERSONAL_VALUES if v in text] == []  # dropped at import

    again = upload(client, admin, permits(active_permit(job_type="A1")))
    assert again.status_code == 200
    assert {k: again.json()[k] for k in ("added", "changed", "removed", "unchanged")} == {
        "added": 0, "changed": 1, "removed": 1, "unchanged": 0}  # fmt: skip
    changes = client.get(
        "/api/sites/changes", headers=admin, params={"import_id": again.json()["import_id"]}
    ).json()
    assert sorted((c["action"], c["site_id"]) for c in changes) == [
        ("changed", "nyc-dob-permits.123456789"),
        ("removed", "nyc-dob-permits.421987654"),
    ]

    one = client.get("/api/sites/nyc-dob-permits.123456789", headers=admin)
    assert one.status_code == 200
    assert one.json()["source_geometry"]["type"] == "Point"
    assert one.json()["properties"]["attributes"]["job_type"] == "A1"
    assert client.get("/api/sites/nope.1", headers=admin).status_code == 404

    assert client.delete("/api/sites/nyc-dob-permits.123456789", headers=admin).status_code == 204
    assert client.get("/api/sites/nyc-dob-permits.123456789", headers=admin).status_code == 404
    assert client.delete("/api/sites/nyc-dob-permits.123456789", headers=admin).status_code == 404
    assert len(woken) == 3  # two imports and a delete: rules from data follow at once
    imports = world.audit_actions("sites.import")
    assert [a["target"] for a in imports] == ["nyc-dob-permits", "nyc-dob-permits"]
    assert world.audit_actions("site.delete")[0]["username"] == "ann"


def test_filters_kind_time_and_box(client: TestClient, world: World) -> None:
    admin = world.user("ann", Role.ADMIN)
    viz = viz_collection(
        viz_feature(),  # 23.07.2025 - 17.08.2025 on Wolfensteindamm
        viz_feature({"type": "Point", "coordinates": [13.40, 52.52]}, id="9/2025",
                    valid_from="01.01.2030 00:00", valid_to="02.01.2030 00:00"),
    )  # fmt: skip
    assert upload(client, admin, viz.encode(), "viz.json", preset="berlin-viz").status_code == 200
    assert upload(client, admin, permits(active_permit())).status_code == 200

    def ids(**params: Any) -> list[str]:
        response = client.get("/api/sites", headers=admin, params=params)
        assert response.status_code == 200, response.text
        return [f["id"] for f in response.json()["features"]]

    assert len(ids()) == 3
    assert ids(kind="construction_permit") == ["nyc-dob-permits.123456789"]
    assert len(ids(kind=["road_works", "construction_permit"])) == 3
    assert ids(kind="road_works", active_at="2025-08-01T12:00:00Z") == [
        "berlin-viz.8-2025-f08e1425"
    ]
    assert ids(kind="road_works", active_at="2030-01-01T12:00:00+01:00") == [
        "berlin-viz.9-2025-bdf14438"
    ]
    assert ids(bbox="13.3,52.44,13.33,52.46") == ["berlin-viz.8-2025-f08e1425"]
    assert ids(bbox="-74.0,40.75,-73.98,40.76") == ["nyc-dob-permits.123456789"]
    bad = client.get("/api/sites", headers=admin, params={"bbox": "1,2,3"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "bbox"]


def test_bad_files_are_refused_whole_and_nothing_is_kept(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    admin = world.user("ann", Role.ADMIN)
    assert upload(client, admin, permits(active_permit())).status_code == 200

    def refused(data: bytes, name: str = "permits.csv", **form: Any) -> dict[str, Any]:
        response = upload(client, admin, data, name, **form)
        assert response.status_code == 422, response.text
        detail: dict[str, Any] = response.json()["detail"]
        return detail

    late = active_permit(job__="2", issuance_date="31/12/2024")  # not MM/DD/YYYY
    detail = refused(permits(active_permit(job__="3"), late))
    assert detail["file"] == "permits.csv"
    assert detail["problems"][0].startswith("line 3: issuance_date: '31/12/2024' is not a date")

    no_columns = b"job__,issuance_date\n123,01/01/2024\n"
    assert refused(no_columns)["problems"][0].startswith("line 1: (header): missing column(s)")

    ring = [[13.40, 52.52], [13.41, 52.53], [13.41, 52.52], [13.40, 52.53], [13.40, 52.52]]
    bowtie = viz_collection(viz_feature({"type": "Polygon", "coordinates": [ring]}))
    problem = refused(bowtie.encode(), "viz.json", preset="berlin-viz")["problems"][0]
    assert problem.startswith("feature 1: geometry: not a valid Polygon: Self-intersection")

    odd = json.loads(viz_collection(viz_feature()))
    odd["crs"] = {"type": "name", "properties": {"name": "EPSG:99999"}}
    crs = refused(json.dumps(odd).encode(), "viz.json", preset="berlin-viz")
    assert crs["problems"] == ["(document): crs: unknown CRS 'EPSG:99999'"]

    junk = refused(os.urandom(200_000), "junk.csv")
    assert junk["problems"][0].startswith("line ") and ": (text): byte " in junk["problems"][0]

    big = upload(client, admin, os.urandom(3 * 1024 * 1024), "junk.csv")  # the bound is 1 MB
    assert big.status_code == 413 and "site_import_max_mb" in big.json()["detail"]

    with world.store.session() as session:
        repo = SiteRepo(session)
        kept = [s.id for s in repo.search().items]
        imports = repo.imports()
    assert kept == ["nyc-dob-permits.123456789"]
    assert [i.status for i in imports].count("ok") == 1
    assert [i.status for i in imports].count("refused") == 5  # each noted, none kept


def test_a_users_mapping_and_bad_mappings(client: TestClient, world: World) -> None:
    admin = world.user("ann", Role.ADMIN)
    mapping = (
        "source: city-zones\nkind: restricted_area\nid: ref\n"
        "geometry: {wkt: shape, crs: 'EPSG:27700'}\nattributes: [note]\n"
    )
    # A square of 100 m in British National Grid metres, near Trafalgar Square.
    square = "POLYGON ((530000 180000, 530100 180000, 530100 180100, 530000 180100, 530000 180000))"
    data = f'ref,shape,note,owner_s_first_name\nZ1,"{square}",depot,MARIA\n'.encode()
    response = upload(client, admin, data, "zones.csv", preset=None, mapping=mapping)
    assert response.status_code == 200, response.text
    site = client.get("/api/sites/city-zones.Z1", headers=admin).json()
    assert site["properties"]["kind"] == "restricted_area"
    lon, lat = site["geometry"]["coordinates"][0][0]
    assert -0.13 < lon < -0.12 and 51.50 < lat < 51.51
    assert "MARIA" not in json.dumps(site)

    both = upload(client, admin, data, "zones.csv", mapping=mapping)
    assert both.status_code == 400 and "exactly one" in both.json()["detail"]
    unknown = upload(client, admin, data, "zones.csv", preset="nope")
    assert unknown.status_code == 400 and "unknown preset" in unknown.json()["detail"]
    broken = upload(client, admin, data, "zones.csv", preset=None,
                    mapping=mapping.replace("EPSG:27700", "EPSG:99999"))  # fmt: skip
    assert broken.status_code == 400
    assert broken.json()["detail"] == "mapping:4: geometry.crs: unknown CRS 'EPSG:99999'"
    personal = upload(client, admin, data, "zones.csv", preset=None,
                      mapping=mapping.replace("[note]", "[note, owner_s_first_name]"))  # fmt: skip
    assert personal.status_code == 400 and "personal data" in personal.json()["detail"]


def test_the_body_can_be_the_file(client: TestClient, world: World) -> None:
    admin = world.user("ann", Role.ADMIN)
    response = client.post(
        "/api/sites/import", headers=admin | {"Content-Type": "text/csv"},
        params={"preset": "nyc-dob-permits", "filename": "permits.csv"},
        content=permits(active_permit()),
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["added"] == 1


def test_roles(client: TestClient, world: World) -> None:
    admin = world.user("ann", Role.ADMIN)
    operator = world.user("olga", Role.OPERATOR)
    supervisor = world.user("sam", Role.SUPERVISOR)
    auditor = world.user("aud", Role.AUDITOR)
    assert upload(client, operator, permits(active_permit())).status_code == 403
    assert upload(client, supervisor, permits(active_permit())).status_code == 403
    assert upload(client, admin, permits(active_permit())).status_code == 200
    assert client.get("/api/sites", headers=operator).status_code == 200
    assert client.get("/api/sites", headers=auditor).status_code == 403
    site = "/api/sites/nyc-dob-permits.123456789"
    assert client.delete(site, headers=supervisor).status_code == 403
    assert client.get("/api/coverage", headers=supervisor).status_code == 200
    assert client.get("/api/coverage", headers=operator).status_code == 403
    assert client.get("/api/sites/sources", headers=operator).status_code == 403
    assert client.get("/api/sites").status_code == 401


def test_camera_footprint_calibration_sites_and_rules(client: TestClient, world: World) -> None:
    admin = world.user("ann", Role.ADMIN)
    upload(client, admin, permits(active_permit()))
    own = {"zones": {"gate": {"polygon": [[0, 0], [1, 0], [1, 1]]}},
           "rules": {"intruders": {"kind": "restricted_zone", "zone": "gate"}}}  # fmt: skip
    created = client.post(
        "/api/cameras", headers=admin,
        json={"name": "w42", "source": "rtsp://10.0.0.9/s", "config": own, **CAMERA},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    camera_id = created.json()["id"]
    assert created.json()["footprint"]["type"] == "Polygon"

    detail = client.get(f"/api/cameras/{camera_id}", headers=admin).json()
    apex = detail["footprint"]["coordinates"][0][0]
    assert apex == pytest.approx([CAMERA["lon"], CAMERA["lat"]])
    assert detail["calibrated"] is False
    [site] = detail["sites"]
    assert site["id"] == "nyc-dob-permits.123456789"
    assert site["attributes"]["permit_number"] == "123456789"
    rules = detail["site_rules"]
    assert list(rules) == ["site.nyc-dob-permits.123456789.hardhat_required"]
    [rule] = rules.values()
    assert rule["origin"] == "site: nyc-dob-permits.123456789"
    assert rule["kind"] == "hardhat_required" and rule["seconds"] == 5
    assert detail["config"]["rules"] == own["rules"]  # never replaced, never stored

    # A drawn footprint elsewhere: the camera no longer sees the permit.
    far = [[-73.95, 40.70], [-73.94, 40.70], [-73.94, 40.71], [-73.95, 40.70]]
    drawn = {"drawn_footprint": {"type": "Polygon", "coordinates": [far]}}
    patched = client.patch(f"/api/cameras/{camera_id}", headers=admin, json=drawn)
    assert patched.status_code == 200, patched.text
    detail = client.get(f"/api/cameras/{camera_id}", headers=admin).json()
    assert detail["footprint"]["coordinates"][0][0] == far[0]
    assert detail["sites"] == [] and detail["site_rules"] == {}

    # Calibrated: four image points and the ground points they show.
    pairs = [{"image": [0.1, 0.9], "ground": [-73.99195, 40.75790]},
             {"image": [0.9, 0.9], "ground": [-73.99185, 40.75790]},
             {"image": [0.8, 0.4], "ground": [-73.99180, 40.75800]},
             {"image": [0.2, 0.4], "ground": [-73.99200, 40.75800]}]  # fmt: skip
    patched = client.patch(f"/api/cameras/{camera_id}", headers=admin,
                           json={"calibration": pairs, "drawn_footprint": None})  # fmt: skip
    assert patched.status_code == 200, patched.text
    detail = client.get(f"/api/cameras/{camera_id}", headers=admin).json()
    assert detail["calibrated"] is True
    [rule] = detail["site_rules"].values()
    assert rule["zone"] == "site.nyc-dob-permits.123456789"  # the permit's outline in the image

    bowtie = [[-73.95, 40.70], [-73.94, 40.71], [-73.94, 40.70], [-73.95, 40.71], [-73.95, 40.70]]
    crossed = {"drawn_footprint": {"type": "Polygon", "coordinates": [bowtie]}}
    bad = client.patch(f"/api/cameras/{camera_id}", headers=admin, json=crossed)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "drawn_footprint"]
    line = [{"image": [0.1 * i, 0.5], "ground": [-73.99 + 0.0001 * i, 40.75]} for i in range(4)]
    bad = client.patch(f"/api/cameras/{camera_id}", headers=admin, json={"calibration": line})
    assert bad.status_code == 422 and "one line" in bad.json()["detail"][0]["msg"]
    few = client.patch(f"/api/cameras/{camera_id}", headers=admin, json={"calibration": pairs[:3]})
    assert few.status_code == 422


def _square(lon: float, lat: float, side_m: float) -> list[list[float]]:
    phi = math.radians(lat)
    per_lat = 111_132.92 - 559.82 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)
    per_lon = 111_412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi)
    dy, dx = side_m / 2 / per_lat, side_m / 2 / per_lon
    return [[lon - dx, lat - dy], [lon + dx, lat - dy], [lon + dx, lat + dy],
            [lon - dx, lat + dy], [lon - dx, lat - dy]]  # fmt: skip


def test_coverage_of_a_square_half_inside_a_cameras_sector(
    client: TestClient, world: World, cameras: RecordingCameras
) -> None:
    """A 100 m square plaza; a camera at its centre looking north (180-degree view, 200 m)
    sees its northern half: 5,000 of 10,000 m2. An offline camera covering the rest, and a
    disabled one, do not count."""
    admin = world.user("ann", Role.ADMIN)
    lon, lat = 13.40, 52.52
    plaza = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"ref": "plaza", "name": "Plaza"},
        "geometry": {"type": "Polygon", "coordinates": [_square(lon, lat, 100.0)]}}]}  # fmt: skip
    mapping = "source: city\nkind: facility\nid: ref\nname: name\n"
    assert upload(client, admin, json.dumps(plaza).encode(), "p.geojson", preset=None,
                  mapping=mapping).status_code == 200  # fmt: skip
    north = world.camera("north", lat=lat, lon=lon, heading_deg=0.0, fov_deg=180.0, range_m=200.0)
    south = world.camera("south", lat=lat, lon=lon, heading_deg=180.0, fov_deg=180.0,
                         range_m=200.0)  # fmt: skip
    world.camera("off", lat=lat, lon=lon, heading_deg=180.0, fov_deg=180.0, range_m=200.0,
                 enabled=False)  # fmt: skip
    now = datetime.now(UTC)
    for camera_id, online in ((north, True), (south, False)):
        cameras.healths[camera_id] = CameraHealth(
            camera_id=camera_id, online=online, fps_in=5.0, fps_analysed=5.0, lag_seconds=0.1,
            frames_dropped=0, reconnects=0, last_error=None, at=now,
        )  # fmt: skip

    report = client.get("/api/coverage", headers=admin, params={"geometry": True}).json()
    assert report["cameras_counted"] == 1
    [site] = report["sites"]
    assert (site["id"], site["kind"], site["cameras"]) == ("city.plaza", "facility", [north])
    assert site["area_m2"] == pytest.approx(10_000, rel=0.001)
    assert site["covered_m2"] == pytest.approx(5_000, rel=0.004)
    assert site["share"] == pytest.approx(0.5, abs=0.002)
    assert site["uncovered"]["type"] == "Polygon"
    assert max(y for _, y in site["uncovered"]["coordinates"][0]) == pytest.approx(lat, abs=1e-7)
    assert report["total"]["share"] == pytest.approx(0.5, abs=0.002)
    assert report["by_kind"]["facility"]["sites"] == 1
    empty = client.get("/api/coverage", headers=admin, params={"kind": "no_parking"}).json()
    assert empty["sites"] == [] and empty["total"]["sites"] == 0

    cameras.healths[south] = cameras.healths[south].model_copy(update={"online": True})
    both = client.get("/api/coverage", headers=admin).json()
    assert both["sites"][0]["share"] == pytest.approx(1.0, abs=0.002)
    assert both["sites"][0]["uncovered"] is None


def test_events_carry_their_site_context_in_the_api_and_export(
    client: TestClient, world: World
) -> None:
    admin = world.user("ann", Role.ADMIN)
    camera = world.camera("w42")
    context = {"sites": [{"id": "nyc-dob-permits.123456789", "kind": "construction_permit",
                          "name": "350 WEST 42 STREET, MANHATTAN",
                          "attributes": {"permit_number": "123456789"}}]}  # fmt: skip
    event_id = world.event(camera, context=context)
    plain_id = world.event(camera)
    listed = {e["id"]: e for e in client.get("/api/events", headers=admin).json()["items"]}
    assert listed[event_id]["context"] == context and listed[plain_id]["context"] == {}
    exported = client.get("/api/events/export", headers=admin, params={"format": "jsonl"})
    rows = {r["id"]: r for r in map(json.loads, exported.text.splitlines())}
    assert rows[event_id]["context"] == context
    csv_text = client.get("/api/events/export", headers=admin, params={"format": "csv"}).text
    assert '""permit_number"":""123456789""' in csv_text
