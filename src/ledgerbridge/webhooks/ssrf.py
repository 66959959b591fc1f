"""Where a webhook may be sent: the SSRF guard, at registration and before every attempt.

A receiver's host is resolved once; every address it resolves to must be public (or, with
``LEDGERBRIDGE_WEBHOOK_ALLOW_PRIVATE_NETWORKS``, loopback or private), and the request is
then sent to that checked address itself (``Target.connect_url``, with the host name kept
for the ``Host`` header and TLS), so a DNS answer that changes between the check and the
connection (rebinding) cannot redirect it. Link-local (169.254.0.0/16 with the cloud
metadata service, fe80::/10), multicast, unspecified and reserved addresses are refused
always. Redirects are never followed (the delivery client's ``follow_redirects=False``).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL_LENGTH = 2048
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeUrl(ValueError):
    """The URL may not receive webhooks; the message says why (never a resolved address)."""


@dataclass(frozen=True)
class Target:
    host: str  # the name in the URL: the Host header and the TLS server name
    host_header: str
    address: IPAddress  # where the request goes
    connect_url: str  # the URL with the checked address in place of the host


def parse(url: str, *, production: bool) -> SplitResult:
    """Syntax only: an absolute http(s) URL (https in production) with a host and no
    credentials."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise UnsafeUrl("the URL contains spaces or control characters")
    parts = urlsplit(url)
    allowed = ("https",) if production else ("http", "https")
    if parts.scheme not in allowed:
        raise UnsafeUrl("the URL must be https" if production else "the URL must be http or https")
    if not parts.hostname:
        raise UnsafeUrl("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("the URL may not carry credentials (user:password@)")
    try:
        parts.port  # noqa: B018 - raises for a port out of range
    except ValueError:
        raise UnsafeUrl("the URL's port is invalid") from None
    return parts


def refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why ``address`` may not receive webhooks, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or (
            ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in _NAT64 else None
        )
        if embedded is not None:
            return refusal(embedded, allow_private=allow_private)
    if address.is_link_local:
        return "a link-local address (169.254.0.0/16, fe80::/10, cloud metadata)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified or address in _THIS_NETWORK:
        return "an unspecified address"
    if address.is_loopback:  # before reserved: ::1 lies in IPv6's reserved ::/8
        return None if allow_private else "a loopback address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private or not address.is_global:
        return None if allow_private else "a private address"
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an address literal is itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeUrl("the URL's host name does not resolve") from None
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise UnsafeUrl("the URL's host name does not resolve")
    return found


def check(url: str, *, production: bool, allow_private: bool) -> Target:
    """Resolve the URL's host and refuse it unless every address it has is allowed."""
    parts = parse(url, production=production)
    host = parts.hostname
    assert host is not None
    default_port = 443 if parts.scheme == "https" else 80
    port = parts.port or default_port
    addresses = resolve(host, port)
    for address in addresses:
        why = refusal(address, allow_private=allow_private)
        if why is not None:
            raise UnsafeUrl(f"the URL's host is, or resolves to, {why}")
    address = addresses[0]
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = literal if parts.port is None else f"{literal}:{port}"
    host_header = host if parts.port is None else f"{host}:{port}"
    if ":" in host:  # an IPv6 literal keeps its brackets in the Host header
        host_header = f"[{host}]" if parts.port is None else f"[{host}]:{port}"
    connect_url = parts._replace(netloc=netloc, fragment="").geturl()
    return Target(host=host, host_header=host_header, address=address, connect_url=connect_url)
