"""A real RTSP server for tests (GStreamer, run by the system Python), and its fixtures.

Import the fixtures into a conftest: ``from support.rtsp import rtsp_available, rtsp_server``.
"""

from __future__ import annotations

import selectors
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

SERVER_SCRIPT = Path(__file__).resolve().parent / "rtsp_server.py"
#: The gi bindings are Debian packages: they import under the system interpreter, not the venv.
SYSTEM_PYTHON = "/usr/bin/python3"
PROBE = (
    "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the time of asking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RtspServer:
    """``tests/support/rtsp_server.py`` as a subprocess that a test can kill and restart."""

    def __init__(self, source: str, port: int, log: Path, mount: str = "/cam") -> None:
        self.source = source
        self.port = port
        self.mount = mount
        self.log = log
        self._proc: subprocess.Popen[str] | None = None

    def url(self, credentials: str = "") -> str:
        userinfo = f"{credentials}@" if credentials else ""
        return f"rtsp://{userinfo}127.0.0.1:{self.port}{self.mount}"

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and wait until it listens."""
        args = [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--port", str(self.port), "--mount", self.mount]
        args += ["--source", self.source, "--loop"]
        with self.log.open("a") as log:
            self._proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True)
        assert self._proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._proc.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                self.kill()
                raise RuntimeError(f"RTSP server not ready in {timeout} s: {self.log.read_text()}")
        line = self._proc.stdout.readline()
        if not line.startswith("READY"):
            self.kill()
            raise RuntimeError(f"RTSP server failed to start: {line!r} {self.log.read_text()}")

    def pause(self) -> None:
        """SIGSTOP: the server keeps its sockets but sends nothing, like a hung camera."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: the server dies without a goodbye, as a crashed camera would."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGKILL)  # works on a stopped process too
            self._proc.wait(10)
        self._proc = None


@pytest.fixture(scope="session")
def rtsp_available() -> None:
    """Skips unless the system Python can import GStreamer's RTSP server bindings."""
    try:
        probe = subprocess.run(
            [SYSTEM_PYTHON, "-c", PROBE], check=False, capture_output=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"{SYSTEM_PYTHON} not usable for the RTSP server: {exc}")
    if probe.returncode != 0:
        pytest.skip(
            f"{SYSTEM_PYTHON} cannot import gi.repository.GstRtspServer: install the Debian "
            "packages python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-{base,good,"
            "bad,ugly} (scripts/apt-packages.txt)"
        )


@pytest.fixture
def rtsp_server(rtsp_available: None, tmp_path: Path) -> Iterator[Callable[[Path], RtspServer]]:
    """Builds RTSP servers (not started) on free ports; kills them all after the test."""
    servers: list[RtspServer] = []

    def make(source: Path) -> RtspServer:
        log = tmp_path / f"rtsp-server-{len(servers)}.log"
        server = RtspServer(str(source), free_port(), log)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.kill()


@pytest.fixture
def closed_port() -> int:
    """A local TCP port with no server behind it."""
    return free_port()
