"""Cameras: CRUD, roles, config validation, source redaction, restriction to some cameras."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from apisupport import SECRET, SOURCE, World
from fastapi.testclient import TestClient

from citybrain.records import Role
from citybrain.store import CameraRepo

CONFIG: dict[str, Any] = {
    "camera": {"fps": 4},
    "zones": {"site": {"polygon": [[0, 0], [1, 0], [1, 1]]}},
    "rules": {"intruders": {"kind": "restricted_zone", "zone": "site"}},
}


def _create(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post(
        "/api/cameras", json={"name": "gate", "source": SOURCE, **body}, headers=headers
    )


def test_admin_creates_reads_changes_and_deletes_a_camera(client: TestClient, world: World) -> None:
    admin = world.user("root", Role.ADMIN)
    body = {
        "lat": 52.1,
        "lon": 4.3,
        "heading_deg": 90,
        "fov_deg": 70,
        "range_m": 40,
        "config": CONFIG,
    }
    created = _create(client, admin, **body)
    assert created.status_code == 201, created.text
    camera = created.json()
    camera_id = camera["id"]
    assert (camera["name"], camera["lat"], camera["enabled"]) == ("gate", 52.1, True)
    assert camera["config"] == CONFIG  # stored as written, without the camera's name
    assert camera["source"] == "rtsp://***:***@10.1.2.3:554/stream1?token=***&ch=1"
    assert world.services.cameras.synced == [camera_id]  # type: ignore[attr-defined]

    listed = client.get("/api/cameras", headers=admin).json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == camera_id
    assert client.get(f"/api/cameras/{camera_id}", headers=admin).json()["name"] == "gate"

    changed = client.patch(
        f"/api/cameras/{camera_id}", json={"name": "gate-2", "enabled": False, "lat": None},
        headers=admin,
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["enabled"], changed.json()["lat"]) == (
        "gate-2", False, None,
    )  # fmt: skip
    assert changed.json()["lon"] == 4.3  # untouched
    assert world.services.cameras.synced == [camera_id, camera_id]  # type: ignore[attr-defined]

    assert client.delete(f"/api/cameras/{camera_id}", headers=admin).status_code == 204
    assert client.get(f"/api/cameras/{camera_id}", headers=admin).status_code == 404
    assert world.services.cameras.synced == [camera_id] * 3  # type: ignore[attr-defined]
    actions = [world.audit_actions(a)[0]["target"] for a in ("camera.create", "camera.delete")]
    assert actions == ["gate", "gate-2"]


def test_only_admins_and_supervisors_change_cameras(client: TestClient, world: World) -> None:
    camera_id = world.camera("gate")
    for role in (Role.OPERATOR, Role.AUDITOR):
        headers = world.user(role.value, role)
        assert _create(client, headers, name="x").status_code == 403
        patch = client.patch(f"/api/cameras/{camera_id}", json={"enabled": False}, headers=headers)
        assert patch.status_code == 403
        assert "may not change cameras" in patch.json()["detail"]
        assert client.delete(f"/api/cameras/{camera_id}", headers=headers).status_code == 403
        assert client.get(f"/api/cameras/{camera_id}", headers=headers).status_code == 200
    supervisor = world.user("sue", Role.SUPERVISOR)
    assert _create(client, supervisor, name="second").status_code == 201
    assert world.services.cameras.synced == [2]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("config", "loc", "words"),
    [
        ({"rules": {"r": {"kind": "dwell", "zone": "nowhere", "labels": ["person"], "seconds": 5}}},
         ["body", "config", "rules", "r", "zone"], "unknown zone 'nowhere' (defined: none)"),
        ({"zones": {"site": {"polygon": [[0, 0], [2, 0], [1, 1]]}}},
         ["body", "config", "zones", "site", "polygon", 1, 0], "less than or equal to 1"),
        ({"detector": {"confidence": 5}}, ["body", "config", "detector", "confidence"], "1"),
        ({"camera": {"source": SOURCE}}, ["body", "config", "camera", "source"], "source"),
        ({"bogus": 1}, ["body", "config", "bogus"], "Extra inputs"),
    ],
)  # fmt: skip
def test_invalid_config_is_422_naming_the_field(
    client: TestClient, world: World, config: dict[str, Any], loc: list[Any], words: str
) -> None:
    admin = world.user("root", Role.ADMIN)
    response = _create(client, admin, config=config)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert any(e["loc"] == loc and words in e["msg"] for e in errors), errors
    assert SECRET not in response.text
    assert world.services.cameras.synced == []  # type: ignore[attr-defined]


def test_bad_fields_conflicts_and_nulls(client: TestClient, world: World) -> None:
    admin = world.user("root", Role.ADMIN)
    assert _create(client, admin).status_code == 201
    again = _create(client, admin)
    assert again.status_code == 409
    assert again.json()["detail"] == "the camera name is already in use"
    for body in ({"lat": 91}, {"source": "ftp://u:p@host/x"}, {"name": ""}, {"name": "a\x00"}):
        response = _create(client, admin, **{"name": "other", **body})
        assert response.status_code == 422, (body, response.text)
        assert "u:p@" not in response.text
    response = client.patch("/api/cameras/1", json={"source": None}, headers=admin)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "source"]
    assert client.patch("/api/cameras/99", json={"enabled": True}, headers=admin).status_code == 404
    assert client.get(f"/api/cameras/{2**40}", headers=admin).status_code == 422


def test_source_credentials_never_appear_in_responses_or_logs(
    client: TestClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = world.user("root", Role.ADMIN)
    texts = [_create(client, admin, config=CONFIG).text]
    texts.append(client.get("/api/cameras", headers=admin).text)
    texts.append(client.get("/api/cameras/1", headers=admin).text)
    other = SOURCE.replace("10.1.2.3", "10.9.9.9")
    texts.append(client.patch("/api/cameras/1", json={"source": other}, headers=admin).text)
    texts.append(_create(client, admin, name="gate").text)  # a conflict
    texts.append(_create(client, admin, name="x", lat="north").text)  # a validation error
    texts.append(client.delete("/api/cameras/1", headers=admin).text)
    for text in texts:
        assert SECRET not in text
    logged = [record.getMessage() for record in caplog.records]
    assert logged, "the requests should have logged something"
    assert not [line for line in logged if SECRET in line]
    with world.store.session() as session:  # the store still has the real one
        world.camera("kept", source=other)
        camera = CameraRepo(session).by_name(name="kept")
        assert camera is not None and SECRET in camera.source


def test_a_user_limited_to_cameras_sees_nothing_of_the_others(
    client: TestClient, world: World
) -> None:
    mine, theirs = world.camera("mine"), world.camera("theirs")
    operator = world.user("ann", Role.OPERATOR, cameras=(mine,))
    supervisor = world.user("sue", Role.SUPERVISOR, cameras=(mine,))
    listed = client.get("/api/cameras", headers=operator).json()
    assert [c["name"] for c in listed["items"]] == ["mine"]
    assert client.get(f"/api/cameras/{mine}", headers=operator).status_code == 200
    hidden = client.get(f"/api/cameras/{theirs}", headers=operator)
    missing = client.get("/api/cameras/999", headers=operator)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"] == f"camera {theirs} not found"
    assert "theirs" not in hidden.text
    patch = client.patch(f"/api/cameras/{theirs}", json={"enabled": False}, headers=supervisor)
    assert patch.status_code == 404
    assert client.delete(f"/api/cameras/{theirs}", headers=supervisor).status_code == 404
    assert client.patch(f"/api/cameras/{mine}", json={"lat": 1}, headers=supervisor).is_success
    created = _create(client, supervisor, name="new")
    assert created.status_code == 403 and "limited to some cameras" in created.json()["detail"]
    assert world.services.cameras.synced == [mine]  # type: ignore[attr-defined]


def test_an_analysis_source_is_stored_redacted_in_views_and_cleared_with_null(
    client: TestClient, world: World
) -> None:
    admin = world.user("root", Role.ADMIN)
    sub = f"rtsp://admin:{SECRET}@10.1.2.3:554/stream2"
    created = _create(client, admin, analysis_source=sub)
    assert created.status_code == 201, created.text
    camera = created.json()
    assert camera["analysis_source"] == "rtsp://***:***@10.1.2.3:554/stream2"
    assert SECRET not in created.text
    shown = client.get(f"/api/cameras/{camera['id']}", headers=admin)
    assert shown.json()["analysis_source"] == camera["analysis_source"]
    assert SECRET not in shown.text and SECRET not in client.get("/api/cameras", headers=admin).text
    with world.store.session() as session:
        stored = CameraRepo(session).get(camera_id=camera["id"])
        assert stored is not None and stored.analysis_source == sub
    assert _create(client, admin, name="x", analysis_source="ftp://h/x").status_code == 422
    cleared = client.patch(
        f"/api/cameras/{camera['id']}", json={"analysis_source": None}, headers=admin
    )
    assert cleared.status_code == 200 and cleared.json()["analysis_source"] is None
    assert world.services.cameras.synced[-1] == camera["id"]  # the runtime reads it again
