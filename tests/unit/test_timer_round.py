"""The timer round's failure policy (broker/services/timer_round.py): one item that fails for
good is left for the next round and holds up no other; the database or Kafka being away
stops the round. What each item does is tested through the timer in tests/integration."""

import pytest

from broker.errors import PublishFailed, SignatureInvalid
from broker.services.timer_round import _each, transient


async def _by_ref(ref: str) -> str | None:
    """Makes ``ref`` done, nothing for "none", and fails as each other ref names."""
    if ref == "none":
        return None
    if ref == "broken":
        raise SignatureInvalid("a record that will never open")
    if ref == "kafka-away":
        raise PublishFailed("Kafka did not acknowledge")
    if ref == "db-restarting":
        raise OSError("Connect call failed")
    return f"{ref} done"


class TestEachItem:
    async def test_answers_what_each_made_in_order(self) -> None:
        """Every item is done in turn, and what each made is answered in that order."""
        assert await _each(["a", "b"], _by_ref, "test") == ["a done", "b done"]

    async def test_an_item_that_made_nothing_is_left_out(self) -> None:
        """An item already claimed elsewhere makes nothing, and nothing is answered for it."""
        assert await _each(["a", "none", "b"], _by_ref, "test") == ["a done", "b done"]

    async def test_an_item_failing_for_good_holds_up_no_other(self) -> None:
        """A failure that waiting will not cure skips that item only, for the next round."""
        assert await _each(["broken", "a"], _by_ref, "test") == ["a done"]

    @pytest.mark.parametrize("ref", ["kafka-away", "db-restarting"])
    async def test_kafka_or_the_database_away_stops_the_round(self, ref: str) -> None:
        """The rest would fail the same way; the scheduler tries the round again later."""
        with pytest.raises((PublishFailed, OSError)):
            await _each(["a", ref, "b"], _by_ref, "test")


class TestTransient:
    def test_a_bare_connect_failure_is_transient(self) -> None:
        """asyncpg's "Connect call failed" to a restarting database is a bare OSError."""
        assert transient(OSError("Connect call failed"))

    def test_a_bad_record_is_not(self) -> None:
        """A record that will never open is skipped, never waited out."""
        assert not transient(SignatureInvalid("bad"))
