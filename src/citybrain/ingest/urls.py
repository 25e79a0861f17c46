"""What kind of source a string names, and how to show it without its credentials."""

from __future__ import annotations

import re
from enum import StrEnum
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from citybrain.errors import SourceError

__all__ = ["SourceKind", "redact_text", "redact_url", "source_kind"]

_SECRET_QUERY_KEYS = frozenset(
    {"password", "passwd", "pwd", "pass", "token", "access_token", "key", "api_key", "apikey",
     "secret", "auth", "signature", "sig"}
)  # fmt: skip
# ``scheme://anything-up-to-the-last-@-before-the-path@``: the user-info part of a URL in free text.
_USERINFO_IN_TEXT = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s'\"]*@")
_REDACTED = "***"


class SourceKind(StrEnum):
    """How a source is opened and what its end of stream means."""

    FILE = "file"
    RTSP = "rtsp"
    RTMP = "rtmp"
    HTTP = "http"

    @property
    def is_network(self) -> bool:
        return self is not SourceKind.FILE


_SCHEMES = {
    "rtsp": SourceKind.RTSP,
    "rtsps": SourceKind.RTSP,
    "rtmp": SourceKind.RTMP,
    "rtmps": SourceKind.RTMP,
    "http": SourceKind.HTTP,
    "https": SourceKind.HTTP,
}


def source_kind(source: str) -> SourceKind:
    """The kind of ``source``: a URL by its scheme, anything without ``://`` a file path.

    Raises:
        SourceError: the URL's scheme is not one citybrain reads.
    """
    if "://" not in source:
        return SourceKind.FILE
    scheme = source.split("://", 1)[0].lower()
    if scheme == "file":
        return SourceKind.FILE
    kind = _SCHEMES.get(scheme)
    if kind is None:
        known = ", ".join(sorted(_SCHEMES))
        raise SourceError(f"unsupported source {redact_url(source)}: use a file path or {known}")
    return kind


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` and secret-looking query values replaced by ``***``.

    Example:
        >>> redact_url("rtsp://admin:hunter2@10.0.0.7:554/live?token=abc&ch=1")
        'rtsp://***@10.0.0.7:554/live?token=%2A%2A%2A&ch=1'
    """
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{_REDACTED}@{netloc.rpartition('@')[2]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, _REDACTED if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in pairs]
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str, url: str | None = None) -> str:
    """``text`` (an error message, say) with ``url`` and any URL credentials in it redacted."""
    if url:
        text = text.replace(url, redact_url(url))
    return _USERINFO_IN_TEXT.sub(rf"\1{_REDACTED}@", text)
