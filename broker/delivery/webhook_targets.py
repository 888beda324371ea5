"""Where a webhook may point: a public address, never the broker's own network. Pure.

A recipient's webhook URL is chosen by whoever registers it, and the delivery worker POSTs
from inside the broker's network: pointed at loopback, a private or link-local range (cloud
metadata services live at 169.254.169.254) or a reserved one, it would make the broker a
client of its own neighbours. So an address is refused unless it is global unicast; an IPv6
address that carries an IPv4 one (mapped, 6to4, NAT64) is judged by the IPv4 address it
reaches. ``allowed`` names the networks a deployment lets through anyway: loopback in tests
and local development, nothing in production.
"""

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network
NAT64 = IPv6Network("64:ff9b::/96")
LOCAL_NAMES = {"localhost": (IPv4Address("127.0.0.1"), IPv6Address("::1"))}


def reached(address: Address) -> Address:
    """The address a packet to ``address`` ends up at, as far as its form tells."""
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in NAT64:
            return IPv4Address(int(address) & 0xFFFF_FFFF)
    return address


def refused(address: Address, allowed: Sequence[Network] = ()) -> bool:
    """Whether a webhook must not be sent to ``address``."""
    target = reached(address)
    if any(target in network or address in network for network in allowed):
        return False
    return not target.is_global or target.is_multicast


def refused_host(host: str, allowed: Sequence[Network] = ()) -> bool:
    """At registration, what the URL's host says by itself: a literal address, or a name
    that always means this machine. Other names are judged at each send, once resolved
    (what a name resolves to can change after registration)."""
    name = host.strip("[]").lower().rstrip(".")
    if name in LOCAL_NAMES or name.endswith(".localhost"):
        return any(refused(a, allowed) for a in LOCAL_NAMES["localhost"])
    try:
        return refused(ip_address(name.split("%")[0]), allowed)
    except ValueError:
        return False  # a name: resolved and judged when sent
