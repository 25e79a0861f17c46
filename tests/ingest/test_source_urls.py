"""Source kinds and credential redaction."""

from __future__ import annotations

import pytest

from citybrain.errors import SourceError
from citybrain.ingest import redact_url
from citybrain.ingest.urls import SourceKind, redact_text, source_kind


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://admin:hunter2@10.0.0.7:554/live", "rtsp://***@10.0.0.7:554/live"),
        ("rtsp://admin@10.0.0.7/live", "rtsp://***@10.0.0.7/live"),
        ("rtsp://user:p@ss@cam.local/x", "rtsp://***@cam.local/x"),  # '@' inside the password
        ("rtmp://10.0.0.7/app/key", "rtmp://10.0.0.7/app/key"),
        ("https://cdn.example/live.m3u8?token=abc&q=1", "https://cdn.example/live.m3u8?token=%2A%2A%2A&q=1"),
        ("http://u:p@h/s.mp4?Password=x", "http://***@h/s.mp4?Password=%2A%2A%2A"),
        ("/data/clips/a.mp4", "/data/clips/a.mp4"),
    ],
)  # fmt: skip
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_text_hides_credentials_anywhere() -> None:
    source = "rtsp://admin:hunter2@10.0.0.7/live"
    message = f"[Errno 111] Connection refused: '{source}' (via rtmp://a:b@relay/x)"
    redacted = redact_text(message, source)
    assert "hunter2" not in redacted and "a:b" not in redacted
    assert "rtsp://***@10.0.0.7/live" in redacted and "rtmp://***@relay/x" in redacted


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("clip.mp4", SourceKind.FILE),
        ("file:///tmp/clip.mp4", SourceKind.FILE),
        ("RTSP://cam/1", SourceKind.RTSP),
        ("rtsps://cam/1", SourceKind.RTSP),
        ("rtmp://relay/app", SourceKind.RTMP),
        ("https://cdn/x.m3u8", SourceKind.HTTP),
    ],
)
def test_source_kind(source: str, kind: SourceKind) -> None:
    assert source_kind(source) is kind
    assert kind.is_network == (kind is not SourceKind.FILE)


def test_unsupported_scheme_names_the_redacted_url() -> None:
    with pytest.raises(SourceError, match=r"unsupported source gopher://\*\*\*@host/x") as info:
        source_kind("gopher://me:secret@host/x")
    assert "secret" not in str(info.value)
