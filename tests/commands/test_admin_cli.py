"""What an admin does at the shell: list, disable and enable users, set passwords; change, enable
and disable cameras. Against a real store (SQLite and PostgreSQL), the effect checked through the
API where it has one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from citybrain.api.main import create_app
from citybrain.cli import app
from citybrain.records import CameraFields
from citybrain.services import Services
from citybrain.store import CameraRepo, Store, UserRepo

PASSWORD = "a very long passphrase"
NEW_PASSWORD = "another long passphrase"
ZONES = """\
zones:
  site: {polygon: [[0, 0], [1, 0], [1, 1], [0, 1]]}
rules:
  intruders: {kind: restricted_zone, zone: site, labels: [person]}
"""


@pytest.fixture
def settings_file(store: Store, tmp_path: Path) -> Path:
    path = tmp_path / "server.yaml"
    url = store.engine.url.render_as_string(hide_password=False)
    path.write_text(
        f"data_dir: {tmp_path / 'data'}\ndatabase_url: {url}\nsources: {{file_roots: [/videos]}}\n",
        encoding="utf-8",
    )
    return path


def run(settings_file: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "--settings", str(settings_file)], input=stdin)
    return result.exit_code, result.output


def login(client: TestClient, username: str, password: str) -> int:
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    return response.status_code


@pytest.fixture
def people(store: Store, settings_file: Path) -> Path:
    """An admin ``root``, a second admin ``ada`` and an operator ``ann`` limited to ``gate``."""
    with store.session() as session:
        CameraRepo(session).create(CameraFields(name="gate", source="/videos/gate.mp4"))
    for name, role, extra in (("root", "admin", []), ("ada", "admin", []),
                              ("ann", "operator", ["--cameras", "gate"])):  # fmt: skip
        code, output = run(settings_file, "user", "add", name, "--role", role, *extra,
                           stdin=PASSWORD + "\n")  # fmt: skip
        assert code == 0, output
    return settings_file


def test_user_list_shows_role_state_and_limits(people: Path) -> None:
    run(people, "user", "disable", "ada")
    code, output = run(people, "user", "list")
    assert code == 0, output
    rows = [line.split("\t")[1:] for line in output.splitlines()]
    assert rows == [
        ["ada", "admin", "disabled", "all cameras"],
        ["ann", "operator", "enabled", "gate"],
        ["root", "admin", "enabled", "all cameras"],
    ]
    assert "argon2" not in output


def test_disable_ends_logins_and_tokens_and_enable_restores_them(
    people: Path, services: Services
) -> None:
    code, output = run(people, "user", "token", "ann", "--name", "wall")
    assert code == 0, output
    token = output.strip().splitlines()[-1]
    with TestClient(create_app(services)) as client:
        session_token = client.post(
            "/api/auth/login", json={"username": "ann", "password": PASSWORD}
        ).json()["access_token"]
        for bearer in (token, session_token):
            headers = {"Authorization": f"Bearer {bearer}"}
            assert client.get("/api/auth/me", headers=headers).status_code == 200

        assert run(people, "user", "disable", "ann") == (0, "user ann disabled\n")
        assert login(client, "ann", PASSWORD) == 401
        for bearer in (token, session_token):
            headers = {"Authorization": f"Bearer {bearer}"}
            assert client.get("/api/auth/me", headers=headers).status_code == 401

        assert run(people, "user", "enable", "ann") == (0, "user ann enabled\n")
        assert login(client, "ann", PASSWORD) == 200
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/auth/me", headers=headers).status_code == 200


def test_the_last_full_admin_cannot_be_disabled(people: Path, store: Store) -> None:
    assert run(people, "user", "disable", "ada")[0] == 0
    code, output = run(people, "user", "disable", "root")
    assert code == 2
    assert "last enabled admin" in output
    with store.session() as session:
        root = UserRepo(session).by_username(username="root")
    assert root is not None and not root.disabled
    assert run(people, "user", "disable", "nobody") == (2, "error: no user named 'nobody'\n")


def test_passwd_changes_the_password_and_ends_old_sessions(
    people: Path, services: Services
) -> None:
    with TestClient(create_app(services)) as client:
        old = client.post("/api/auth/login", json={"username": "ann", "password": PASSWORD}).json()[
            "access_token"
        ]
        code, output = run(people, "user", "passwd", "ann", stdin=NEW_PASSWORD + "\n")
        assert (code, output) == (0, "password of ann changed\n")
        assert NEW_PASSWORD not in output
        assert login(client, "ann", PASSWORD) == 401
        assert login(client, "ann", NEW_PASSWORD) == 200
        headers = {"Authorization": f"Bearer {old}"}
        assert client.get("/api/auth/me", headers=headers).status_code == 401
    code, output = run(people, "user", "passwd", "ann", stdin="short\n")
    assert code == 2 and "at least 10 characters" in output
    assert run(people, "user", "passwd", "nobody", stdin=NEW_PASSWORD + "\n")[0] == 2


def test_camera_edit_changes_only_what_is_given_validated_as_add(
    store: Store, settings_file: Path, tmp_path: Path
) -> None:
    config = tmp_path / "gate.yaml"
    config.write_text(ZONES)
    code, output = run(settings_file, "camera", "add", "gate", "/videos/gate.mp4",
                       "--lat", "52.5", "--lon", "13.4")  # fmt: skip
    assert code == 0, output
    secret_source = "rtsp://viewer:secret@10.0.0.7/stream"
    code, output = run(settings_file, "camera", "edit", "gate", "--source", secret_source,
                       "-c", str(config), "--fov", "90")  # fmt: skip
    assert code == 0, output
    assert "secret" not in output and "changed: config, fov_deg, source" in output
    with store.session() as session:
        camera = CameraRepo(session).by_name(name="gate")
    assert camera is not None
    assert camera.source == secret_source
    assert camera.config["rules"]["intruders"]["zone"] == "site"
    assert (camera.lat, camera.lon, camera.fov_deg) == (52.5, 13.4, 90.0)

    bad = tmp_path / "bad.yaml"
    bad.write_text(ZONES.replace("labels: [person]", "labels: [persn]"))
    cases = [
        (["-c", str(bad)], f"{bad}:4: rules.intruders.labels: unknown label(s) ['persn']"),
        (["--range", "0"], "range_m"),
        (["--source", "a\x01b"], "source"),
        ([], "nothing to change"),
    ]
    for args, words in cases:
        code, output = run(settings_file, "camera", "edit", "gate", *args)
        assert code == 2, (args, output)
        assert words in output, output
    with store.session() as session:
        unchanged = CameraRepo(session).by_name(name="gate")
    assert unchanged == camera
    assert run(settings_file, "camera", "edit", "nowhere", "--fov", "10")[0] == 2


def test_camera_disable_and_enable(store: Store, settings_file: Path) -> None:
    assert run(settings_file, "camera", "add", "gate", "/videos/gate.mp4")[0] == 0
    assert run(settings_file, "camera", "disable", "gate") == (0, "camera gate disabled\n")
    code, output = run(settings_file, "camera", "list")
    assert code == 0
    assert output.split("\t")[1:3] == ["gate", "disabled"]
    assert run(settings_file, "camera", "enable", "gate") == (0, "camera gate enabled\n")
    with store.session() as session:
        camera = CameraRepo(session).by_name(name="gate")
    assert camera is not None and camera.enabled
    assert run(settings_file, "camera", "disable", "nowhere")[0] == 2


def test_camera_add_refuses_a_bad_value_without_a_traceback(settings_file: Path) -> None:
    code, output = run(settings_file, "camera", "add", "gate", "/videos/gate.mp4", "--range", "0")
    assert code == 2
    assert output.startswith("error: range_m:") and "Traceback" not in output


def test_store_commands_print_only_their_result(tmp_path: Path) -> None:
    """No Alembic narration on stderr: just the command's own lines."""
    citybrain = Path(sys.executable).with_name("citybrain")
    data = tmp_path / "data"
    for args in (["camera", "add", "gate", "rtsp://10.0.0.20/stream1"], ["camera", "list"]):
        result = subprocess.run(
            [str(citybrain), *args, "--data", str(data)],
            capture_output=True, text=True, timeout=60, check=False,
            env={**os.environ, "CITYBRAIN_DATA": ""},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        assert "gate" in result.stdout


def test_camera_sources_follow_the_servers_source_policy(settings_file: Path) -> None:
    for source in ("/etc/passwd", "file:///proc/self/environ", "http://169.254.169.254/x"):
        code, output = run(settings_file, "camera", "add", "probe", source)
        assert code == 2 and "refused" in output, output
    assert run(settings_file, "camera", "add", "gate", "/videos/../videos/gate.mp4")[0] == 0
    code, output = run(settings_file, "camera", "edit", "gate", "--source", "/etc/shadow")
    assert code == 2 and "media root" in output


def test_camera_analysis_source_is_added_changed_cleared_and_policed(
    store: Store, settings_file: Path
) -> None:
    sub = "rtsp://viewer:secret@10.0.0.7/sub"
    code, output = run(settings_file, "camera", "add", "gate", "rtsp://viewer:secret@10.0.0.7/main",
                       "--analysis-source", sub)  # fmt: skip
    assert code == 0, output
    assert "secret" not in output and "(analyses rtsp://***:***@10.0.0.7/sub)" in output
    with store.session() as session:
        camera = CameraRepo(session).by_name(name="gate")
    assert camera is not None and camera.analysis_source == sub
    code, output = run(settings_file, "camera", "edit", "gate", "--analysis-source", "/etc/shadow")
    assert code == 2 and "media root" in output, output
    code, output = run(settings_file, "camera", "edit", "gate", "--analysis-source", "")
    assert code == 0 and "changed: analysis_source" in output, output
    with store.session() as session:
        cleared = CameraRepo(session).by_name(name="gate")
    assert cleared is not None and cleared.analysis_source is None
    code, output = run(settings_file, "camera", "edit", "gate", "--fov", "40")  # source unchanged
    assert code == 0 and "changed: fov_deg" in output, output
    code, output = run(settings_file, "camera", "add", "yard", "/videos/gate.mp4",
                       "--analysis-source", "http://169.254.169.254/x")  # fmt: skip
    assert code == 2 and "refused" in output, output
