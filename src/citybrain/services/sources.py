"""Which camera sources the server may open: files under its media roots, network streams the
outbound network policy allows.

A source is checked where a camera is created or changed (API, command line) and again where it
is planned to run (names resolve differently over time). Refusals say what failed without
telling whether a file exists or what a remote answered: a file outside the media roots is
refused before it is looked at.

Example:
    >>> policy = SourcePolicy(file_roots=[Path("/srv/video")], network=services.policy)
    >>> policy.check("clips/gate.mp4", base=Path("/srv/video"))  # doctest: +SKIP
    '/srv/video/clips/gate.mp4'
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from citybrain.config.server import ServerSettings
from citybrain.errors import SourceError
from citybrain.ingest.urls import SourceKind, redact_url, source_kind
from citybrain.netpolicy import DestinationError, NetworkPolicy

__all__ = ["SAMPLES_VAR", "SourcePolicy", "SourceRefusedError", "source_policy"]

#: The folder of development clips the demo cameras play (its files are allowed while they run).
SAMPLES_VAR = "CITYBRAIN_SAMPLES"


class SourceRefusedError(SourceError):
    """A camera source the server may not open; the message is safe to show to its users."""


class SourcePolicy:
    """Checks and normalises camera sources (verb: :meth:`check`).

    Args:
        file_roots: folders under which a file source may lie (after resolving symlinks).
        network: the outbound network policy for stream URLs.
    """

    def __init__(self, *, file_roots: Sequence[Path], network: NetworkPolicy) -> None:
        self._roots = tuple(root.expanduser().resolve() for root in file_roots)
        self._network = network

    @property
    def file_roots(self) -> tuple[Path, ...]:
        return self._roots

    def check(self, source: str, *, base: Path | None = None) -> str:
        """``source`` as it is stored and opened: a file as its absolute, resolved path (a
        relative one is taken from ``base``, else the working directory); a URL unchanged.

        Raises:
            SourceRefusedError: the scheme is not supported, the file lies outside every media
                root, or the network policy refuses (or cannot resolve) the URL's host.
        """
        try:
            kind = source_kind(source)
        except SourceError as exc:
            raise SourceRefusedError(str(exc)) from None
        if kind is SourceKind.FILE:
            return str(self._file(source, base))
        try:
            self._network.check_url(source)
        except DestinationError as exc:
            raise SourceRefusedError(f"source {redact_url(source)} refused: {exc}") from None
        return source

    def _file(self, source: str, base: Path | None) -> Path:
        path = Path(source.removeprefix("file://")).expanduser()
        if not path.is_absolute():
            path = (base or Path.cwd()) / path
        # os.path.realpath follows every symlink it can without asking whether the file exists:
        # the answer must not depend on what lies outside the roots.
        resolved = Path(os.path.realpath(path))
        if not any(resolved.is_relative_to(root) for root in self._roots):
            where = ", ".join(str(r) for r in self._roots) or "none configured"
            raise SourceRefusedError(
                "file source refused: it does not lie under a media root "
                f"(sources.file_roots: {where})"
            )
        return resolved


def source_policy(settings: ServerSettings, network: NetworkPolicy) -> SourcePolicy:
    """The source policy of a server: its media roots, plus the samples folder while demo
    cameras run (``CITYBRAIN_SAMPLES`` set and ``demo`` not switched off)."""
    roots = list(settings.sources.file_roots)
    samples = os.environ.get(SAMPLES_VAR)
    if samples and settings.demo is not False:
        roots.append(Path(samples))
    return SourcePolicy(file_roots=roots, network=network)
