"""The server's listening socket, bound before anything else starts.

A port already in use must stop ``citybrain serve`` at once, with the address in the message,
before it opens the store, starts camera workers or says it serves: uvicorn binds only once its
event loop runs, long after all that, and then exits from inside with a logged traceback.
"""

from __future__ import annotations

import errno
import os
import socket

from citybrain.errors import CitybrainError

__all__ = ["ListenError", "bind_listener"]

#: Connections the kernel queues before uvicorn accepts them (uvicorn's default).
BACKLOG = 2048


class ListenError(CitybrainError):
    """The server cannot listen on its address (in use, not an address of this machine...)."""


def bind_listener(host: str, port: int) -> socket.socket:
    """A TCP socket listening on ``host``:``port`` (hand it to uvicorn's ``sockets``).

    Raises:
        ListenError: the address cannot be resolved or bound; the message names it and why.
    """
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise ListenError(f"cannot listen on {shown}: unknown address ({exc})") from None
    sock = socket.socket(family, kind, proto)
    try:
        # As uvicorn does: a restarted server gets its port back despite connections that
        # linger in TIME_WAIT (it does not let two servers share a port).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise ListenError(f"cannot listen on {shown}: {_reason(exc)}") from None
    return sock


def _reason(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return "the address is already in use (is another citybrain or server running there?)"
    if exc.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "not an address of this machine"
    return (exc.strerror or os.strerror(exc.errno or 0)).lower()
