"""Cameras: create, read, change, delete; records never show a source's credentials in repr."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from citybrain.errors import StoreError
from citybrain.records import CameraFields, EventState
from citybrain.store import CameraRepo, EventRepo, Store, redacted_source
from citybrain.store.repositories.upserts import upsert_events

SECRET = "hunter2"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://admin:hunter2@10.0.0.5:554/s1", "rtsp://***:***@10.0.0.5:554/s1"),
        ("rtsp://token@cam.example/live", "rtsp://***@cam.example/live"),
        (
            "https://cam.example/mjpeg?token=hunter2&ch=2",
            "https://cam.example/mjpeg?token=***&ch=2",
        ),
        ("http://c/x?apiKey=hunter2&Password=hunter2", "http://c/x?apiKey=***&Password=***"),
        ("rtsp://10.0.0.5/stream", "rtsp://10.0.0.5/stream"),
        ("/srv/video/clip.mp4", "/srv/video/clip.mp4"),
        ("rtsp://a:p@ss@host/s", "rtsp://***:***@host/s"),
    ],
)
def test_redacted_source(url: str, expected: str) -> None:
    assert redacted_source(url) == expected


def test_create_and_read(store: Store) -> None:
    config = {"zones": [{"name": "yard", "polygon": [[0, 0], [1, 0], [1, 1]]}], "anonymise": True}
    with store.session() as session:
        created = CameraRepo(session).create(
            CameraFields(
                name="gate", source=f"rtsp://admin:{SECRET}@10.0.0.5/s", lat=52.52, lon=13.405,
                heading_deg=90.0, fov_deg=70.0, range_m=40.0, config=config,
            )
        )  # fmt: skip
    with store.session() as session:
        repo = CameraRepo(session)
        public = repo.get(camera_id=created.id)
        assert repo.get(camera_id=created.id + 99) is None
        assert repo.by_name(name="gate") == created
    assert public is not None
    assert public == created
    assert SECRET not in repr(public) and SECRET in public.source
    assert (public.lat, public.lon, public.heading_deg, public.fov_deg, public.range_m) == (
        52.52, 13.405, 90.0, 70.0, 40.0)  # fmt: skip
    assert public.config == config and public.enabled
    assert public.created_at.tzinfo is not None
    assert abs(public.created_at - datetime.now(UTC)).total_seconds() < 60


def test_names_are_unique(store: Store, add_camera: Callable[..., int]) -> None:
    add_camera("gate")
    with pytest.raises(StoreError, match="'gate' already exists"), store.session() as session:
        CameraRepo(session).create(CameraFields(name="gate", source="x.mp4"))


def test_list_filters_and_never_leaks(store: Store, add_camera: Callable[..., int]) -> None:
    a = add_camera("b-cam", source=f"rtsp://u:{SECRET}@h/1")
    b = add_camera("a-cam", source=f"rtsp://u:{SECRET}@h/2", enabled=False)
    with store.session() as session:
        repo = CameraRepo(session)
        assert [c.name for c in repo.list()] == ["a-cam", "b-cam"]
        assert [c.id for c in repo.list(camera_ids={a})] == [a]
        assert [c.id for c in repo.list(enabled=False)] == [b]
        assert repo.list(camera_ids=set()) == []
        assert all(SECRET not in repr(c) for c in repo.list())


def test_update(store: Store, add_camera: Callable[..., int]) -> None:
    camera_id = add_camera("gate")
    with store.session() as session:
        before = CameraRepo(session).get(camera_id=camera_id)
        changed = CameraRepo(session).update(
            camera_id=camera_id, changes={"enabled": False, "heading_deg": 180.0}
        )
        assert CameraRepo(session).update(camera_id=camera_id + 1, changes={}) is None
    assert before is not None and changed is not None
    assert not changed.enabled and changed.heading_deg == 180.0
    assert changed.updated_at >= before.updated_at
    with pytest.raises(StoreError, match="unknown camera field"), store.session() as session:
        CameraRepo(session).update(camera_id=camera_id, changes={"colour": "red"})


def test_delete_returns_snapshots_and_cascades(
    store: Store, add_camera: Callable[..., int]
) -> None:
    gone, kept = add_camera("gone"), add_camera("kept")
    when = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        EventState(
            id=f"{i:032x}",
            camera_id=camera_id,
            kind="dwell",
            rule="r",
            started_at=when,
            score=0.5,
            snapshot=snapshot,
        )
        for i, (camera_id, snapshot) in enumerate(
            [(gone, "gone/1.jpg"), (gone, None), (kept, "kept/1.jpg")]
        )
    ]
    with store.session() as session:
        upsert_events(session, rows)
    with store.session() as session:
        assert CameraRepo(session).delete(camera_id=gone) == ["gone/1.jpg"]
        assert CameraRepo(session).delete(camera_id=gone) is None
    with store.session() as session:
        assert [c.id for c in CameraRepo(session).list()] == [kept]
        assert EventRepo(session).get(event_id=f"{2:032x}") is not None
        assert EventRepo(session).get(event_id=f"{0:032x}") is None


def test_an_analysis_source_is_stored_beside_the_source(
    store: Store, add_camera: Callable[..., int]
) -> None:
    sub = f"rtsp://admin:{SECRET}@10.0.0.5/sub"
    camera_id = add_camera("gate", analysis_source=sub)
    plain = add_camera("yard")
    with store.session() as session:
        repo = CameraRepo(session)
        camera, other = repo.get(camera_id=camera_id), repo.get(camera_id=plain)
        assert camera is not None and other is not None
        assert camera.analysis_source == sub and other.analysis_source is None
        assert SECRET not in repr(camera)
        changed = repo.update(camera_id=camera_id, changes={"analysis_source": None})
        assert changed is not None and changed.analysis_source is None
