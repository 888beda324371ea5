"""Where a webhook may point: public unicast addresses, and what a deployment allows."""

from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address, IPv4Network, IPv6Address, ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.delivery.backoff import Backoff
from broker.delivery.webhook_delivery import Attempt, Verdict, after
from broker.delivery.webhook_targets import refused, refused_host

LOOPBACK = IPv4Network("127.0.0.0/8")

REFUSED = [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "240.0.0.1",  # noqa: S104  an address refused, not bound
    "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1",
    "fc00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "2002:7f00:1::1",
    "64:ff9b::a9fe:a9fe",
]  # fmt: skip
ALLOWED = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


class TestRefused:
    @pytest.mark.parametrize("address", REFUSED)
    def test_the_brokers_own_networks_are_refused(self, address: str) -> None:
        """Loopback, private, shared, link-local, reserved, multicast, and IPv6 forms that
        carry one of them: never a webhook's target."""
        assert refused(ip_address(address))

    @pytest.mark.parametrize("address", ALLOWED)
    def test_public_unicast_is_allowed(self, address: str) -> None:
        assert not refused(ip_address(address))

    def test_an_allowed_network_lets_its_addresses_through(self) -> None:
        """Tests and local development allow loopback; nothing else opens with it."""
        assert not refused(IPv4Address("127.0.0.1"), [LOOPBACK])
        assert not refused(IPv6Address("::ffff:127.0.0.1"), [LOOPBACK])
        assert refused(IPv4Address("10.0.0.1"), [LOOPBACK])

    @given(st.ip_addresses())
    def test_refused_is_never_global_unicast_unless_allowed(self, address: object) -> None:
        """Property: whatever is allowed with no allow-list is global and not multicast."""
        assert isinstance(address, IPv4Address | IPv6Address)
        if not refused(address):
            assert not address.is_multicast
            assert address.is_global or address.ipv4_mapped is not None


class TestRefusedHost:
    @pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "api.localhost", "127.0.0.1",
                                      "[::1]", "169.254.169.254", "fe80::1%eth0"])  # fmt: skip
    def test_what_the_url_says_by_itself_is_judged_at_registration(self, host: str) -> None:
        assert refused_host(host)

    def test_names_wait_for_the_send(self) -> None:
        """A name is resolved and judged at each send: what it resolves to can change."""
        assert not refused_host("hooks.school.example")

    def test_localhost_passes_where_loopback_is_allowed(self) -> None:
        assert refused_host("localhost", [LOOPBACK])  # ::1 is loopback too, not allowed
        assert not refused_host("127.0.0.1", [LOOPBACK])


class TestAfterARefusedAddress:
    def test_it_is_dead_at_once_with_its_reason(self) -> None:
        """Nothing was sent and nothing will be until the URL changes: no retries."""
        now = datetime(2026, 11, 29, tzinfo=UTC)
        backoff = Backoff(timedelta(seconds=1), timedelta(seconds=10))
        step = after(Attempt(None, "address_refused", refused=True), 1, 8, backoff, now, 0.5)
        assert (step.verdict, step.reason) == (Verdict.DEAD, "address_refused")
