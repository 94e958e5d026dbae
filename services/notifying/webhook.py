"""Webhooks per the Standard Webhooks specification (https://www.standardwebhooks.com):
a JSON POST signed with HMAC-SHA256 over "<webhook-id>.<webhook-timestamp>.<body>", so
receivers verify with an off-the-shelf library (e.g. `standardwebhooks.Webhook`).

The webhook-id is the event id: a receiver that saw it already can drop the delivery,
which covers the one case the delivery log cannot (a crash after the receiver accepted the
request but before we logged it as sent).

Egress (SSRF): URLs are organisations' input, fetched from inside Pakta's network. A URL
that cannot be sent to (control characters, user info, a bad host or port) is refused at
registration; in production the scheme must be https and the host must resolve only to
public addresses — loopback, private, link-local, multicast, unspecified, reserved and
other non-global addresses (IPv4 and IPv6, IPv4-mapped included; numeric forms such as
`0x7f000001` resolve like any name) are refused, at registration and again at delivery,
where the address checked is the address connected to (DNS rebinding: resolve once,
check, connect to that IP with the original Host and TLS server name). Deliberate
internal receivers are allowed by `PAKTA_WEBHOOK_ALLOWED_HOSTS` (names or CIDRs); dev
also allows loopback, for the dev stack's and the tests' local receivers.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import re
import secrets as random
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cached_property, lru_cache
from urllib.parse import SplitResult, urlsplit

from workflows.messages import Event

SECRET_PREFIX = "whsec_"
USER_AGENT = "Pakta-Webhooks/1"


def new_secret() -> str:
    """A fresh signing secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(random.token_bytes(32)).decode()


# An HMAC keyed with a secret, per secret: keying one (the secret's base64 decoded, OpenSSL
# fetching SHA-256 and hashing the padded key twice) cost four fifths of a signature; a copy of
# the keyed state costs a fifth. Keyed by the secret's text, so a rotated secret is a new key at
# its first signature; the states kept are only ever copied, never updated.
@lru_cache(maxsize=1024)
def _keyed(secret: str) -> hmac.HMAC:
    return hmac.new(base64.b64decode(secret.removeprefix(SECRET_PREFIX)), digestmod=hashlib.sha256)


def sign(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = _keyed(secret).copy()
    mac.update(f"{msg_id}.{timestamp}.".encode())
    mac.update(body)
    return "v1," + base64.b64encode(mac.digest()).decode()


def payload(event: Event) -> bytes:
    """The body: the event as `GET /agreements/{id}/events` shows it (without the actor)."""
    body = {
        "id": event.id,
        "type": event.type,
        "agreement_id": event.agreement_id,
        "seq": event.seq,
        "version": event.version,
        "at": event.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": event.data,
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def headers(*, msg_id: str, timestamp: int, body: bytes, secrets: Iterable[str]) -> dict[str, str]:
    """One signature per active secret (space-separated), so during a rotation receivers
    holding either the new or the old secret verify."""
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, msg_id=msg_id, timestamp=timestamp, body=body) for s in secrets),
    }


def retryable(status: int) -> bool:
    return status >= 500 or status == 429 or status < 200 or 300 <= status < 400


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # not "²", which isdigit() takes and float() refuses
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------- egress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# What an attempt records, never the receiver's answer or an exception's text (they tell
# an internal service's reply, closed ports, PostgreSQL and gRPC apart).
ERROR_CLASSES = (
    "http_status",  # an answer outside 2xx (its status code is recorded)
    "timeout",
    "connection_refused",
    "connection_error",  # reset, unreachable, closed mid-answer
    "tls_error",
    "dns_error",  # the host does not resolve (now)
    "refused_address",  # resolves to an address Pakta does not post to
    "invalid_url",
    "unexpected_error",
)

_UNSENDABLE = re.compile(r"[\x00-\x20\x7f-\x9f]")  # controls, whitespace
_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")


class UrlRefused(Exception):
    """A webhook URL Pakta will not post to; `error` is one of ERROR_CLASSES."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


def allow_list_entry(entry: str) -> IPNetwork | str:
    """An entry of PAKTA_WEBHOOK_ALLOWED_HOSTS: an IP network (an address is a /32 or /128)
    or a host name (lower-cased)."""
    text = entry.strip().lower()
    try:
        return ipaddress.ip_network(text.strip("[]"), strict=False)
    except ValueError:
        pass
    if not _HOST_NAME.match(text):
        raise ValueError(f"{entry!r} is neither a host name nor an IP address or network")
    return text.rstrip(".")


@dataclass(frozen=True)
class Egress:
    """Where webhooks may go: `production` refuses plain http and non-public addresses;
    `allowed` (host names and networks) lets deliberate internal receivers through."""

    production: bool
    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, *, production: bool, allowed: Iterable[str] = ()) -> Egress:
        entries = [allow_list_entry(e) for e in allowed]
        return cls(
            production=production,
            hosts=frozenset(e for e in entries if isinstance(e, str)),
            networks=tuple(e for e in entries if not isinstance(e, str)),
        )

    def host_allowed(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def address_allowed(self, address: IPAddress) -> bool:
        if any(address in network for network in self.networks):
            return True
        if address.is_loopback and not self.production:
            return True  # the dev stack's and the tests' local receivers
        return public(address)


# The special-purpose blocks of the IANA IPv4 and IPv6 special-purpose address registries
# (RFC 6890) that are not globally reachable, and multicast, written down: what
# `ipaddress`'s `is_global` and friends call global differs by Python version (3.11 lets
# 192.0.0.8, 3fff::1 and fec0::1 through). A webhook receiver is never in one of them; the
# few globally reachable addresses inside a block refused whole (PCP and TURN anycast in
# 192.0.0.0/24, ORCHIDv2 and the like in 2001::/23) are no receiver either.
NOT_GLOBALLY_REACHABLE: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(block)
    for block in (
        "0.0.0.0/8",  # "this network" (RFC 791)
        "10.0.0.0/8",  # private (RFC 1918)
        "100.64.0.0/10",  # shared address space, carrier-grade NAT (RFC 6598)
        "127.0.0.0/8",  # loopback (RFC 1122)
        "169.254.0.0/16",  # link-local, cloud metadata (RFC 3927)
        "172.16.0.0/12",  # private (RFC 1918)
        "192.0.0.0/24",  # IETF protocol assignments (RFC 6890): DS-Lite, 192.0.0.8 (RFC 7600), NAT64 discovery
        "192.0.2.0/24",  # TEST-NET-1 (RFC 5737)
        "192.88.99.0/24",  # the 6to4 relay anycast, deprecated (RFC 7526)
        "192.168.0.0/16",  # private (RFC 1918)
        "198.18.0.0/15",  # benchmarking (RFC 2544)
        "198.51.100.0/24",  # TEST-NET-2 (RFC 5737)
        "203.0.113.0/24",  # TEST-NET-3 (RFC 5737)
        "224.0.0.0/4",  # multicast (RFC 5771)
        "240.0.0.0/4",  # reserved (RFC 1112), the limited broadcast 255.255.255.255 (RFC 919) in it
        "::/128",  # unspecified (RFC 4291)
        "::1/128",  # loopback (RFC 4291)
        "::/96",  # IPv4-compatible, deprecated (RFC 4291)
        "::ffff:0:0/96",  # IPv4-mapped (RFC 4291), checked as the IPv4 address before this
        "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215)
        "100::/64",  # discard-only (RFC 6666)
        "100:0:0:1::/64",  # dummy IPv6 prefix (RFC 9780)
        "2001::/23",  # IETF protocol assignments (RFC 2928): TEREDO, benchmarking, ORCHID
        "2001:db8::/32",  # documentation (RFC 3849)
        "3fff::/20",  # documentation (RFC 9637)
        "5f00::/16",  # segment routing SIDs (RFC 9602)
        "fc00::/7",  # unique local (RFC 4193)
        "fe80::/10",  # link-local (RFC 4291)
        "fec0::/10",  # site-local, deprecated (RFC 3879)
        "ff00::/8",  # multicast (RFC 4291)
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # the well-known NAT64 prefix (RFC 6052)


def public(address: IPAddress) -> bool:
    """A globally routable unicast address: in none of NOT_GLOBALLY_REACHABLE and global to
    `ipaddress` too. An IPv4-mapped, 6to4 or NAT64 IPv6 address is checked as the IPv4
    address it carries: a 6to4 relay or a NAT64 gateway delivers to that one."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = address.ipv4_mapped or address.sixtofour
        if carried is None and address in _NAT64:
            carried = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if carried is not None:
            address = carried
    if any(address in block for block in NOT_GLOBALLY_REACHABLE):
        return False
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
    )


@dataclass(frozen=True)
class Target:
    """Where a delivery goes: the URL as registered, and the one address to connect to."""

    url: str
    scheme: str
    host: str  # as in the URL (the Host header and the TLS server name)
    port: int
    address: IPAddress

    @cached_property
    def connect_url(self) -> str:
        """The URL with the checked address in place of the host: httpx connects there and
        nowhere else (no second resolution an attacker's DNS could answer differently)."""
        parts = urlsplit(self.url)
        literal = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return parts._replace(netloc=f"{literal}:{self.port}").geturl()

    @cached_property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


def check_url(url: str, egress: Egress) -> SplitResult:
    """The URL's parts if it can be sent to, else UrlRefused('invalid_url'). Syntax only;
    `resolve` checks where it leads."""
    if _UNSENDABLE.search(url):
        raise UrlRefused("invalid_url", "The URL holds a control character or white space.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused("invalid_url", "The URL's host or port is not valid.") from None
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme not in ("https", "http") or not host:
        raise UrlRefused("invalid_url", "The URL must be absolute, with scheme https.")
    if "@" in parts.netloc:
        raise UrlRefused("invalid_url", "The URL must not carry a user name or password.")
    if port == 0:
        raise UrlRefused("invalid_url", "The URL's port is not valid.")
    if not _literal(host) and not _HOST_NAME.match(host):
        raise UrlRefused("invalid_url", "The URL's host is not a host name or an IP address.")
    if egress.production and parts.scheme != "https" and not _allowed_by_list(host, egress):
        raise UrlRefused("invalid_url", "The URL must use https.")
    return parts


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def _allowed_by_list(host: str, egress: Egress) -> bool:
    literal = _literal(host)
    return egress.host_allowed(host) or (literal is not None and any(literal in n for n in egress.networks))


class Resolutions:
    """Host names' addresses as resolved, each kept `seconds` for the deliveries that follow
    (a recording's events go to the same endpoints within milliseconds; asking the resolver
    for every one cost a thread hop and a DNS query each). Only the resolution is kept: its
    addresses are checked again at every delivery (`resolve`), and the request still
    connects to the checked address, never resolving the name itself — so a DNS answer
    that changes (rebinding) still cannot lead a request to an address that was not
    checked; a changed answer is used once the kept one is `seconds` old, as a resolver's
    own cache would. A failed resolution is not kept."""

    def __init__(self, seconds: float = 5.0, *, size: int = 1024) -> None:
        self.seconds, self.size = seconds, size
        self._kept: dict[tuple[str, int], tuple[float, list[IPAddress]]] = {}

    async def addresses(self, host: str, port: int) -> list[IPAddress]:
        now = time.monotonic()
        kept = self._kept.get((host, port))
        if kept is not None and now - kept[0] < self.seconds:
            return kept[1]
        addresses = await _resolved(host, port)
        self._kept.pop((host, port), None)
        if len(self._kept) >= self.size:
            del self._kept[next(iter(self._kept))]  # the oldest kept
        self._kept[(host, port)] = (now, addresses)
        return addresses


async def resolve(url: str, egress: Egress, resolutions: Resolutions | None = None) -> Target:
    """Check `url`, resolve its host once (or take its resolution kept in `resolutions`) and
    check every address it resolves to; the target to connect to is the first (a host
    written as an IP address is that address). UrlRefused('invalid_url' | 'dns_error' |
    'refused_address') otherwise."""
    scheme, host, port, literal = _checked(url, egress)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    elif resolutions is not None:
        addresses = await resolutions.addresses(host, port)
    else:
        addresses = await _resolved(host, port)
    return _target(url, egress, scheme, host, port, tuple(addresses))


# What a URL is and where it may go depend on nothing but the URL, the egress settings and
# the addresses it resolves to: worked out once for the deliveries that repeat them (the
# URL's parsing and the addresses' classification were most of a webhook's own CPU).
@lru_cache(maxsize=1024)
def _checked(url: str, egress: Egress) -> tuple[str, str, int, IPAddress | None]:
    parts = check_url(url, egress)
    host = (parts.hostname or "").rstrip(".")
    return parts.scheme, host, parts.port or (443 if parts.scheme == "https" else 80), _plain_literal(host)


@lru_cache(maxsize=1024)
def _target(url: str, egress: Egress, scheme: str, host: str, port: int, addresses: tuple[IPAddress, ...]) -> Target:
    if not egress.host_allowed(host) and not all(egress.address_allowed(a) for a in addresses):
        raise UrlRefused(
            "refused_address",
            "The URL leads to an address webhooks are not sent to (loopback, private, link-local, "
            "multicast or reserved).",
        )
    return Target(url=url, scheme=scheme, host=host, port=port, address=addresses[0])


def _plain_literal(host: str) -> IPAddress | None:
    """The address a host written as a plain IP address (`203.0.113.7`, `2001:db8::1`) is:
    resolving it gives itself back, so it is not resolved — the resolver's round trip
    through a thread was a tenth of a webhook's CPU. Anything else is resolved like a name:
    numeric forms the resolver reads as addresses (`0x7f000001`, `127.1`), which `ipaddress`
    does not parse, and addresses with a zone (`fe80::1%eth0`)."""
    if "%" in host:
        return None
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def _resolved(host: str, port: int) -> list[IPAddress]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UrlRefused("dns_error", "The URL's host does not resolve.") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise UrlRefused("dns_error", "The URL's host does not resolve.")
    return addresses


def describe(error: str, status: int | None) -> str:
    """What the delivery log and a disabled endpoint's notice say about a failure."""
    return f"HTTP {status}" if error == "http_status" and status is not None else error
