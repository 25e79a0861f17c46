"""One webhook attempt: check the destination, sign, POST, follow same-host redirects only.

Every hop resolves the URL's host and passes *every* address through the network policy,
then connects to one of those checked addresses (the request goes to the address, with the
original ``Host`` header and, for https, the original name for SNI and certificate checks):
what was checked is what is contacted, whatever DNS answers a moment later.

Redirects are followed only to the same host and port (or from http to https on the same
host), with the same signed body; a redirect anywhere else fails the attempt. Error texts say
what failed (status code, timeout, refused destination), never what the receiver answered.
Each webhook gets its own HTTP client, so that no connection made for one host name is
reused for another that shares its address.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx

from citybrain.integrations.webhooks.envelope import CONTENT_TYPE
from citybrain.integrations.webhooks.signing import signature_headers
from citybrain.netpolicy import Destination, DestinationError, IPAddress, NetworkPolicy, split_url

__all__ = ["USER_AGENT", "AttemptResult", "WebhookSender"]

USER_AGENT = "citybrain-webhooks/1"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_BODY_LIMIT = 64 * 1024  # read at most this much of an answer (then drop the connection)


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """How one attempt went: ``ok`` for a 2xx; ``status_code`` of the last response, if any."""

    ok: bool
    status_code: int | None
    error: str | None
    seconds: float


class WebhookSender:
    """Makes webhook attempts (asyncio; one instance per event loop).

    Args:
        policy: the outbound network policy.
        timeout: seconds one attempt may take in all (connect, send, answer).
        max_redirects: same-host redirects followed per attempt.
        resolve: an async resolver (default: the loop's ``getaddrinfo``).
        verify: TLS verification: ``True`` (system CAs), an SSL context, or ``False`` (tests).
        clock: POSIX time, for ``webhook-timestamp``.
    """

    def __init__(
        self,
        policy: NetworkPolicy,
        *,
        timeout: float = 10.0,
        max_redirects: int = 3,
        resolve: Callable[[str, int], Awaitable[Sequence[IPAddress]]] | None = None,
        verify: ssl.SSLContext | bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._policy = policy
        self._timeout = timeout
        self._max_redirects = max_redirects
        self._resolve = resolve
        self._verify = verify
        self._clock = clock
        self._clients: dict[int, tuple[str, httpx.AsyncClient]] = {}

    async def send(
        self, webhook_id: int, url: str, secrets: Sequence[str], message_id: str, body: bytes
    ) -> AttemptResult:
        """POST ``body`` to ``url``, signed with ``secrets``; never raises."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._timeout):
                code, error = await self._follow(webhook_id, url, secrets, message_id, body)
        except TimeoutError:
            code, error = None, f"no answer within {self._timeout:g} s"
        except DestinationError as exc:
            code, error = None, str(exc)
        except httpx.HTTPError as exc:
            code, error = None, _describe(exc)
        except ValueError as exc:  # a malformed URL or secret, from the store
            code, error = None, f"cannot send: {exc}"
        ok = code is not None and 200 <= code < 300 and error is None
        return AttemptResult(ok, code, error, time.monotonic() - started)

    async def forget(self, webhook_id: int) -> None:
        """Close the client of a deleted webhook."""
        if (entry := self._clients.pop(webhook_id, None)) is not None:
            await entry[1].aclose()

    async def aclose(self) -> None:
        for webhook_id in list(self._clients):
            await self.forget(webhook_id)

    async def _follow(
        self, webhook_id: int, url: str, secrets: Sequence[str], message_id: str, body: bytes
    ) -> tuple[int, str | None]:
        target = httpx.URL(url)
        headers = {
            "content-type": CONTENT_TYPE, "user-agent": USER_AGENT,
            **signature_headers(secrets, message_id, int(self._clock()), body),
        }  # fmt: skip
        for hop in range(self._max_redirects + 1):
            host, port = split_url(str(target))
            destination = await self._policy.acheck(host, port, self._resolve)
            client = await self._client(webhook_id, host)
            response = await _post(client, target, destination, headers, body)
            code = response.status_code
            location = response.headers.get("location")
            if code not in _REDIRECTS or location is None:
                return code, None if 200 <= code < 300 else f"HTTP {code}"
            following = target.join(location)
            if not _same_host(target, following):
                return code, f"HTTP {code}: redirect to another host ({following.host}) refused"
            if hop == self._max_redirects:
                return code, f"HTTP {code}: more than {self._max_redirects} redirects"
            target = following
        raise AssertionError("unreachable")  # pragma: no cover

    async def _client(self, webhook_id: int, host: str) -> httpx.AsyncClient:
        entry = self._clients.get(webhook_id)
        if entry is not None and entry[0] == host:
            return entry[1]
        if entry is not None:
            await entry[1].aclose()  # the webhook's URL changed host
        client = httpx.AsyncClient(
            verify=self._verify,
            trust_env=False,  # no proxy from the environment: we connect to checked addresses
            follow_redirects=False,
            timeout=self._timeout,
            limits=httpx.Limits(max_connections=2, max_keepalive_connections=1),
        )
        self._clients[webhook_id] = (host, client)
        return client


async def _post(
    client: httpx.AsyncClient,
    url: httpx.URL,
    destination: Destination,
    headers: dict[str, str],
    body: bytes,
) -> httpx.Response:
    """POST to the first checked address that accepts a connection."""
    failure: httpx.ConnectError | None = None
    for address in destination.addresses:
        request = client.build_request(
            "POST", url.copy_with(host=str(address)), content=body,
            headers={**headers, "host": url.netloc.decode("ascii")},
            extensions={"sni_hostname": url.host} if url.scheme == "https" else {},
        )  # fmt: skip
        try:
            response = await client.send(request, stream=True)
        except httpx.ConnectError as exc:
            failure = exc
            continue
        try:
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read > _BODY_LIMIT:
                    break
        finally:
            await response.aclose()
        return response
    assert failure is not None  # a Destination always has an address
    raise failure


def _same_host(origin: httpx.URL, following: httpx.URL) -> bool:
    if following.scheme not in _DEFAULT_PORTS or following.host != origin.host:
        return False
    origin_port = origin.port or _DEFAULT_PORTS[origin.scheme]
    following_port = following.port or _DEFAULT_PORTS[following.scheme]
    if following.scheme == origin.scheme:
        return following_port == origin_port
    # http → https on the same host, default ports: an upgrade. https → http never.
    return (origin.scheme, origin_port, following_port) == ("http", 80, 443)


def _describe(exc: httpx.HTTPError) -> str:
    """What failed, without the receiver's words."""
    if isinstance(exc, httpx.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, httpx.ConnectError):
        reason = str(exc) or "connection failed"
        return f"cannot connect: {reason[:200]}"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the receiver broke the HTTP protocol"
    return f"{type(exc).__name__}"
