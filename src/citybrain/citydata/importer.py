"""Import a file of sites: read it with a size bound, decode it, pick its format, map it.

:func:`import_bytes` and :func:`import_text` are pure (the API hands them an upload, the refresh
a download); :func:`import_file` reads a file. An import is all or nothing: it returns every site
of the file, or raises :class:`~citybrain.citydata.errors.SiteImportError` and yields none.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import Literal

from citybrain.citydata.bulk import no_cyclic_gc
from citybrain.citydata.convert import ImportResult
from citybrain.citydata.errors import SiteImportError
from citybrain.citydata.formats import parse_csv, parse_geojson
from citybrain.citydata.mapping import Mapping
from citybrain.citydata.model import KIND_PATTERN

__all__ = [
    "DEFAULT_MAX_BYTES",
    "decode",
    "detect_format",
    "import_bytes",
    "import_file",
    "import_text",
    "read_bounded",
]

#: The largest file an import reads; a larger one is refused before it is parsed.
DEFAULT_MAX_BYTES = 64 * 1024 * 1024

Format = Literal["csv", "geojson"]


def read_bounded(path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of ``path``, reading at most ``max_bytes`` + 1.

    Raises:
        SiteImportError: unreadable, or larger than ``max_bytes``.
    """
    path = Path(path)
    try:
        with path.open("rb") as file:
            data = file.read(max_bytes + 1)
    except OSError as exc:
        raise SiteImportError(str(path), [f"(file): cannot read: {exc.strerror or exc}"]) from None
    if len(data) > max_bytes:
        raise SiteImportError(str(path), [f"(file): larger than {max_bytes:,} bytes; refused"])
    return data


def decode(data: bytes, encoding: str, label: str) -> str:
    """``data`` as text; a UTF-8 byte-order mark is dropped.

    Raises:
        SiteImportError: an unknown encoding, or bytes that are not text in it (the message
            names the line and byte).
    """
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise SiteImportError(label, [f"(mapping): encoding: unknown {encoding!r}"]) from None
    if codec.name == "utf-8":
        encoding = "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problem = f"line {line}: (text): byte {exc.start} is not {codec.name} text ({exc.reason})"
        raise SiteImportError(label, [problem]) from None


def detect_format(label: str, text: str, mapping: Mapping) -> Format:
    """The mapping's format, else the file's suffix, else ``geojson`` when it starts with ``{``."""
    if mapping.format is not None:
        return mapping.format
    suffix = Path(label).suffix.lower()
    if suffix in (".geojson", ".json"):
        return "geojson"
    if suffix in (".csv", ".txt"):
        return "csv"
    return "geojson" if text.lstrip()[:1] == "{" else "csv"


def import_text(
    text: str,
    mapping: Mapping,
    *,
    kind: str | None = None,
    label: str = "<text>",
    fmt: Format | None = None,
) -> ImportResult:
    """Every site of ``text``, or none.

    Args:
        text: The file's content.
        mapping: Which fields make a site (a preset or the user's).
        kind: Kind of every site; ``None`` = the mapping's.
        label: The file's name in errors.
        fmt: ``csv`` or ``geojson``; ``None`` = :func:`detect_format`.

    Raises:
        SiteImportError: the file is refused; nothing of it is returned.
    """
    kind = kind or mapping.kind
    if kind is None:
        raise SiteImportError(label, ["(mapping): kind: no kind; give one to the import"])
    if not re.match(KIND_PATTERN, kind):
        problem = f"(import): kind: {kind!r} is not a kind (lower case letters, digits, _)"
        raise SiteImportError(label, [problem])
    text = text.removeprefix("\ufeff")  # a byte-order mark is not part of the first column's name
    if (nul := text.find("\x00")) >= 0:
        line = text.count("\n", 0, nul) + 1
        problem = f"line {line}: (text): character {nul} is NUL: not a text file"
        raise SiteImportError(label, [problem])
    fmt = fmt or detect_format(label, text, mapping)
    parse = parse_geojson if fmt == "geojson" else parse_csv
    with no_cyclic_gc():
        return parse(text, mapping, kind=kind, label=label)


def import_bytes(
    data: bytes,
    mapping: Mapping,
    *,
    kind: str | None = None,
    label: str = "<upload>",
    fmt: Format | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ImportResult:
    """:func:`import_text` of ``data`` decoded with the mapping's encoding; size-bounded."""
    if len(data) > max_bytes:
        raise SiteImportError(label, [f"(file): larger than {max_bytes:,} bytes; refused"])
    text = decode(data, mapping.encoding, label)
    return import_text(text, mapping, kind=kind, label=label, fmt=fmt)


def import_file(
    path: str | Path,
    mapping: Mapping,
    *,
    kind: str | None = None,
    fmt: Format | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ImportResult:
    """:func:`import_bytes` of the file at ``path`` (read with the size bound)."""
    data = read_bounded(path, max_bytes)
    return import_bytes(data, mapping, kind=kind, label=str(path), fmt=fmt, max_bytes=max_bytes)
