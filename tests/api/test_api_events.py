"""Events: filters, pagination, acknowledge/resolve, snapshots (audited, traversal-proof), stats."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from apisupport import T0, World
from fastapi.testclient import TestClient

from citybrain.records import LineCountRecord, Role
from citybrain.store import CountRepo

JPEG = b"\xff\xd8\xff\xe0" + b"anonymised snapshot" + b"\xff\xd9"


def _ids(response: object) -> list[str]:
    return [e["id"] for e in response.json()["items"]]  # type: ignore[attr-defined]


def test_filters_and_pagination(client: TestClient, world: World) -> None:
    gate, yard = world.camera("gate"), world.camera("yard")
    ids = [
        world.event(gate, started_at=T0 + timedelta(minutes=i), kind=kind, zone=zone)
        for i, (kind, zone) in enumerate(
            [("dwell", "site"), ("occupancy", "site"), ("dwell", "road"), ("dwell", "site")]
        )
    ]
    other = world.event(yard, started_at=T0 + timedelta(minutes=10))
    headers = world.user("ann", Role.OPERATOR)
    everything = client.get("/api/events", headers=headers).json()
    assert [e["id"] for e in everything["items"]] == [other, *reversed(ids)]
    assert (everything["total"], everything["total_exact"]) == (5, True)

    def query(**params: object) -> list[str]:
        response = client.get("/api/events", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return _ids(response)

    assert query(camera=yard) == [other]
    assert query(camera=[gate, yard], kind="dwell") == [ids[3], ids[2], ids[0]]
    assert query(kind=["dwell", "occupancy"], zone="site") == [ids[3], ids[1], ids[0]]
    assert query(**{"from": (T0 + timedelta(minutes=1)).isoformat(),
                    "to": (T0 + timedelta(minutes=3)).isoformat()}) == [ids[2], ids[1]]  # fmt: skip
    naive = (T0 + timedelta(minutes=2)).replace(tzinfo=None).isoformat()
    assert query(**{"from": naive}) == [other, ids[3], ids[2]]  # naive = UTC
    assert query(status="resolved") == []

    first = client.get("/api/events", params={"limit": 2}, headers=headers).json()
    assert (len(first["items"]), first["total"], first["limit"]) == (2, 5, 2)
    second = client.get("/api/events", params={"limit": 2, "offset": 2}, headers=headers).json()
    by_cursor = client.get(
        "/api/events", params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers
    ).json()
    assert _ids_of(second) == _ids_of(by_cursor) == [ids[2], ids[1]]
    bad_queries = [{"limit": 0}, {"limit": 501}, {"cursor": "bm9wZQ"}, {"status": "lost"},
                   {"cursor": first["next_cursor"], "offset": 1},
                   {"from": "9999-12-31T23:00-05:00"}]  # fmt: skip
    for bad in bad_queries:
        response = client.get("/api/events", params=bad, headers=headers)
        assert response.status_code == 422, (bad, response.text)


def _ids_of(page: dict[str, list[dict[str, str]]]) -> list[str]:
    return [e["id"] for e in page["items"]]


def test_acknowledge_then_resolve_records_who_and_when(client: TestClient, world: World) -> None:
    event_id = world.event(world.camera("gate"))
    ann = world.user("ann", Role.OPERATOR)
    bob = world.user("bob", Role.SUPERVISOR)
    acked = client.post(f"/api/events/{event_id}/acknowledge", headers=ann)
    assert acked.status_code == 200, acked.text
    assert (acked.json()["status"], acked.json()["acknowledged_by"]) == ("acknowledged", "ann")
    assert acked.json()["acknowledged_at"] is not None
    again = client.post(f"/api/events/{event_id}/acknowledge", headers=bob)
    assert again.status_code == 409 and "only an open event" in again.json()["detail"]
    resolved = client.post(
        f"/api/events/{event_id}/resolve", json={"note": "false alarm: a cleaner"}, headers=bob
    ).json()
    assert (resolved["status"], resolved["resolved_by"], resolved["note"]) == (
        "resolved", "bob", "false alarm: a cleaner",
    )  # fmt: skip
    assert resolved["acknowledged_by"] == "ann" and resolved["resolved_at"] is not None
    assert client.post(f"/api/events/{event_id}/resolve", headers=ann).status_code == 409
    stored = client.get(f"/api/events/{event_id}", headers=ann).json()
    assert stored["status"] == "resolved" and stored["note"] == "false alarm: a cleaner"
    assert [e["username"] for e in world.audit_actions("event.resolve")] == ["bob"]
    auditor = world.user("audrey", Role.AUDITOR)
    other = world.event(1)
    assert client.post(f"/api/events/{other}/acknowledge", headers=auditor).status_code == 403
    assert client.post("/api/events/nope/resolve", headers=ann).status_code == 404


def _with_snapshot(world: World, camera_id: int, stored: str) -> str:
    return world.event(camera_id, snapshot=stored)


def test_every_snapshot_read_is_audited(client: TestClient, world: World, tmp_path: Path) -> None:
    gate = world.camera("gate")
    media = world.services.media
    event_id = world.event(gate)
    stored = media.save_snapshot(camera_id=gate, event_id=event_id, jpeg=JPEG, at=T0)
    world.event(gate, id=event_id, snapshot=stored)
    ann = world.user("ann", Role.OPERATOR)
    event = client.get(f"/api/events/{event_id}", headers=ann).json()
    assert event["snapshot_url"] == f"/api/events/{event_id}/snapshot.jpg"
    for _ in range(3):
        response = client.get(event["snapshot_url"], headers=ann)
        assert response.status_code == 200
        assert response.content == JPEG and response.headers["content-type"] == "image/jpeg"
    reads = world.audit_actions("snapshot.read")
    assert len(reads) == 3
    assert {(r["username"], r["camera_id"], r["target"], r["client"]) for r in reads} == {
        ("ann", gate, event_id, "testclient")
    }
    auditor = world.user("audrey", Role.AUDITOR)
    assert client.get(event["snapshot_url"], headers=auditor).status_code == 403
    no_snapshot = world.event(gate)
    assert client.get(f"/api/events/{no_snapshot}/snapshot.jpg", headers=ann).status_code == 404
    assert len(world.audit_actions("snapshot.read")) == 3


def test_snapshot_paths_cannot_leave_the_media_folder(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    gate = world.camera("gate")
    media_root: Path = client.app.state.context.services.media.root  # type: ignore[attr-defined]
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(JPEG + b"SECRET")
    (media_root / "snapshots").mkdir(parents=True, exist_ok=True)
    os.symlink(outside, media_root / "snapshots" / "link.jpg")
    ann = world.user("ann", Role.OPERATOR)
    for stored in ("../outside.jpg", "../../outside.jpg", str(outside), "snapshots/link.jpg",
                   "snapshots/../../outside.jpg", "/etc/passwd"):  # fmt: skip
        event_id = _with_snapshot(world, gate, stored)
        response = client.get(f"/api/events/{event_id}/snapshot.jpg", headers=ann)
        assert response.status_code == 404, stored
        assert b"SECRET" not in response.content
    for path in ("/api/events/..%2F..%2Foutside.jpg/snapshot.jpg",
                 "/api/events/..%2Foutside/snapshot.jpg",
                 "/api/events/%2Fetc%2Fpasswd/snapshot.jpg",
                 "/api/events/..\\outside/snapshot.jpg"):  # fmt: skip
        response = client.get(path, headers=ann)
        assert response.status_code in (404, 422), (path, response.status_code)
        assert b"SECRET" not in response.content
    assert world.audit_actions("snapshot.read") == []


def test_events_stats_and_snapshots_of_hidden_cameras_are_404(
    client: TestClient, world: World
) -> None:
    mine, theirs = world.camera("mine"), world.camera("theirs")
    media = world.services.media
    visible = world.event(mine)
    hidden = world.event(theirs, kind="occupancy")
    stored = media.save_snapshot(camera_id=theirs, event_id=hidden, jpeg=JPEG, at=T0)
    world.event(theirs, id=hidden, kind="occupancy", snapshot=stored)
    with world.store.session() as session:
        CountRepo(session).add(rows=[
            LineCountRecord(camera_id=cam, rule="counts", line="gate", interval_start=T0,
                            interval_seconds=60.0, direction="in", label="person", count=n)
            for cam, n in ((mine, 3), (theirs, 7))
        ])  # fmt: skip
    ann = world.user("ann", Role.OPERATOR, cameras=(mine,))
    assert _ids(client.get("/api/events", headers=ann)) == [visible]
    assert _ids(client.get("/api/events", params={"camera": theirs}, headers=ann)) == []
    for method, path in (("GET", f"/api/events/{hidden}"),
                         ("GET", f"/api/events/{hidden}/snapshot.jpg"),
                         ("POST", f"/api/events/{hidden}/acknowledge"),
                         ("POST", f"/api/events/{hidden}/resolve")):  # fmt: skip
        response = client.request(method, path, headers=ann)
        assert response.status_code == 404, (method, path)
        assert response.json() == {"detail": f"event {hidden} not found"} or "snapshot" in path
    stats = client.get("/api/stats", headers=ann).json()
    assert stats["per_camera"] == [{"key": str(mine), "count": 1}]
    assert stats["per_kind"] == [{"key": "restricted_zone", "count": 1}]
    assert [(s["camera_id"], s["count"]) for s in stats["events"]] == [(mine, 1)]
    assert [(t["camera_id"], t["count"]) for t in stats["lines"]] == [(mine, 3)]
    assert "theirs" not in str(stats) and "occupancy" not in str(stats)
    everything = client.get("/api/stats", headers=world.user("root", Role.ADMIN)).json()
    assert {c["key"]: c["count"] for c in everything["per_camera"]} == {
        str(mine): 1,
        str(theirs): 1,
    }
    assert sorted(t["count"] for t in everything["lines"]) == [3, 7]
    assert everything["events"][0]["bucket_start"].startswith(T0.isoformat()[:19])


# The store's time_bucket leaves its unit out of SQLAlchemy's statement-cache key, so on one
# engine a "day" query after an "hour" one reuses the hour SQL (reported to the store's engineer;
# remove this mark with the fix).
def test_stats_buckets_and_filters(client: TestClient, world: World) -> None:
    gate = world.camera("gate")
    for minutes in (0, 30, 90, 60 * 26):
        world.event(gate, started_at=T0 + timedelta(minutes=minutes))
    admin = world.user("root", Role.ADMIN)
    # T0 is on an hour; whether the first three events share a day depends on which hour.
    same_day = (T0 + timedelta(minutes=90)).date() == T0.date()
    for bucket, expected in (("hour", [2, 1, 1]), ("day", [3, 1] if same_day else [2, 1, 1])):
        stats = client.get("/api/stats", params={"bucket": bucket}, headers=admin).json()
        assert [s["count"] for s in stats["events"]] == expected, bucket
        if bucket == "day":
            assert all(s["bucket_start"].endswith("T00:00:00Z") for s in stats["events"])
        until = (T0 + timedelta(hours=2)).isoformat()
        bounded = client.get("/api/stats", params={"to": until, "bucket": bucket}, headers=admin)
        assert sum(s["count"] for s in bounded.json()["events"]) == 3
