"""Helpers of the API tests (importable: conftest puts this folder on ``sys.path``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from citybrain.core.events import new_event_id
from citybrain.records import CameraFields, EventState, Role
from citybrain.services import Services
from citybrain.services.security import Passwords
from citybrain.store import AuditRepo, CameraRepo, Store, UserRepo
from citybrain.store.repositories.upserts import upsert_events
from support.recording import RecordingCameras

__all__ = [
    "FAST_PASSWORDS",
    "PASSWORD",
    "SECRET",
    "SOURCE",
    "T0",
    "RecordingCameras",
    "World",
]

PASSWORD = "correct horse battery"
SECRET = "hunter2-s3cr3t"
SOURCE = f"rtsp://admin:{SECRET}@10.1.2.3:554/stream1?token={SECRET}x&ch=1"
#: Stream t=0 of the test events: on an hour, two days ago (inside the 72 h retention, which
#: the app's background job applies at start-up).
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=48)

# Real argon2id, with cheap parameters so that a test's logins do not dominate its time.
FAST_PASSWORDS = Passwords(PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))


@dataclass
class World:
    """Builds users, cameras and events in the store, and logs in through the API."""

    client: TestClient
    services: Services
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def store(self) -> Store:
        return self.services.store

    def user(self, name: str, role: Role, cameras: tuple[int, ...] = ()) -> dict[str, str]:
        """Add a user and log in; returns the Authorization header."""
        with self.store.session() as session:
            UserRepo(session).create(
                username=name,
                password_hash=FAST_PASSWORDS.hash(PASSWORD),
                role=role,
                camera_ids=cameras,
            )
        return self.login(name)

    def login(self, name: str, password: str = PASSWORD) -> dict[str, str]:
        response = self.client.post(
            "/api/auth/login", json={"username": name, "password": password}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def camera(self, name: str, source: str = SOURCE, **fields: Any) -> int:
        with self.store.session() as session:
            return CameraRepo(session).create(CameraFields(name=name, source=source, **fields)).id

    def event(self, camera_id: int, **overrides: Any) -> str:
        """Store one event (as the engine's writer would); returns its id."""
        values: dict[str, Any] = dict(
            id=new_event_id(), camera_id=camera_id, kind="restricted_zone", rule="intruders",
            zone="site", line=None, label="person", track_id=1, started_at=T0, ended_at=None,
            score=0.9, bbox=[0.1, 0.2, 0.3, 0.4], details={}, snapshot=None,
        )  # fmt: skip
        values.update(overrides)
        with self.store.session() as session:
            upsert_events(session, [EventState(**values)])
        return values["id"]

    def audit_actions(self, action: str) -> list[dict[str, Any]]:
        with self.store.session() as session:
            page = AuditRepo(session).search(action=action, limit=500)
        return [
            {"username": e.username, "camera_id": e.camera_id, "target": e.target,
             "client": e.client, "at": e.at, "detail": e.detail}
            for e in page.items
        ]  # fmt: skip
