"""``/api/users``: admins manage users, every change is audited, nobody locks the centre out."""

from __future__ import annotations

from apisupport import PASSWORD, World
from fastapi.testclient import TestClient

from citybrain.records import Role


def test_admins_list_add_limit_disable_and_reset(client: TestClient, world: World) -> None:
    gate, yard = world.camera("gate"), world.camera("yard")
    ada = world.user("ada", Role.ADMIN)
    listed = client.get("/api/users", headers=ada)
    assert listed.status_code == 200
    assert [(u["username"], u["role"], u["camera_ids"]) for u in listed.json()["items"]] == [
        ("ada", "admin", None)
    ]
    added = client.post(
        "/api/users",
        headers=ada,
        json={"username": "olu", "password": PASSWORD, "role": "operator", "camera_ids": [gate]},
    )
    assert added.status_code == 201, added.text
    olu_id = added.json()["id"]
    assert added.json()["camera_ids"] == [gate] and "password" not in added.text
    olu = world.login("olu")
    assert [c["id"] for c in client.get("/api/cameras", headers=olu).json()["items"]] == [gate]

    limited = client.patch(f"/api/users/{olu_id}", headers=ada, json={"camera_ids": [yard]})
    assert limited.json()["camera_ids"] == [yard]
    assert [c["id"] for c in client.get("/api/cameras", headers=olu).json()["items"]] == [yard]
    lifted = client.patch(f"/api/users/{olu_id}", headers=ada, json={"camera_ids": None})
    assert lifted.json()["camera_ids"] is None
    assert (
        client.patch(f"/api/users/{olu_id}", headers=ada, json={"role": "supervisor"}).json()[
            "role"
        ]
        == "supervisor"
    )

    reset = client.post(
        f"/api/users/{olu_id}/password", headers=ada, json={"password": "another long secret"}
    )
    assert reset.status_code == 204
    assert client.get("/api/cameras", headers=olu).status_code == 401  # old login ended
    olu = world.login("olu", "another long secret")

    disabled = client.patch(f"/api/users/{olu_id}", headers=ada, json={"disabled": True})
    assert disabled.json()["disabled"] is True
    assert client.get("/api/cameras", headers=olu).status_code == 401
    failed = client.post(
        "/api/auth/login", json={"username": "olu", "password": "another long secret"}
    )
    assert failed.status_code == 401

    actions = {
        action: [(e["username"], e["target"]) for e in world.audit_actions(action)]
        for action in ("user.create", "user.update", "user.password")
    }
    assert actions["user.create"] == [("ada", "olu")]
    assert len(actions["user.update"]) == 4 and set(actions["user.update"]) == {("ada", "olu")}
    assert actions["user.password"] == [("ada", "olu")]
    assert all(PASSWORD not in str(e["detail"]) for e in world.audit_actions("user.create"))


def test_bad_user_input_is_refused_by_field(client: TestClient, world: World) -> None:
    ada = world.user("ada", Role.ADMIN)
    world.user("sam", Role.SUPERVISOR)

    def create(**body: object) -> tuple[int, object]:
        base = {"username": "newbie", "password": PASSWORD, "role": "operator"}
        response = client.post("/api/users", headers=ada, json={**base, **body})
        return response.status_code, response.json()

    status, detail = create(password="short")
    assert status == 422 and "at least 10 characters" in str(detail)
    status, detail = create(username="sam")
    assert status == 409 and "already exists" in str(detail)
    status, detail = create(camera_ids=[999])
    assert status == 422 and "999" in str(detail)
    status, detail = create(camera_ids=[])
    assert status == 422 and "at least one camera" in str(detail)
    status, detail = create(role="superuser")
    assert status == 422
    status, detail = create(username="bad name!")
    assert status == 422
    assert client.patch("/api/users/4242", headers=ada, json={"disabled": True}).status_code == 404
    missing = client.post("/api/users/4242/password", headers=ada, json={"password": PASSWORD})
    assert missing.status_code == 404
    assert client.patch("/api/users/1", headers=ada, json={"role": None}).status_code == 422
    assert [u["username"] for u in client.get("/api/users", headers=ada).json()["items"]] == [
        "ada",
        "sam",
    ]


def test_only_unlimited_admins_manage_users_and_one_always_remains(
    client: TestClient, world: World
) -> None:
    gate = world.camera("gate")
    ada = world.user("ada", Role.ADMIN)
    ada_id = client.get("/api/users", headers=ada).json()["items"][0]["id"]
    for role in (Role.SUPERVISOR, Role.OPERATOR, Role.AUDITOR):
        other = world.user(f"u-{role.value}", role)
        assert client.get("/api/users", headers=other).status_code == 403
        body = {"username": "x-" + role.value, "password": PASSWORD, "role": "admin"}
        assert client.post("/api/users", headers=other, json=body).status_code == 403
    limited = world.user("lim", Role.ADMIN, cameras=(gate,))
    refused = client.get("/api/users", headers=limited)
    assert refused.status_code == 403 and "limited to some cameras" in refused.json()["detail"]
    lim_id = next(
        u["id"]
        for u in client.get("/api/users", headers=ada).json()["items"]
        if u["username"] == "lim"
    )
    # ada is the only enabled admin who sees every camera: she may not be demoted or limited.
    assert (
        client.patch(f"/api/users/{ada_id}", headers=ada, json={"disabled": True}).status_code
        == 409
    )
    for change in ({"role": "operator"}, {"camera_ids": [gate]}):
        refused = client.patch(f"/api/users/{ada_id}", headers=ada, json=change)
        assert refused.status_code == 409 and "must remain" in refused.json()["detail"]
    assert client.get("/api/auth/me", headers=ada).json()["role"] == "admin"
    # Lifting lim's limit makes a second full admin; then ada may step down.
    client.patch(f"/api/users/{lim_id}", headers=ada, json={"camera_ids": None})
    assert (
        client.patch(f"/api/users/{ada_id}", headers=ada, json={"role": "operator"}).status_code
        == 200
    )
