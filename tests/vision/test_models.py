"""Model lookup order, size and SHA-256 checks, verified downloads, and ``citybrain models``."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citybrain.commands.models import app
from citybrain.errors import ModelError
from citybrain.vision import models
from citybrain.vision.models import (
    KNOWN_MODELS,
    Digest,
    ModelInfo,
    find_model,
    locate,
    resolve_model,
    verify,
)

GOOD = b"tiny model bytes" * 100
OTHER_EXPORT = b"the same weights, exported elsewhere" * 50


def digest(data: bytes) -> Digest:
    return Digest(len(data), hashlib.sha256(data).hexdigest())


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """An operator model folder and a cache root, both empty, set in the environment."""
    local, cache_root = tmp_path / "local", tmp_path / "cache"
    local.mkdir()
    monkeypatch.setenv("CITYBRAIN_MODEL_DIR", str(local))
    monkeypatch.setenv("CITYBRAIN_CACHE", str(cache_root))
    return local, cache_root / "models"


def register(monkeypatch: pytest.MonkeyPatch, url: str | None = None) -> ModelInfo:
    info = ModelInfo("tiny", "tiny.onnx", "yolox", (digest(GOOD), digest(OTHER_EXPORT)), url)
    monkeypatch.setitem(KNOWN_MODELS, "tiny", info)
    return info


class _Server:
    """Serves ``body`` at ``/tiny.onnx`` on localhost (404 elsewhere)."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/tiny.onnx":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server() -> Iterator[_Server]:
    running = _Server(GOOD)
    yield running
    running.httpd.shutdown()
    running.httpd.server_close()


def test_model_dir_comes_before_the_cache(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    local, cache = folders
    register(monkeypatch)
    assert find_model("tiny") is None
    cache.mkdir(parents=True)
    (cache / "tiny.onnx").write_bytes(OTHER_EXPORT)  # the second accepted version
    assert resolve_model("tiny", allow_download=False) == cache / "tiny.onnx"
    (local / "tiny.onnx").write_bytes(GOOD)
    assert resolve_model("tiny", allow_download=False) == local / "tiny.onnx"


def test_default_cache_is_under_the_home_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CITYBRAIN_CACHE", raising=False)
    assert models.cache_dir() == Path.home() / ".cache" / "citybrain" / "models"


@pytest.mark.parametrize(
    ("content", "message"),
    [(GOOD[:-1], "bytes, expected"), (GOOD.replace(b"tiny", b"TINY"), "SHA-256")],
)
def test_a_wrong_local_file_is_refused(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, content: bytes, message: str
) -> None:
    local, cache = folders
    register(monkeypatch)
    cache.mkdir(parents=True)
    (cache / "tiny.onnx").write_bytes(GOOD)
    (local / "tiny.onnx").write_bytes(content)
    # A bad file in the operator's folder is an error, not something to silently skip.
    with pytest.raises(ModelError, match=f"{local / 'tiny.onnx'}.*{message}"):
        resolve_model("tiny")


def test_download_lands_in_the_cache_only_when_verified(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, server: _Server
) -> None:
    _, cache = folders
    register(monkeypatch, url=f"{server.url}/tiny.onnx")
    assert resolve_model("tiny") == cache / "tiny.onnx"
    assert (cache / "tiny.onnx").read_bytes() == GOOD
    assert [p.name for p in cache.iterdir()] == ["tiny.onnx"], "no temporary file left"

    (cache / "tiny.onnx").unlink()
    server.body = GOOD[:-4] + b"XXXX"  # tampered, same size
    with pytest.raises(ModelError, match=r"rejected.*SHA-256"):
        resolve_model("tiny")
    assert list(cache.iterdir()) == [], "a rejected download never becomes a model file"


def test_download_failures_and_refusals(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, server: _Server
) -> None:
    register(monkeypatch, url=f"{server.url}/missing.onnx")
    with pytest.raises(ModelError, match=r"cannot download tiny.*404"):
        resolve_model("tiny")
    with pytest.raises(ModelError, match=r"not found.*allow the download"):
        resolve_model("tiny", allow_download=False)
    with pytest.raises(ModelError, match=r"unknown model 'nope'.*yolox_nano"):
        resolve_model("nope")


def test_locate_takes_names_and_paths(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    local, _ = folders
    register(monkeypatch)
    (local / "tiny.onnx").write_bytes(GOOD)
    assert locate("tiny") == local / "tiny.onnx"
    custom = tmp_path / "custom.onnx"
    custom.write_bytes(b"a user's own model")
    assert locate(custom) == custom
    renamed = tmp_path / "elsewhere" / "tiny.onnx"
    renamed.parent.mkdir()
    renamed.write_bytes(b"not the pinned bytes")
    with pytest.raises(ModelError, match="bytes, expected"):
        locate(renamed)  # a known file name is verified wherever it is
    with pytest.raises(ModelError, match="neither a file nor a known model name"):
        locate(tmp_path / "absent.onnx")


def test_the_real_model_files_verify(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYBRAIN_MODEL_DIR", str(model_dir))
    path = resolve_model("yolox_nano", allow_download=False)
    assert path == model_dir / "yolox_nano.onnx"
    assert verify(path, KNOWN_MODELS["yolox_nano"]) == path
    if (model_dir / KNOWN_MODELS["picodet_xs_320"].filename).is_file():
        assert find_model("picodet_xs_320") is not None


def test_cli_list_and_fetch(model_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"CITYBRAIN_MODEL_DIR": str(model_dir), "CITYBRAIN_CACHE": str(tmp_path)}
    listing = runner.invoke(app, ["list"], env=env)
    assert listing.exit_code == 0, listing.output
    assert f"yolox_nano       yolox    {model_dir / 'yolox_nano.onnx'}" in listing.output
    fetched = runner.invoke(app, ["fetch"], env=env)
    cached = tmp_path / "models" / "yolox_nano.onnx"
    assert fetched.exit_code == 0 and fetched.output.strip() == str(cached)
    assert cached.read_bytes() == (model_dir / "yolox_nano.onnx").read_bytes()
    # Later runs find the installed copy without CITYBRAIN_MODEL_DIR.
    alone = {"CITYBRAIN_CACHE": str(tmp_path), "CITYBRAIN_MODEL_DIR": None}
    later = runner.invoke(app, ["list"], env=alone)
    assert f"yolox_nano       yolox    {cached}" in later.output
    unknown = runner.invoke(app, ["fetch", "nope"], env=env)
    assert unknown.exit_code == 1 and "unknown model 'nope'" in unknown.output


def test_larger_yolox_models_are_pinned_release_files() -> None:
    for name, size in (("yolox_tiny", 20_219_662), ("yolox_s", 35_858_002)):
        info = KNOWN_MODELS[name]
        assert info.family == "yolox"
        assert info.url is not None and info.url.endswith(f"/0.1.1rc0/{info.filename}")
        assert [d.size for d in info.digests] == [size]
        assert all(len(d.sha256) == 64 for d in info.digests)
