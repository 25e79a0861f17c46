"""``citybrain user``: add users (password from stdin, never echoed) and make API tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from citybrain.api.main import create_app
from citybrain.commands.users import app as users_app
from citybrain.records import CameraFields
from citybrain.services import Services
from citybrain.store import CameraRepo, Store, UserRepo

PASSWORD = "a very long passphrase"


@pytest.fixture
def settings_file(store: Store, tmp_path: Path) -> Path:
    path = tmp_path / "server.yaml"
    url = store.engine.url.render_as_string(hide_password=False)
    path.write_text(f"data_dir: {tmp_path / 'data'}\ndatabase_url: {url}\n", encoding="utf-8")
    return path


def _run(settings_file: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(users_app, [*args, "--settings", str(settings_file)], input=stdin)
    return result.exit_code, result.output


def test_user_add_reads_the_password_from_stdin_and_the_user_can_log_in(
    store: Store, services: Services, settings_file: Path
) -> None:
    with store.session() as session:
        gate = CameraRepo(session).create(CameraFields(name="gate", source="/videos/gate.mp4")).id
        CameraRepo(session).create(CameraFields(name="yard", source="/videos/yard.mp4"))
    code, output = _run(
        settings_file,
        "add",
        "ann",
        "--role",
        "operator",
        "--cameras",
        "gate",
        stdin=PASSWORD + "\n",
    )
    assert code == 0, output
    assert "added user 'ann' (operator, limited to gate)" in output
    assert PASSWORD not in output
    with store.session() as session:
        user = UserRepo(session).by_username(username="ann")
    assert user is not None and user.camera_ids == {gate}
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    with TestClient(create_app(services)) as client:
        response = client.post("/api/auth/login", json={"username": "ann", "password": PASSWORD})
        assert response.status_code == 200
        headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        assert [c["name"] for c in client.get("/api/cameras", headers=headers).json()["items"]] == [
            "gate"
        ]


def test_user_add_refuses_bad_input(store: Store, settings_file: Path) -> None:
    cases = [
        (["add", "ann", "--role", "operator"], "short\n", "at least 10 characters"),
        (["add", "ann", "--role", "operator", "--cameras", "nowhere"], PASSWORD + "\n",
         "no camera named 'nowhere'"),
        (["add", "a b", "--role", "operator"], PASSWORD + "\n", "user name 'a b'"),
        (["add", "ann", "--role", "king"], PASSWORD + "\n", "king"),
    ]  # fmt: skip
    for args, stdin, words in cases:
        code, output = _run(settings_file, *args, stdin=stdin)
        assert code == 2, (args, output)
        assert words in output, output
        assert PASSWORD not in output
    with store.session() as session:
        assert UserRepo(session).list() == []
    assert _run(settings_file, "add", "ann", "--role", "admin", stdin=PASSWORD + "\n")[0] == 0
    code, output = _run(settings_file, "add", "ann", "--role", "admin", stdin=PASSWORD + "\n")
    assert code == 2 and "already exists" in output


def test_token_is_printed_once_and_works_until_revoked(
    store: Store, services: Services, settings_file: Path
) -> None:
    assert (
        _run(settings_file, "add", "grafana", "--role", "supervisor", stdin=PASSWORD + "\n")[0] == 0
    )
    result = CliRunner().invoke(
        users_app, ["token", "grafana", "--name", "dashboards", "--settings", str(settings_file)]
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("cbt_")
    assert "shown only now" in result.stderr and token not in result.stderr
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(services)) as client:
        me = client.get("/api/auth/me", headers=headers).json()
        assert me["username"] == "grafana"
        token_id = client.get("/api/auth/tokens", headers=headers).json()["items"][0]["id"]
        assert _run(settings_file, "revoke-token", str(token_id)) == (
            0,
            f"revoked token {token_id}\n",
        )
        assert client.get("/api/auth/me", headers=headers).status_code == 401
    assert _run(settings_file, "token", "nobody", "--name", "x")[0] == 2
