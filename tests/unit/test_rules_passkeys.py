"""The passkey rules: a challenge used once within five minutes, what a sign-in link grants
once a contact has a passkey, which counters are believable, the relying party from the
inbox's address, and strict base64url."""

import base64
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.rules import passkeys
from broker.rules.passkeys import CHALLENGE_LIFETIME, LinkGrant

AT = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


class TestChallengeUsable:
    @pytest.mark.parametrize(
        ("issued_at", "used_at", "now", "usable"),
        [
            (AT, None, AT, True),  # just issued
            (AT, None, AT + CHALLENGE_LIFETIME - SECOND, True),  # a second before it lapses
            (AT, None, AT + CHALLENGE_LIFETIME, False),  # lapsed
            (AT, AT, AT + SECOND, False),  # used once already
            (AT + SECOND, None, AT, False),  # issued in the future: a clock gone wrong
        ],
    )
    def test_table(self, issued_at: datetime, used_at: datetime | None, now: datetime,
                   usable: bool) -> None:  # fmt: skip
        """Unused, issued, and younger than five minutes: only then."""
        assert passkeys.challenge_usable(issued_at, used_at, now) is usable

    @given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=1)))
    def test_the_cutoff_agrees_with_usable(self, age: timedelta) -> None:
        """A store's condition (issued after the cutoff) says what the rule says."""
        now = AT + age
        assert (passkeys.challenge_cutoff(now) < AT) is passkeys.challenge_usable(AT, None, now)


class TestLinkGrants:
    @pytest.mark.parametrize(
        ("has_passkeys", "grant"), [(False, LinkGrant.SESSION), (True, LinkGrant.INVITATION)]
    )
    def test_table(self, has_passkeys: bool, grant: LinkGrant) -> None:
        """A contact without passkeys is signed in by its link; with one, invited only."""
        assert passkeys.link_grants(has_passkeys) is grant

    @pytest.mark.parametrize(
        ("signed_in_with", "may"), [("link", True), ("invitation", True), ("passkey", False)]
    )
    def test_who_may_enrol(self, signed_in_with: str, may: bool) -> None:
        """Enrolment starts from a link's session, never a passkey's."""
        assert passkeys.may_enrol(signed_in_with) is may


class TestSignCount:
    @pytest.mark.parametrize(
        ("stored", "reported", "believable"),
        [(0, 0, True), (0, 1, True), (5, 6, True), (5, 5, False), (5, 4, False), (5, 0, False)],
    )
    def test_table(self, stored: int, reported: int, believable: bool) -> None:
        """A counting authenticator counts up; one that never counts stays at zero."""
        assert passkeys.sign_count_believable(stored, reported) is believable

    @given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
    def test_a_count_that_went_back_is_never_believed(self, stored: int, reported: int) -> None:
        """Whatever the numbers, a lower or equal non-zero count is refused."""
        if stored > 0 and reported <= stored:
            assert not passkeys.sign_count_believable(stored, reported)


class TestRelyingParty:
    @pytest.mark.parametrize(
        ("url", "rp"),
        [
            (
                "https://inbox.example.gov.uk",
                ("inbox.example.gov.uk", "https://inbox.example.gov.uk"),
            ),
            (
                "https://inbox.example.gov.uk/",
                ("inbox.example.gov.uk", "https://inbox.example.gov.uk"),
            ),
            ("http://localhost:8081", ("localhost", "http://localhost:8081")),
        ],
    )
    def test_table(self, url: str, rp: tuple[str, str]) -> None:
        """The host is the relying party; scheme, host and port the origin."""
        assert passkeys.relying_party(url) == rp

    def test_no_host_is_an_error(self) -> None:
        """An address with no http(s) host names no relying party."""
        with pytest.raises(ValueError, match="no http"):
            passkeys.relying_party("file:///inbox")


class TestBase64Url:
    @given(st.binary(max_size=200))
    def test_round_trip(self, data: bytes) -> None:
        """Any bytes come back from their unpadded base64url."""
        assert passkeys.from_b64url(passkeys.b64url(data)) == data

    @pytest.mark.parametrize("text", ["AA==", "a+b/", "é", "A!"])
    def test_refuses_anything_else(self, text: str) -> None:
        """Padding, the standard alphabet's + and /, other characters: refused."""
        with pytest.raises(ValueError, match="base64url"):
            passkeys.from_b64url(text)

    def test_agrees_with_the_standard_library(self) -> None:
        """The same text as Python's urlsafe encoding, stripped of padding."""
        data = bytes(range(40))
        assert passkeys.b64url(data) == base64.urlsafe_b64encode(data).decode().rstrip("=")


class TestAddedSince:
    def test_only_those_set_up_after_the_last_use_here_count(self) -> None:
        """A passkey set up before this one was last used was seen then; one set up at the
        same instant is not newer."""
        others = [AT - SECOND, AT, AT + SECOND, AT + 60 * SECOND]
        assert passkeys.added_since(AT, others) == 2

    def test_none_without_others(self) -> None:
        assert passkeys.added_since(AT, []) == 0

    @given(st.lists(st.integers(-1000, 1000)), st.integers(-1000, 1000))
    def test_counts_each_later_one_once(self, offsets: list[int], last: int) -> None:
        times = [AT + n * SECOND for n in offsets]
        later = len([n for n in offsets if n > last])
        assert passkeys.added_since(AT + last * SECOND, times) == later
