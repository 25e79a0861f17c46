"""Hide credentials in stream and database URLs before they are shown or logged."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["REDACTED", "redacted_source"]

REDACTED = "***"

# Query parameters that carry secrets in camera URLs seen in the wild (tokens, signed links).
_SECRET_PARAMS = ("pass", "pwd", "token", "key", "secret", "auth", "sig", "credential")


def _is_secret_param(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_PARAMS)


def redacted_source(url: str) -> str:
    """``url`` with its user name, password and secret query parameters replaced by ``***``.

    Example:
        >>> redacted_source("rtsp://admin:hunter2@10.0.0.5:554/stream1?token=abc&ch=1")
        'rtsp://***:***@10.0.0.5:554/stream1?token=***&ch=1'
        >>> redacted_source("/var/video/clip.mp4")
        '/var/video/clip.mp4'
    """
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
    except ValueError:
        return REDACTED  # unparseable: showing any part of it could leak the secret
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        hidden = f"{REDACTED}:{REDACTED}" if ":" in userinfo else REDACTED
        netloc = f"{hidden}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, REDACTED if _is_secret_param(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
