"""The outbound network policy: addresses, names with several addresses, ports, settings."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from ipaddress import ip_address

import pytest
from pydantic import ValidationError

from citybrain.config.network import NetworkSettings
from citybrain.netpolicy import (
    DestinationError,
    DestinationRefusedError,
    IPAddress,
    NetworkPolicy,
    OwnEndpoint,
    UnresolvableHostError,
    is_local_address,
    resolve_host,
    split_url,
)


def _resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    """A resolver answering from ``table`` (a name missing from it does not resolve)."""

    def resolve(host: str, port: int) -> Sequence[IPAddress]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ip_address(a) for a in table[host]]

    return resolve


DEFAULT = NetworkPolicy(own=OwnEndpoint.parse("127.0.0.1", 8000))


@pytest.mark.parametrize(
    ("address", "port", "allowed", "why"),
    [
        ("127.0.0.1", 554, True, "allowed"),  # a restreamer on the same box
        ("::1", 8554, True, "allowed"),
        ("10.1.2.3", 554, True, "allowed"),
        ("172.16.0.9", 80, True, "allowed"),
        ("192.168.1.20", 554, True, "allowed"),
        ("fd12:3456::7", 443, True, "allowed"),  # IPv6 unique local
        ("203.0.113.5", 443, True, "allowed"),  # public
        ("2001:db8::1", 443, True, "allowed"),
        ("169.254.169.254", 80, False, "cloud metadata service"),
        ("169.254.1.1", 80, False, "link-local"),
        ("fe80::1", 80, False, "link-local"),
        ("fd00:ec2::254", 80, False, "cloud metadata service"),
        ("::ffff:169.254.169.254", 80, False, "cloud metadata service"),  # IPv4-mapped
        ("::ffff:10.0.0.1", 80, True, "allowed"),
        ("64:ff9b::a9fe:a9fe", 80, False, "cloud metadata service"),  # NAT64 of 169.254.169.254
        ("2002:a9fe:a9fe::1", 80, False, "cloud metadata service"),  # 6to4 of the same
        ("0.0.0.0", 80, False, "unspecified"),
        ("::", 80, False, "unspecified"),
        ("127.0.0.1", 8000, False, "this server itself"),
        ("::ffff:127.0.0.1", 8000, False, "this server itself"),
        ("127.0.0.2", 8000, True, "allowed"),  # another loopback address: not where we listen
        ("10.1.2.3", 8000, True, "allowed"),  # our port on another host
    ],
)
def test_default_policy(address: str, port: int, allowed: bool, why: str) -> None:
    verdict = DEFAULT.verdict(ip_address(address), port)
    assert verdict.allowed is allowed, verdict.reason
    assert why in verdict.reason


def test_most_specific_entry_decides_and_deny_wins_ties() -> None:
    policy = NetworkPolicy(
        allow=["169.254.10.0/24", "10.5.0.0/16", "10.6.0.0/16"],
        deny=["10.0.0.0/8", "10.6.0.0/16", "2001:db8::/32"],
    )

    def allowed(address: str) -> bool:
        return policy.verdict(ip_address(address), 80).allowed

    assert allowed("169.254.10.7")  # an allow more specific than the built-in link-local deny
    assert not allowed("169.254.11.7")  # the rest of link-local stays denied
    assert allowed("10.5.1.1")  # more specific than the deny
    assert not allowed("10.7.1.1")
    assert not allowed("10.6.1.1")  # same prefix in allow and deny: deny
    assert not allowed("2001:db8::5")
    assert allowed("2001:db9::5")
    assert "network.deny 10.0.0.0/8" in policy.verdict(ip_address("10.7.1.1"), 80).reason


def test_an_allow_reopening_link_local_does_not_reopen_the_metadata_service() -> None:
    policy = NetworkPolicy(allow=["169.254.0.0/16"])
    assert policy.verdict(ip_address("169.254.3.3"), 80).allowed
    assert not policy.verdict(ip_address("169.254.169.254"), 80).allowed
    explicit = NetworkPolicy(allow=["169.254.169.254/32"])
    assert explicit.verdict(ip_address("169.254.169.254"), 80).allowed


def test_allow_list_by_denying_everything() -> None:
    policy = NetworkPolicy(allow=["10.20.0.0/16", "2001:db8:1::/48"], deny=["0.0.0.0/0", "::/0"])
    assert policy.verdict(ip_address("10.20.3.4"), 554).allowed
    assert policy.verdict(ip_address("2001:db8:1::9"), 554).allowed
    assert not policy.verdict(ip_address("127.0.0.1"), 554).allowed
    assert not policy.verdict(ip_address("::1"), 554).allowed
    assert not policy.verdict(ip_address("8.8.8.8"), 53).allowed
    # IPv4-mapped IPv6 is judged as IPv4: the IPv4 allow entry applies to it.
    assert policy.verdict(ip_address("::ffff:10.20.3.4"), 554).allowed


def test_an_allow_entry_never_reopens_the_servers_own_port() -> None:
    policy = NetworkPolicy(allow=["127.0.0.0/8"], own=OwnEndpoint.parse("127.0.0.1", 8000))
    assert not policy.verdict(ip_address("127.0.0.1"), 8000).allowed


def test_a_name_is_refused_if_any_of_its_addresses_is() -> None:
    resolve = _resolver(
        {
            "cam.example": ["192.168.1.20", "fd00::20"],
            "rebind.example": ["203.0.113.7", "169.254.169.254"],
            "sneaky6.example": ["2001:db8::7", "::ffff:169.254.169.254"],
            "self.example": ["10.0.0.1", "127.0.0.1"],
            "empty.example": [],
        }
    )
    checked = DEFAULT.check("cam.example", 554, resolve)
    assert checked.addresses == (ip_address("192.168.1.20"), ip_address("fd00::20"))
    with pytest.raises(DestinationRefusedError, match=r"rebind.example \(169.254.169.254\)"):
        DEFAULT.check("rebind.example", 80, resolve)
    with pytest.raises(DestinationRefusedError, match="metadata"):
        DEFAULT.check("sneaky6.example", 80, resolve)
    with pytest.raises(DestinationRefusedError, match="this server itself"):
        DEFAULT.check("self.example", 8000, resolve)
    assert DEFAULT.check("self.example", 8001, resolve).port == 8001
    with pytest.raises(UnresolvableHostError, match="no address"):
        DEFAULT.check("empty.example", 80, resolve)
    with pytest.raises(UnresolvableHostError, match=r"cannot resolve 'nowhere\.example'"):
        DEFAULT.check("nowhere.example", 80, resolve)


def test_async_check_uses_the_same_rules() -> None:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ip_address("10.0.0.5"), ip_address("fe80::1")]

    with pytest.raises(DestinationRefusedError, match="link-local"):
        asyncio.run(DEFAULT.acheck("hook.example", 443, resolve))
    assert asyncio.run(DEFAULT.acheck("127.0.0.1", 9000)).addresses == (ip_address("127.0.0.1"),)


def test_urls_and_their_ports() -> None:
    assert split_url("http://example.org/hook") == ("example.org", 80)
    assert split_url("https://example.org/hook") == ("example.org", 443)
    assert split_url("rtsp://user:pw@cam.local/stream") == ("cam.local", 554)
    assert split_url("mqtts://broker:8884") == ("broker", 8884)
    assert split_url("http://[::1]:8080/x") == ("::1", 8080)
    with pytest.raises(DestinationError, match="no host"):
        split_url("http:///nohost")
    with pytest.raises(DestinationError, match="invalid URL"):
        split_url("http://host:99999/")
    with pytest.raises(DestinationError, match="explicit port"):
        split_url("gopher://host/")
    with pytest.raises(DestinationRefusedError, match="this server itself"):
        DEFAULT.check_url("http://127.0.0.1:8000/api/health")
    with pytest.raises(DestinationRefusedError, match=r"\[::ffff:127.0.0.1\]:8000"):
        DEFAULT.check_url("http://[::ffff:127.0.0.1]:8000/api/health")


def test_a_server_listening_everywhere_owns_its_port_on_every_local_address() -> None:
    local = {ip_address("192.168.7.7")}
    policy = NetworkPolicy(own=OwnEndpoint.parse("0.0.0.0", 8000), is_local=local.__contains__)
    assert not policy.verdict(ip_address("127.0.0.1"), 8000).allowed
    assert not policy.verdict(ip_address("::1"), 8000).allowed
    assert not policy.verdict(ip_address("192.168.7.7"), 8000).allowed
    assert policy.verdict(ip_address("192.168.7.8"), 8000).allowed
    assert policy.verdict(ip_address("192.168.7.7"), 8001).allowed
    assert OwnEndpoint.parse("::", 9).addresses is None


def test_own_endpoint_by_name() -> None:
    own = OwnEndpoint.parse("citybrain.local", 8000, _resolver({"citybrain.local": ["10.0.0.4"]}))
    assert own.addresses == frozenset({ip_address("10.0.0.4")})


def test_local_addresses_are_those_a_socket_binds_to() -> None:
    assert is_local_address(ip_address("127.0.0.1"))
    assert not is_local_address(ip_address("203.0.113.77"))  # TEST-NET-3: never configured


def test_real_resolver_gives_every_address() -> None:
    assert resolve_host("127.0.0.1", 80) == [ip_address("127.0.0.1")]
    assert resolve_host("[::1]", 80) == [ip_address("::1")]
    assert ip_address("127.0.0.1") in resolve_host("localhost", 80)


def test_settings_section() -> None:
    settings = NetworkSettings.model_validate({"allow": ["169.254.10.0/24"], "deny": ["10.0.0.1"]})
    policy = NetworkPolicy.from_settings(settings, own=None)
    assert policy.verdict(ip_address("169.254.10.3"), 80).allowed
    assert not policy.verdict(ip_address("10.0.0.1"), 80).allowed
    assert policy.verdict(ip_address("10.0.0.2"), 80).allowed
    with pytest.raises(ValidationError, match=r"deny\.0"):
        NetworkSettings.model_validate({"deny": ["10.0.0.1/8"]})  # host bits set: a typo
    with pytest.raises(ValidationError, match="extra"):
        NetworkSettings.model_validate({"alow": []})
