"""The operator console in a real browser against a real server with the demo cameras.

One server and one browser for the module; each test signs in through the form as the user it
needs. About 2-3 minutes on 2 cores (most of it the demo cameras starting and finding events).
"""

from __future__ import annotations

import time
from contextlib import closing
from typing import Any

import pytest

from e2e.serving import ServerProcess
from support.citydata_samples import viz_collection, viz_feature

pytestmark = pytest.mark.slow

NAV = {
    "admin": ["Map", "Live", "Incidents", "Dashboard", "Cameras", "Users", "Webhooks"],
    "operator": ["Map", "Live", "Incidents", "Dashboard"],
    "auditor": ["Map", "Dashboard", "Audit"],
}
VIDEO_PATHS = ("/live.mjpeg", "/frame.jpg", "/snapshot.jpg", "/api/live/wall")


def cameras_of(server: ServerProcess, user: str) -> list[dict[str, Any]]:
    with closing(server.client(user)) as client:
        return list(client.get("/api/cameras").json()["items"])


def nav_links(watched: Any) -> list[str]:
    nav = watched.page.get_by_role("navigation", name="Main")
    return [link.inner_text() for link in nav.get_by_role("link").all()]


def markers_on_map(watched: Any) -> int:
    """Cameras shown on the map: single markers plus the counts of clusters."""
    return int(
        watched.page.evaluate(
            """() => document.querySelectorAll('.map .cam-marker').length +
                [...document.querySelectorAll('.map .cam-cluster')]
                  .reduce((n, c) => n + Number(c.textContent), 0)"""
        )
    )


def test_sign_in_then_every_camera_is_on_the_map_and_every_page_renders(
    sign_in: Any, console_server: ServerProcess
) -> None:
    cameras = cameras_of(console_server, "ada")
    assert len(cameras) == 5 and all(c["lat"] is not None for c in cameras)
    ada = sign_in("ada")
    assert nav_links(ada) == NAV["admin"]
    ada.go("map", "Map")
    ada.until(f"document.querySelectorAll('.camera-list li').length === {len(cameras)}")
    ada.until("document.querySelectorAll('.map .cam-marker, .map .cam-cluster').length > 0")
    assert markers_on_map(ada) == len(cameras)
    listed = ada.page.locator(".camera-list li").all_inner_texts()
    assert all(any(c["name"] in text for text in listed) for c in cameras)
    # The camera list's entry (the marker is a button of the same name too).
    ada.page.locator(".camera-list").get_by_role("button", name="demo-lobby").click()
    ada.page.get_by_role("heading", name="demo-lobby").wait_for()
    ada.page.locator(".map .cam-marker").first.wait_for()
    ada.shoot("map")
    for hash_, heading, shot in (
        ("dashboard", "Dashboard", "dashboard"),
        ("cameras", "Cameras", "cameras"),
        ("users", "Users", "users"),
        (f"cameras/{cameras[0]['id']}", f"Camera: {cameras[0]['name']}", "camera-setup"),
    ):
        ada.go(hash_, heading)
        ada.page.wait_for_timeout(500)
        ada.shoot(shot)
    # Webhooks: one added through the form shows its signing secret once, then in the list.
    ada.go("webhooks", "Webhooks")
    ada.page.get_by_role("button", name="Add webhook").click()
    ada.page.get_by_label("URL").fill("http://127.0.0.1:9/hook")
    ada.page.get_by_role("dialog").get_by_role("button", name="Add webhook").click()
    ada.page.locator("pre.secret").wait_for()
    assert ada.page.locator("pre.secret").inner_text().startswith("whsec_")
    ada.page.get_by_role("cell", name="http://127.0.0.1:9/hook").wait_for()
    ada.shoot("webhooks")
    ada.page.keyboard.press("?")
    ada.page.get_by_role("heading", name="Keyboard shortcuts").wait_for()
    ada.page.keyboard.press("Escape")
    with closing(console_server.client()) as anonymous:
        docs = anonymous.get("/docs")
    assert docs.status_code == 200 and "swagger-ui-bundle.js" in docs.text
    ada.page.goto(f"{console_server.url}/docs")
    ada.page.locator(".swagger-ui .opblock").first.wait_for(timeout=30_000)
    ada.shoot("docs")


def test_a_live_tile_shows_changing_frames_and_only_tiles_on_screen_stream(sign_in: Any) -> None:
    opa = sign_in("opa")
    opa.go("live", "Live")
    opa.page.get_by_role("button", name="4", exact=True).click()
    tile = opa.page.locator(".tile").first
    tile.locator("img[src^='blob:']").wait_for(timeout=60_000)

    def picture() -> str:
        return str(
            tile.evaluate(
                """(el) => { const img = el.querySelector('img');
                   const c = document.createElement('canvas'); c.width = img.naturalWidth;
                   c.height = img.naturalHeight;
                   c.getContext('2d').drawImage(img, 0, 0); return c.toDataURL('image/png'); }"""
            )
        )

    first = picture()
    deadline = time.monotonic() + 30
    while picture() == first:
        assert time.monotonic() < deadline, "the live tile's picture did not change"
        opa.page.wait_for_timeout(300)
    assert opa.page.locator(".tile").count() == 4
    assert opa.page.locator(".tile-health").first.inner_text().strip() != ""
    opa.shoot("live")
    shown = {
        int(i)
        for i in opa.page.locator(".tile").evaluate_all("ts => ts.map(t => t.dataset.camera)")
    }
    streamed = set()
    for url in opa.paths("/api/live/wall.mjpeg"):
        streamed |= {int(part.split("=")[1]) for part in url.split("?")[1].split("&")}
    assert streamed and streamed <= shown, "a camera off screen was streamed"
    assert not opa.paths("/live.mjpeg"), "tiles must share the wall stream"
    opa.page.keyboard.press("Tab")
    tile.focus()
    opa.page.keyboard.press("Enter")
    opa.page.get_by_role("button", name="Back to the wall").wait_for()
    assert opa.page.locator(".tile").count() == 1


def test_a_live_incident_arrives_and_is_acknowledged_by_keyboard(
    sign_in: Any, console_server: ServerProcess
) -> None:
    opa = sign_in("opa")
    opa.go("incidents", "Incidents")
    # Keys act on the rows once the stored page is in (a user cannot see rows before that).
    opa.until("document.querySelector('table.incidents').ariaBusy === 'false'")
    fresh = opa.page.locator("table.incidents tr.fresh").first
    fresh.wait_for(timeout=120_000)  # a new incident pushed over SSE from a demo clip
    event_id = fresh.get_attribute("data-id")
    assert event_id
    opa.page.locator("table.incidents tbody tr").first.focus()
    opa.page.keyboard.press("Home")
    focused = opa.page.evaluate("document.activeElement.dataset.id")
    opa.page.keyboard.press("a")
    with closing(console_server.client("opa")) as client:
        deadline = time.monotonic() + 15
        while (event := client.get(f"/api/events/{focused}").json())["status"] != "acknowledged":
            assert time.monotonic() < deadline, "not acknowledged"
            # Not time.sleep: the page's requests pass through this process's route handler,
            # which runs only while Playwright is called (a sleep held the POST for 15 s).
            opa.page.wait_for_timeout(300)
    assert event["acknowledged_by"] == "opa"
    opa.page.locator(f"tr[data-id='{focused}'] .pill.acknowledged").wait_for()
    opa.page.keyboard.press("?")
    opa.page.get_by_role(
        "cell", name="Acknowledge the selected (or the focused) incidents"
    ).wait_for()
    opa.page.keyboard.press("Escape")
    opa.shoot("incidents")
    opa.page.goto(f"{console_server.url}/#/incidents/{focused}")
    opa.page.get_by_role("heading", name="History").wait_for()
    assert "Acknowledged by opa" in opa.page.locator("ol.history").inner_text()
    opa.shoot("incident")


def test_a_zone_drawn_on_the_frame_is_saved_and_validated_by_the_server(
    sign_in: Any, console_server: ServerProcess
) -> None:
    [camera] = [c for c in cameras_of(console_server, "sam") if c["name"] == "demo-car-park"]
    sam = sign_in("sam")
    sam.go(f"cameras/{camera['id']}", "Camera: demo-car-park")
    sam.until("document.querySelector('img.frame')?.naturalWidth > 0", timeout=60)
    sam.page.get_by_role("button", name="Draw zone").click()
    stage = sam.page.locator(".frame-stage")
    box = stage.bounding_box()
    assert box is not None
    for fx, fy in ((0.1, 0.6), (0.5, 0.6), (0.5, 0.9), (0.1, 0.9)):
        # One click each, apart in time (not a double click); the stage scrolls into view.
        stage.click(position={"x": fx * box["width"], "y": fy * box["height"]}, delay=50)
        sam.page.wait_for_timeout(350)
    sam.page.get_by_role("button", name="Finish zone").click()
    name = sam.page.get_by_label("Name of zone 1")
    name.fill("loading-bay")
    name.dispatch_event("change")
    sam.page.get_by_role("button", name="Add rule").click()
    rule = sam.page.locator("fieldset.rule").last
    rule.get_by_label("Kind").select_option("dwell")
    rule = sam.page.locator("fieldset.rule").last
    rule.get_by_label("Zone (required)").select_option("loading-bay")
    rule.get_by_label("Seconds (required)").fill("30")
    rule.get_by_label("Seconds (required)").dispatch_event("change")
    labels = rule.get_by_label("Labels (required)")
    labels.fill("car, unicorn")
    labels.dispatch_event("change")
    sam.page.get_by_role("button", name="Save").click()
    error = rule.locator(".field", has_text="Labels (required)").locator(".field-error")
    error.wait_for()
    assert "unicorn" in error.inner_text()  # the server's message, next to its field
    sam.shoot("camera-setup-error")
    labels.fill("car, truck")
    labels.dispatch_event("change")
    sam.page.get_by_role("button", name="Save").click()
    sam.page.get_by_text("Saved: the camera runs with it now.").wait_for()
    with closing(console_server.client("sam")) as client:
        stored = client.get(f"/api/cameras/{camera['id']}").json()["config"]
    polygon = stored["zones"]["loading-bay"]["polygon"]
    assert len(polygon) == 4
    assert all(
        abs(a - b) < 0.03
        for p, q in zip(polygon, [[0.1, 0.6], [0.5, 0.6], [0.5, 0.9], [0.1, 0.9]], strict=True)
        for a, b in zip(p, q, strict=True)
    )
    [saved] = [r for r in stored["rules"].values() if r["kind"] == "dwell"]
    assert (
        saved["zone"] == "loading-bay"
        and saved["labels"] == ["car", "truck"]
        and saved["seconds"] == 30
    )
    assert "entry" in stored["lines"]  # what was there stays


def test_an_operator_limited_to_one_camera_sees_only_it_everywhere(
    sign_in: Any, console_server: ServerProcess
) -> None:
    all_cameras = {c["name"]: c["id"] for c in cameras_of(console_server, "ada")}
    lobby = all_cameras["demo-lobby"]
    olu = sign_in("olu")
    assert nav_links(olu) == NAV["operator"]
    olu.go("map", "Map")
    olu.until("document.querySelectorAll('.camera-list li').length === 1")
    assert olu.page.locator(".camera-list li").inner_text().startswith("demo-lobby")
    olu.page.locator(".map .cam-marker").first.wait_for()
    assert markers_on_map(olu) == 1
    olu.go("live", "Live")
    olu.page.locator(".tile").first.wait_for()
    assert olu.page.locator(".tile figcaption").all_inner_texts() == ["demo-lobby"]
    olu.go("incidents", "Incidents")
    options = olu.page.get_by_label("Camera").locator("option").all_inner_texts()
    assert options == ["Any camera", "demo-lobby"]
    cells = olu.page.locator("table.incidents tbody tr td:nth-child(5)").all_inner_texts()
    assert set(cells) <= {"demo-lobby", ""}
    olu.go("dashboard", "Dashboard")
    olu.page.locator(".health-summary").wait_for()
    rows = olu.page.locator(".panel table.grid tbody tr td:first-child").all_inner_texts()
    assert rows == ["demo-lobby"]
    olu.shoot("limited-operator-dashboard")
    others = [i for n, i in all_cameras.items() if n != "demo-lobby"]
    asked = " ".join(olu.requests)
    for other in others:
        assert f"/api/cameras/{other}" not in asked and f"camera={other}" not in asked
    assert f"camera={lobby}" in asked


def test_an_auditor_sees_the_audit_view_and_no_video(sign_in: Any) -> None:
    aud = sign_in("aud")
    assert nav_links(aud) == NAV["auditor"]
    aud.page.get_by_role("heading", name="Audit", exact=True).wait_for()  # the auditor's home
    aud.page.locator("table.grid tbody tr").first.wait_for()
    text = aud.page.locator("table.grid tbody").inner_text()
    assert "login" in text
    aud.page.get_by_label("Action").select_option("login")
    aud.page.wait_for_timeout(800)
    actions = aud.page.locator("table.grid tbody tr td:nth-child(3)").all_inner_texts()
    assert actions and set(actions) == {"login"}
    aud.shoot("audit")
    aud.page.goto(f"{aud.server.url}/#/live")  # not theirs: back to the audit view
    aud.page.get_by_role("heading", name="Audit", exact=True).wait_for()
    aud.go("map", "Map")
    aud.page.get_by_role("button", name="demo-lobby").click()
    aud.page.get_by_role("heading", name="Recent incidents").wait_for()
    aud.page.wait_for_timeout(1000)
    assert aud.page.locator("img[src*='/api/']").count() == 0
    for path in VIDEO_PATHS:
        assert not aud.paths(path), f"an auditor's page asked for video: {aud.paths(path)}"


def test_a_site_is_drawn_on_the_map_and_shown_on_an_incident(
    sign_in: Any, console_server: ServerProcess
) -> None:
    """Road works in the demo warehouse camera's view (VIZ Berlin's shape): its outline on the
    map, and on the page of an incident that camera raises afterwards."""
    point = {"type": "Point", "coordinates": [13.40432, 52.519888]}  # 25 m into its view
    feed = viz_collection(viz_feature(point, id="77/2026", valid_from="01.01.2020 00:00",
                                      valid_to="31.12.2099 23:59"))  # fmt: skip
    with closing(console_server.client("ada")) as client:
        imported = client.post(
            "/api/sites/import", files={"file": ("viz.json", feed.encode())},
            data={"preset": "berlin-viz"},
        )  # fmt: skip
        assert imported.status_code == 200, imported.text
        since = time.time()
        warehouse = next(
            c["id"] for c in client.get("/api/cameras").json()["items"]
            if c["name"] == "demo-warehouse"
        )  # fmt: skip
        detail = client.get(f"/api/cameras/{warehouse}").json()
        assert [s["name"] for s in detail["sites"]] == [
            "Wolfensteindamm zwischen Schloßstraße und Bismarckstraße"]  # fmt: skip
    ada = sign_in("ada")
    ada.go("map", "Map")
    ada.until("document.querySelectorAll('.map path.site.kind-road_works').length === 1")
    ada.page.get_by_label("Coverage gaps").check()  # the parts of sites no camera sees
    ada.until("document.querySelectorAll('.map path.uncovered').length > 0")
    ada.shoot("map-sites")

    with closing(console_server.client("ada")) as client:
        deadline = time.monotonic() + 90
        while True:
            events = client.get("/api/events", params={"camera": warehouse, "limit": 20}).json()
            fresh = [e for e in events["items"] if e["context"].get("sites")]
            if fresh:
                break
            assert time.monotonic() < deadline, f"no event with site context since {since}"
            time.sleep(1.0)
    ada.page.goto(f"{console_server.url}/#/incidents/{fresh[0]['id']}")
    section = ada.page.locator("section.site-context")
    section.wait_for()
    text = section.inner_text()
    assert "road works" in text and "Baustelle" in text and "Wolfensteindamm" in text
    ada.shoot("incident-site")
