"""A small RTSP server for tests, on GStreamer's gst-rtsp-server.

Run it with the system interpreter (the ``gi`` bindings come from Debian, not from the venv)::

    /usr/bin/python3 tests/support/rtsp_server.py --port 8554 --mount /cam --source clip.mp4 --loop
    /usr/bin/python3 tests/support/rtsp_server.py --port 8554 --mount /cam --source testsrc

A file source is decoded once into memory and re-encoded live (H.264, one key frame a second), so
``--loop`` plays it forever with steadily increasing timestamps; ``testsrc`` streams a test pattern
forever. The server prints ``READY <url>`` on stdout once it listens, and serves until killed.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Any

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstApp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

__all__ = ["main"]

ENCODE = (
    "videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast threads=1 key-int-max={gop} "
    "! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1"
)


@dataclass
class Clip:
    """Raw decoded frames of a file, with their caps and frame duration (nanoseconds)."""

    caps: Any
    frames: list[Any] = field(default_factory=list)
    duration_ns: int = 0


def load_clip(path: str) -> Clip:
    """Decode every frame of ``path`` to I420 buffers."""
    pipeline = Gst.parse_launch(
        "filesrc name=src ! decodebin ! videoconvert ! video/x-raw,format=I420 "
        "! appsink name=sink sync=false emit-signals=false max-buffers=0"
    )
    pipeline.get_by_name("src").set_property("location", path)
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)
    clip: Clip | None = None
    while True:
        sample = sink.emit("pull-sample")
        if sample is None:
            break
        if clip is None:
            clip = Clip(caps=sample.get_caps())
        clip.frames.append(sample.get_buffer())
    pipeline.set_state(Gst.State.NULL)
    if clip is None:
        raise SystemExit(f"rtsp_server: no video frames decoded from {path}")
    structure = clip.caps.get_structure(0)
    ok, num, den = structure.get_fraction("framerate")
    if not ok or num == 0:
        num, den = 15, 1
    clip.duration_ns = Gst.util_uint64_scale(Gst.SECOND, den, num)
    return clip


class ClipFactory(GstRtspServer.RTSPMediaFactory):  # type: ignore[misc]
    """Serves a decoded clip through ``appsrc``; every client gets its own playback."""

    def __init__(self, clip: Clip, loop: bool) -> None:
        super().__init__()
        self.clip = clip
        self.loop = loop
        gop = max(1, round(Gst.SECOND / clip.duration_ns))
        self.set_launch(f"( appsrc name=src is-live=true format=time ! {ENCODE.format(gop=gop)} )")
        self.connect("media-configure", self._on_configure)

    def _on_configure(self, _factory: Any, media: Any) -> None:
        appsrc = media.get_element().get_child_by_name("src")
        appsrc.set_property("caps", self.clip.caps)
        state = {"count": 0}
        appsrc.connect("need-data", self._on_need_data, state)

    def _on_need_data(self, appsrc: Any, _length: int, state: dict[str, int]) -> None:
        count = state["count"]
        frames = self.clip.frames
        if count >= len(frames) and not self.loop:
            appsrc.emit("end-of-stream")
            return
        buffer = frames[count % len(frames)].copy()
        buffer.pts = count * self.clip.duration_ns
        buffer.duration = self.clip.duration_ns
        state["count"] = count + 1
        appsrc.emit("push-buffer", buffer)


def test_pattern_factory() -> Any:
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        "( videotestsrc is-live=true pattern=ball "
        f"! video/x-raw,width=320,height=240,framerate=15/1 ! {ENCODE.format(gop=15)} )"
    )
    return factory


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mount", default="/stream")
    parser.add_argument("--source", default="testsrc", help="a video file, or 'testsrc'")
    parser.add_argument("--loop", action="store_true", help="replay a file source forever")
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    Gst.init(None)
    if args.source == "testsrc":
        factory = test_pattern_factory()
    else:
        factory = ClipFactory(load_clip(args.source), args.loop)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    server.get_mount_points().add_factory(args.mount, factory)
    if server.attach(None) == 0:
        raise SystemExit(f"rtsp_server: cannot listen on 127.0.0.1:{args.port}")
    print(f"READY rtsp://127.0.0.1:{args.port}{args.mount}", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main(sys.argv[1:])
