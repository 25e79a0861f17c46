"""Where a scheduled refresh reads a source from: a file, the newest file of a folder, or an
HTTP(S) URL. Every read is bounded in size (and a download in time), so a wrong URL or a runaway
export cannot fill memory; what comes back is bytes for :func:`~citybrain.citydata.import_bytes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from citybrain.citydata.errors import SiteImportError
from citybrain.citydata.importer import DEFAULT_MAX_BYTES, read_bounded

__all__ = ["Download", "fetch_url", "newest_file", "read_location", "redact_url"]

DEFAULT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Download:
    """What a location gave: a label for messages (credentials redacted) and the bytes."""

    label: str
    data: bytes


def redact_url(url: str) -> str:
    """``url`` without a user name or password."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


def fetch_url(
    url: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    client: httpx.Client | None = None,
) -> Download:
    """GET ``url`` (http or https), at most ``max_bytes``.

    Raises:
        SiteImportError: another scheme, the server unreachable or answering with an error,
            or more than ``max_bytes``; nothing is returned then.
    """
    label = redact_url(url)
    if urlsplit(url).scheme not in ("http", "https"):
        raise SiteImportError(label, ["(location): only http and https URLs are fetched"])
    own = client is None
    client = client or httpx.Client(timeout=timeout_s, follow_redirects=True)
    try:
        with client.stream("GET", url) as response:
            if response.status_code >= 400:
                problem = f"(download): HTTP {response.status_code} {response.reason_phrase}"
                raise SiteImportError(label, [problem])
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise SiteImportError(label, [_too_large(max_bytes)])
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise SiteImportError(label, [_too_large(max_bytes)])
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise SiteImportError(label, [f"(download): {type(exc).__name__}: {exc}"]) from None
    finally:
        if own:
            client.close()
    return Download(label, b"".join(chunks))


def _too_large(max_bytes: int) -> str:
    return f"(download): larger than {max_bytes:,} bytes; refused"


def newest_file(folder: str | Path, pattern: str = "*") -> Path | None:
    """The most recently modified file in ``folder`` matching ``pattern`` (a glob), if any.

    Cities drop dated exports into a folder; the newest one is the source's current state.
    """
    files = [path for path in Path(folder).glob(pattern) if path.is_file()]
    return max(files, key=lambda path: (path.stat().st_mtime, path.name), default=None)


def read_location(
    location: str,
    *,
    pattern: str = "*",
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Download:
    """The bytes at ``location``: an http(s) URL, a folder (its newest file) or a file.

    Raises:
        SiteImportError: nothing readable there, or too large.
    """
    if urlsplit(location).scheme in ("http", "https"):
        return fetch_url(location, max_bytes=max_bytes, timeout_s=timeout_s)
    path = Path(location)
    if path.is_dir():
        newest = newest_file(path, pattern)
        if newest is None:
            raise SiteImportError(str(path), [f"(location): no file matching {pattern!r}"])
        path = newest
    return Download(str(path), read_bounded(path, max_bytes))
