"""The scheduled refresh of site sources, on SQLite and PostgreSQL with PostGIS: a folder's newest
file and an HTTP URL, the change log, refused files and unreachable sources keeping the previous
sites, and the network policy."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from citybrain.config.sites import SiteSourceSettings
from citybrain.errors import ConfigError
from citybrain.services.site_refresh import SiteRefresh
from citybrain.store import SiteRepo, Store
from support.citydata_samples import nyc_csv, nyc_row, viz_collection, viz_feature
from support.postgres import postgres_server, postgres_url
from support.stores import store

__all__ = ["postgres_server", "postgres_url", "store"]

MAX = 1024 * 1024


def _write(folder: Path, name: str, text: str, age: int) -> None:
    """A file that looks ``age`` seconds old (the newest file is the source's state)."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))


def test_a_folder_source_and_its_change_log(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    second = nyc_row(job__="421987654", gis_latitude="40.7532", gis_longitude="-73.9348")
    _write(folder, "permits-1.csv", nyc_csv(nyc_row(), second), age=100)
    _write(folder, "notes.txt", "not a permit file", age=0)  # not matching the pattern
    source = SiteSourceSettings(name="permits", location=str(folder), pattern="*.csv",
                                preset="nyc-dob-permits", every_minutes=60)  # fmt: skip
    seen = []
    refresh = SiteRefresh(store, [source], max_bytes=MAX, on_import=seen.append)

    first = refresh.refresh("permits")
    assert first is not None and len(first.added) == 2 and seen == [first]

    _write(folder, "permits-2.csv", nyc_csv(nyc_row(job_type="NB")), age=50)
    later = refresh.refresh("permits")
    assert later is not None
    assert (later.changed, later.removed) == (
        ("nyc-dob-permits.123456789",), ("nyc-dob-permits.421987654",))  # fmt: skip

    _write(folder, "permits-3.csv", nyc_csv(nyc_row(issuance_date="yesterday")), age=10)
    assert refresh.refresh("permits") is None  # refused: nothing changes
    with store.session() as session:
        repo = SiteRepo(session)
        kept = [s.id for s in repo.search().items]
        reads = repo.imports(by="refresh:permits")
    assert kept == ["nyc-dob-permits.123456789"]
    assert [(r.status, Path(r.label).name) for r in reads] == [
        ("refused", "permits-3.csv"), ("ok", "permits-2.csv"), ("ok", "permits-1.csv")]  # fmt: skip
    assert reads[0].problems[0].startswith("line 2: issuance_date: 'yesterday' is not a date")
    with pytest.raises(KeyError):
        refresh.refresh("nope")


class _Feed(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def feed() -> Iterator[str]:
    """A real HTTP server serving the VIZ Berlin feed."""
    _Feed.body = viz_collection(viz_feature(), viz_feature(id="9/2025")).encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/daten/baustellen_sperrungen.json"
    server.shutdown()
    server.server_close()


def test_an_http_source_on_its_schedule(store: Store, feed: str) -> None:
    source = SiteSourceSettings(name="viz", location=feed, preset="berlin-viz", every_minutes=1)
    refresh = SiteRefresh(store, [source], max_bytes=MAX)
    refresh.start()  # reads at once, then every minute
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with store.session() as session:
                if SiteRepo(session).imports(by="refresh:viz"):
                    break
            time.sleep(0.1)
    finally:
        refresh.stop()
    with store.session() as session:
        [read] = SiteRepo(session).imports(by="refresh:viz")
        kinds = {s.kind for s in SiteRepo(session).search().items}
    assert (read.status, read.added, read.label) == ("ok", 2, feed)
    assert kinds == {"road_works"}


def test_unreachable_and_refused_destinations_keep_the_sites(store: Store, feed: str) -> None:
    good = SiteSourceSettings(name="viz", location=feed, preset="berlin-viz")
    closed = SiteSourceSettings(name="gone", location="http://127.0.0.1:9/x.json",
                                preset="berlin-viz")  # fmt: skip
    metadata = SiteSourceSettings(name="meta", location="http://169.254.169.254/latest/x.json",
                                  preset="berlin-viz")  # fmt: skip
    refresh = SiteRefresh(store, [good, closed, metadata], max_bytes=MAX)
    assert refresh.refresh("viz") is not None
    assert refresh.refresh("gone") is None
    assert refresh.refresh("meta") is None
    with store.session() as session:
        repo = SiteRepo(session)
        assert len(repo.search().items) == 2
        [gone] = repo.imports(by="refresh:gone")
        [meta] = repo.imports(by="refresh:meta")
    assert gone.status == "refused" and gone.problems[0].startswith("(download): ConnectError")
    assert meta.status == "refused" and "refused by the network policy" in meta.problems[0]


def test_a_bad_mapping_is_a_config_error_naming_the_source(store: Store, tmp_path: Path) -> None:
    mapping = tmp_path / "zones.yaml"
    mapping.write_text("source: zones\nid: ref\ngeometry: {lat: y}\n", encoding="utf-8")
    sources = [SiteSourceSettings(name="zones", location=str(tmp_path), mapping=mapping)]
    with pytest.raises(ConfigError, match=r"site_sources\[0\] \(zones\): .*zones.yaml:3"):
        SiteRefresh(store, sources, max_bytes=MAX)
    with pytest.raises(ConfigError, match="unknown preset"):
        SiteRefresh(store, [SiteSourceSettings(name="x", location="/x", preset="nope")],
                    max_bytes=MAX)  # fmt: skip
