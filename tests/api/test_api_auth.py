"""Authentication: 401 everywhere but health, login, rate limit, expiry, API tokens, health."""

from __future__ import annotations

import logging
import re
import time

import pytest
from apisupport import FAST_PASSWORDS, PASSWORD, World
from fastapi import FastAPI
from fastapi.testclient import TestClient

from citybrain.records import Role
from citybrain.services.security import hash_api_token, new_api_token
from citybrain.store import TokenRepo, UserRepo


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every operation in the OpenAPI schema, its path parameters filled in."""
    found = []
    for path, operations in app.openapi()["paths"].items():
        concrete = re.sub(r"\{[a-z_]+\}", "1", path)
        found += [(method.upper(), concrete) for method in operations]
    return found


def test_every_route_but_health_needs_a_token(client: TestClient, app: FastAPI) -> None:
    routes = _routes(app)
    assert len(routes) >= 17
    for method, path in routes:
        if path in ("/api/health", "/api/auth/login") or (method, path) == ("POST", "/api/session"):
            continue  # the console's sign-in (/api/session) is a login route too
        for headers in ({}, {"Authorization": "Bearer cb1.forged.token"}, {"Authorization": "x"}):
            response = client.request(method, path, headers=headers)
            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
            assert response.json()["detail"]
    assert client.get("/api/health").status_code == 200


def test_health_reports_store_and_workers(client: TestClient, world: World) -> None:
    assert client.get("/api/health").json() == {"status": "ok", "store": True, "workers": True}
    world.services.cameras.is_ready = False  # type: ignore[attr-defined]
    response = client.get("/api/health")
    assert response.status_code == 503
    assert response.json() == {"status": "degraded", "store": True, "workers": False}


def test_login_gives_a_bearer_token_that_works(client: TestClient, world: World) -> None:
    headers = world.user("ann", Role.OPERATOR)
    me = client.get("/api/auth/me", headers=headers).json()
    assert me == {"username": "ann", "role": "operator", "camera_ids": None}
    response = client.post("/api/auth/login", json={"username": "ann", "password": PASSWORD})
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert world.audit_actions("login")[0]["username"] == "ann"


def test_wrong_password_and_unknown_user_are_401_and_logged_without_password(
    client: TestClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.user("ann", Role.OPERATOR)
    caplog.set_level(logging.DEBUG)
    for name in ("ann", "nobody"):
        response = client.post(
            "/api/auth/login", json={"username": name, "password": "wrong-but-long-Pw9"}
        )
        assert response.status_code == 401
        assert response.json() == {"detail": "wrong user name or password"}
    messages = [r.getMessage() for r in caplog.records]
    assert any("failed login for 'ann'" in m for m in messages)
    assert not any("wrong-but-long-Pw9" in m for m in messages)
    assert {e["username"] for e in world.audit_actions("login.failed")} == {"ann", "nobody"}


def test_failed_logins_are_rate_limited_per_user_and_address(
    client: TestClient, world: World
) -> None:
    world.user("ann", Role.OPERATOR)
    world.user("bob", Role.OPERATOR)
    wrong = {"username": "ann", "password": "not-the-password"}
    codes = [client.post("/api/auth/login", json=wrong).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
    # Locked out even with the right password, until the window has passed.
    right = client.post("/api/auth/login", json={"username": "ANN", "password": PASSWORD})
    assert right.status_code == 429
    assert 1 <= int(right.headers["retry-after"]) <= 60
    assert "too many failed logins" in right.json()["detail"]
    # Another user from the same address is not affected.
    assert world.login("bob")


def test_login_tokens_expire(client: TestClient, world: World, app: FastAPI) -> None:
    world.user("ann", Role.OPERATOR)
    with world.store.session() as session:
        user = UserRepo(session).by_username(username="ann")
    assert user is not None
    tokens = app.state.context.tokens
    issued_long_ago = time.time() - tokens.lifetime_s - 5
    old = tokens.issue(user_id=user.id, password_hash=user.password_hash, now=issued_long_ago)
    response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {old}"})
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
    fresh = tokens.issue(user_id=user.id, password_hash=user.password_hash, now=time.time())
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {fresh}"}).is_success
    tampered = fresh[:-2] + ("AA" if not fresh.endswith("AA") else "BB")
    assert (
        client.get("/api/auth/me", headers={"Authorization": f"Bearer {tampered}"}).status_code
        == 401
    )


def test_new_password_or_disabling_ends_login_tokens(client: TestClient, world: World) -> None:
    headers = world.user("ann", Role.OPERATOR)
    with world.store.session() as session:
        user = UserRepo(session).by_username(username="ann")
        assert user is not None
        UserRepo(session).update(
            user_id=user.id, password_hash=FAST_PASSWORDS.hash("another-pass-1")
        )
    assert client.get("/api/auth/me", headers=headers).status_code == 401
    headers = world.login("ann", "another-pass-1")
    with world.store.session() as session:
        UserRepo(session).update(user_id=user.id, disabled=True)
    assert client.get("/api/auth/me", headers=headers).status_code == 401
    response = client.post(
        "/api/auth/login", json={"username": "ann", "password": "another-pass-1"}
    )
    assert response.status_code == 401


def test_api_tokens_work_until_revoked(client: TestClient, world: World) -> None:
    world.user("grafana", Role.SUPERVISOR)
    admin = world.user("root", Role.ADMIN)
    secret = new_api_token()
    with world.store.session() as session:
        user = UserRepo(session).by_username(username="grafana")
        assert user is not None
        token = TokenRepo(session).create(
            user_id=user.id, name="dashboards", token_hash=hash_api_token(secret)
        )
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/auth/me", headers=headers).json()["username"] == "grafana"
    listed = client.get("/api/auth/tokens", headers=headers).json()["items"]
    assert [(t["id"], t["name"], t["revoked"]) for t in listed] == [(token.id, "dashboards", False)]
    assert listed[0]["last_used_at"] is not None
    assert secret not in str(listed)
    # Another non-admin user cannot revoke it (and cannot tell it exists).
    other = world.user("ann", Role.OPERATOR)
    assert client.delete(f"/api/auth/tokens/{token.id}", headers=other).status_code == 404
    assert client.delete(f"/api/auth/tokens/{token.id}", headers=admin).status_code == 204
    response = client.get("/api/auth/me", headers=headers)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert world.audit_actions("token.revoke")[0]["target"] == str(token.id)


@pytest.mark.parametrize(
    "body",
    [
        {"username": "ann"},
        {"username": "a\x00b", "password": "x"},
        {"username": "ann", "password": "x" * 2000},
        {"username": "", "password": "x"},
    ],
)
def test_malformed_logins_are_422_without_echo(client: TestClient, body: dict[str, str]) -> None:
    response = client.post("/api/auth/login", json=body)
    assert response.status_code == 422
    assert "input" not in response.text and "xxxxxxxx" not in response.text
