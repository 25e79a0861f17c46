"""Reading a source for a refresh: a real local HTTP server, folders and files, all size-bounded."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from citybrain.citydata import NYC_DOB_PERMITS, SiteImportError, import_bytes
from citybrain.citydata.fetch import fetch_url, newest_file, read_location, redact_url
from support.citydata_samples import nyc_csv, nyc_row

PERMITS = nyc_csv(nyc_row()).encode()
MIB = 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/permits.csv":
            self._send(200, PERMITS)
        elif self.path == "/declared-huge":
            self.send_response(200)
            self.send_header("Content-Length", str(10 * 1024 * MIB))
            self.end_headers()
        elif self.path == "/endless":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"x" * 65536
            try:
                for _ in range(64):  # 4 MiB, more than the test's bound
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
        else:
            self._send(404, b"not here")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_url_is_downloaded_and_imported(server: str) -> None:
    download = read_location(f"{server}/permits.csv")
    result = import_bytes(download.data, NYC_DOB_PERMITS, label=download.label)
    assert [site.source_id for site in result.sites] == ["123456789"]


def test_http_errors_are_refused(server: str) -> None:
    with pytest.raises(SiteImportError) as refused:
        fetch_url(f"{server}/nothing.csv")
    assert refused.value.problems == ("(download): HTTP 404 Not Found",)


def test_a_declared_size_over_the_bound_is_refused_before_reading(server: str) -> None:
    with pytest.raises(SiteImportError, match="larger than 1,048,576 bytes"):
        fetch_url(f"{server}/declared-huge", max_bytes=MIB)


def test_a_stream_over_the_bound_is_cut_off(server: str) -> None:
    with pytest.raises(SiteImportError, match="larger than 1,048,576 bytes"):
        fetch_url(f"{server}/endless", max_bytes=MIB)


def test_an_unreachable_server_and_other_schemes() -> None:
    with pytest.raises(SiteImportError, match=r"\(download\): ConnectError"):
        fetch_url("http://127.0.0.1:9/permits.csv", timeout_s=5)
    with pytest.raises(SiteImportError, match="only http and https"):
        fetch_url("ftp://example.org/permits.csv")


def test_credentials_never_appear_in_labels() -> None:
    assert redact_url("https://city:s3cret@data.example.org:8443/x.csv?y=1") == (
        "https://***@data.example.org:8443/x.csv?y=1"
    )
    with pytest.raises(SiteImportError) as refused:
        fetch_url("http://city:s3cret@127.0.0.1:9/x.csv", timeout_s=5)
    assert "s3cret" not in str(refused.value)


def test_a_folder_gives_its_newest_matching_file(tmp_path: Path) -> None:
    older, newer = tmp_path / "permits-2026-04.csv", tmp_path / "permits-2026-05.csv"
    older.write_bytes(b"old")
    newer.write_bytes(PERMITS)
    (tmp_path / "notes.txt").write_bytes(b"ignore me")
    now = time.time()
    os.utime(older, (now - 3600, now - 3600))
    os.utime(newer, (now, now))

    assert newest_file(tmp_path, "*.csv") == newer
    assert read_location(str(tmp_path), pattern="*.csv").data == PERMITS
    with pytest.raises(SiteImportError, match="no file matching"):
        read_location(str(tmp_path), pattern="*.geojson")


def test_a_file_is_read_with_its_bound(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(b"x" * (MIB + 1))
    with pytest.raises(SiteImportError, match="larger than"):
        read_location(str(path), max_bytes=MIB)
