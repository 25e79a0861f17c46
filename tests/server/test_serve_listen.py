"""``citybrain serve`` binds its address before anything else: a busy port is a clear error that
starts nothing, and "serving on" means the port takes connections."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from citybrain.server.listen import ListenError, bind_listener

CITYBRAIN = Path(sys.executable).with_name("citybrain")


@pytest.fixture
def env() -> dict[str, str]:
    """No demo cameras, no inherited data folder: a bare embedded server."""
    skip = ("CITYBRAIN_SAMPLES", "CITYBRAIN_DATA")
    return {key: value for key, value in os.environ.items() if key not in skip}


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_a_busy_port_is_a_clear_error_and_starts_nothing(
    held_port: int, tmp_path: Path, env: dict[str, str]
) -> None:
    result = subprocess.run(
        [str(CITYBRAIN), "serve", "--data", str(tmp_path / "data"), "--port", str(held_port)],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: cannot listen on 127.0.0.1:{held_port}: the address is already in use "
        "(is another citybrain or server running there?)"
    )
    assert "serving on" not in result.stdout
    assert not (tmp_path / "data").exists(), "not even the store was opened"


def test_an_address_not_of_this_machine_is_named(tmp_path: Path, env: dict[str, str]) -> None:
    result = subprocess.run(
        [str(CITYBRAIN), "serve", "--data", str(tmp_path / "data"), "--host", "192.0.2.1"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot listen on 192.0.2.1:8000: ")
    assert "Traceback" not in result.stderr


def test_serving_on_means_the_port_takes_connections(tmp_path: Path, env: dict[str, str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    args = [str(CITYBRAIN), "serve", "--data", str(tmp_path / "data"), "--port", str(port)]
    with subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.strip() == f"citybrain serving on http://127.0.0.1:{port}"
            # Said once bound: a connection made now is queued until the app takes it.
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass
            deadline = time.monotonic() + 60
            while httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5).status_code != 200:
                assert time.monotonic() < deadline, "not ready (workers up) in 60 s"
                time.sleep(0.2)
            process.send_signal(signal.SIGTERM)
            assert process.wait(60) == 0
        finally:
            process.kill()


def test_bind_listener_refuses_a_busy_port_and_an_unknown_host(held_port: int) -> None:
    busy = re.escape(f"127.0.0.1:{held_port}: the address is already in use")
    with pytest.raises(ListenError, match=busy):
        bind_listener("127.0.0.1", held_port)
    with pytest.raises(ListenError, match=re.escape("no-such-host.invalid:80: unknown address")):
        bind_listener("no-such-host.invalid", 80)
    with bind_listener("::1", 0) as sock:
        assert sock.getsockname()[0] == "::1"
