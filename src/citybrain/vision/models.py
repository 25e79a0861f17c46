"""Model files by name: found locally or downloaded once, always checked by size and SHA-256.

Lookup order for a known model:

1. ``$CITYBRAIN_MODEL_DIR/<file>`` (a folder the operator manages),
2. the cache, ``$CITYBRAIN_CACHE/models/<file>`` or ``~/.cache/citybrain/models/<file>``,
3. a download from the model's pinned release URL into the cache.

A file found in either folder must match one of the model's pinned (size, SHA-256) pairs, or a
:class:`~citybrain.errors.ModelError` says which file is wrong. Downloads go to a temporary file
beside the target and are renamed into place only once verified, so a cut-off or tampered
download never becomes a model file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from citybrain.errors import ModelError

__all__ = [
    "KNOWN_MODELS",
    "Digest",
    "ModelInfo",
    "cache_dir",
    "download",
    "find_model",
    "install_model",
    "locate",
    "model_dir",
    "resolve_model",
    "verify",
]

_CHUNK = 1 << 20
_YOLOX_RELEASE = "https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0"


@dataclass(frozen=True, slots=True)
class Digest:
    """One accepted version of a model file."""

    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model citybrain knows how to find and check.

    Attributes:
        name: what users call it (``"yolox_nano"``).
        filename: its file name in a model folder.
        family: the detector family that runs it.
        digests: every accepted (size, SHA-256); exports of the same weights differ in bytes.
        url: the official release to download from; ``None`` when it must be provided locally.
    """

    name: str
    filename: str
    family: str
    digests: tuple[Digest, ...]
    url: str | None = None


KNOWN_MODELS: dict[str, ModelInfo] = {
    info.name: info
    for info in (
        ModelInfo(
            name="yolox_nano",
            filename="yolox_nano.onnx",
            family="yolox",
            digests=(
                # The official release file.
                Digest(
                    3_659_407, "c789161ed43c8269fcd4e67c67eeeb4e80c622da2eb296a20bc6007bd18a0b7d"
                ),
                # A separate export of the same weights (Kazuhito00/YOLOX-ONNX-TFLite-Sample).
                Digest(
                    3_660_092, "695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14"
                ),
            ),
            url=f"{_YOLOX_RELEASE}/yolox_nano.onnx",
        ),
        # Larger detectors of the same family (Apache-2.0, official exports, same decoding),
        # for cameras where accuracy matters more than cost. Size and SHA-256 of the release
        # files as published in public model manifests (e.g. the SHA256SUMS of the repositories
        # RiosenBeq/DALSAN and itsmygithubacct/kilix-yolox, which agree with each other and
        # with this module's yolox_nano digest); not yet checked against a downloaded copy here.
        ModelInfo(
            name="yolox_tiny",
            filename="yolox_tiny.onnx",
            family="yolox",
            digests=(
                Digest(
                    20_219_662, "427cc366d34e27ff7a03e2899b5e3671425c262ea2291f88bb942bc1cc70b0f7"
                ),
            ),
            url=f"{_YOLOX_RELEASE}/yolox_tiny.onnx",
        ),
        ModelInfo(
            # Its export takes 640 x 640 inputs: a camera using it sets detector.input_size 640.
            name="yolox_s",
            filename="yolox_s.onnx",
            family="yolox",
            digests=(
                Digest(
                    35_858_002, "c5c2d13e59ae883e6af3b45daea64af4833a4951c92d116ec270d9ddbe998063"
                ),
            ),
            url=f"{_YOLOX_RELEASE}/yolox_s.onnx",
        ),
        ModelInfo(
            # The export's repository carries no licence: accepted when provided, never downloaded.
            name="picodet_xs_320",
            filename="picodet_xs_320_lcnet_postprocessed.onnx",
            family="picodet",
            digests=(
                Digest(
                    2_871_062, "3b8e7687122d70b1615734827b19f28e24cde83cb59b4d27845a3566da4b8510"
                ),
            ),
        ),
    )
}


def model_dir() -> Path | None:
    """The operator's model folder from ``CITYBRAIN_MODEL_DIR``, if set."""
    value = os.environ.get("CITYBRAIN_MODEL_DIR")
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """Where downloads are kept: ``$CITYBRAIN_CACHE/models``, else ``~/.cache/citybrain/models``."""
    root = os.environ.get("CITYBRAIN_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "citybrain"
    return base / "models"


def _info(name: str) -> ModelInfo:
    info = KNOWN_MODELS.get(name)
    if info is None:
        raise ModelError(f"unknown model {name!r}: known models are {', '.join(KNOWN_MODELS)}")
    return info


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, info: ModelInfo) -> Path:
    """``path`` if it is one of the accepted versions of ``info``.

    Raises:
        ModelError: the file's size or SHA-256 matches none of the pinned versions.
    """
    size = path.stat().st_size
    candidates = [d for d in info.digests if d.size == size]
    if not candidates:
        expected = " or ".join(f"{d.size:,}" for d in info.digests)
        raise ModelError(
            f"model file {path} has {size:,} bytes, expected {expected} for {info.name}: "
            "replace it with the official file"
        )
    actual = _sha256(path)
    if all(d.sha256 != actual for d in candidates):
        raise ModelError(
            f"model file {path} has SHA-256 {actual}, which is not a known version of "
            f"{info.name}: replace it with the official file"
        )
    return path


def _candidates(info: ModelInfo) -> Iterator[Path]:
    local = model_dir()
    if local is not None:
        yield local / info.filename
    yield cache_dir() / info.filename


def find_model(name: str) -> Path | None:
    """The verified local file of model ``name``, or ``None`` when there is none yet.

    Raises:
        ModelError: the name is unknown, or a file is present but fails verification.
    """
    info = _info(name)
    for path in _candidates(info):
        if path.is_file():
            return verify(path, info)
    return None


def resolve_model(name: str, *, allow_download: bool = True) -> Path:
    """The verified file of model ``name``, downloading it into the cache if need be.

    Raises:
        ModelError: unknown name, a local file fails verification, or the model is absent and
            cannot be downloaded (no URL, downloads disallowed, network or checksum failure).
    """
    found = find_model(name)
    if found is not None:
        return found
    info = _info(name)
    searched = ", ".join(str(p) for p in _candidates(info))
    if info.url is None or not allow_download:
        raise ModelError(
            f"model {name} not found (looked in {searched}); put {info.filename} in "
            "CITYBRAIN_MODEL_DIR" + ("" if info.url is None else " or allow the download")
        )
    return download(info, cache_dir() / info.filename)


def install_model(name: str, *, allow_download: bool = True) -> Path:
    """Put a verified copy of model ``name`` in the cache, from where every later run finds it.

    The set-up calls this (``citybrain models fetch``): a file found in ``CITYBRAIN_MODEL_DIR``
    is copied, otherwise the pinned release is downloaded. The copy is written to a temporary
    name and renamed only once verified.

    Raises:
        ModelError: as :func:`resolve_model`, or the cache cannot be written.
    """
    source = resolve_model(name, allow_download=allow_download)
    info = _info(name)
    target = cache_dir() / info.filename
    if source == target:
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        shutil.copyfile(source, partial)
        verify(partial, info)
        os.replace(partial, target)
    except OSError as exc:
        raise ModelError(f"cannot copy model {name} into {target.parent}: {exc}") from exc
    return target


def locate(reference: str | Path, *, allow_download: bool = True) -> Path:
    """A model file from a config value: a known model name, or a path to an ``.onnx`` file.

    Raises:
        ModelError: a path that does not exist or fails verification, or a name
            :func:`resolve_model` cannot resolve.
    """
    text = str(reference)
    if text in KNOWN_MODELS:
        return resolve_model(text, allow_download=allow_download)
    path = Path(text).expanduser()
    if path.is_file():
        known = [i for i in KNOWN_MODELS.values() if i.filename == path.name]
        return verify(path, known[0]) if known else path
    raise ModelError(
        f"model {text!r} is neither a file nor a known model name ({', '.join(KNOWN_MODELS)})"
    )


def download(info: ModelInfo, target: Path, *, timeout: float = 60.0) -> Path:
    """Fetch ``info.url`` to ``target`` through a verified temporary file.

    Raises:
        ModelError: no URL, the transfer failed, or the bytes fail verification.
    """
    if info.url is None:
        raise ModelError(f"model {info.name} has no download URL")
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{info.filename}.", dir=target.parent)
    temp = Path(temp_name)
    try:
        with (
            os.fdopen(handle, "wb") as file,
            httpx.stream("GET", info.url, follow_redirects=True, timeout=timeout) as response,
        ):
            response.raise_for_status()
            for chunk in response.iter_bytes(_CHUNK):
                file.write(chunk)
        verify(temp, info)
        temp.replace(target)
    except httpx.HTTPError as exc:
        raise ModelError(f"cannot download {info.name} from {info.url}: {exc}") from exc
    except ModelError as exc:
        raise ModelError(f"download of {info.name} from {info.url} rejected: {exc}") from exc
    finally:
        temp.unlink(missing_ok=True)
    return target
