"""What follows a MESH send and MESH's tracking (broker/delivery/mesh_delivery.py): tables of
cases from the rules' own policy, and properties that hold for every answer."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.delivery.backoff import Backoff
from broker.delivery.mesh_delivery import TRACKING, Verdict, after_send, after_tracking
from broker.ports import MeshSent, MeshTracking

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
BACKOFF = Backoff(timedelta(seconds=2), timedelta(seconds=600))
TRACK = timedelta(minutes=1)
GIVE_UP = timedelta(hours=120)


class TestAfterSend:
    @pytest.mark.parametrize(
        ("sent", "attempts", "verdict", "reason"),
        [
            (MeshSent("M1"), 1, Verdict.SENT, None),
            (MeshSent("M1"), 8, Verdict.SENT, None),  # accepted on the last attempt
            (MeshSent(None, "ConnectionError"), 1, Verdict.WAIT, None),
            (MeshSent(None, "http_503"), 7, Verdict.WAIT, None),
            (MeshSent(None, "http_503"), 8, Verdict.DEAD, "attempts_exhausted"),
            (MeshSent(None, "mesh_refused", transient=False), 1, Verdict.DEAD, "mesh_refused"),
            (MeshSent(None, "http_403", transient=False), 1, Verdict.DEAD, "mesh_refused"),
        ],
    )
    def test_the_table(
        self, sent: MeshSent, attempts: int, verdict: Verdict, reason: str | None
    ) -> None:
        """Accepted is sent; MESH away is retried until the attempts run out; refused is
        dead at once."""
        step = after_send(sent, attempts, 8, BACKOFF, NOW, 0.5, TRACK)
        assert (step.verdict, step.reason) == (verdict, reason)

    def test_a_sent_message_is_tracked_after_the_interval(self) -> None:
        """MESH's tracking is first asked one interval after MESH accepted the message."""
        assert after_send(MeshSent("M1"), 1, 8, BACKOFF, NOW, 0.5, TRACK).at == NOW + TRACK

    @given(attempts=st.integers(1, 50), jitter=st.floats(0, 0.999), transient=st.booleans())
    def test_a_failed_send_is_never_taken_for_sent(
        self, attempts: int, jitter: float, transient: bool
    ) -> None:
        """Whatever the failure, it is retried later, within the cap, or dead: never sent."""
        step = after_send(MeshSent(None, "e", transient), attempts, 8, BACKOFF, NOW, jitter, TRACK)
        assert step.verdict in (Verdict.WAIT, Verdict.DEAD)
        if step.verdict is Verdict.WAIT:
            assert step.at is not None
            assert NOW <= step.at <= NOW + BACKOFF.cap


class TestAfterTracking:
    @pytest.mark.parametrize(
        ("tracking", "verdict", "reason"),
        [
            (MeshTracking("accepted"), Verdict.WAIT, None),
            (MeshTracking("uploading"), Verdict.WAIT, None),
            (MeshTracking("unreachable"), Verdict.WAIT, None),
            (MeshTracking("acknowledged"), Verdict.ACKNOWLEDGED, None),
            (MeshTracking("undeliverable", "14"), Verdict.DEAD, "mesh_undeliverable"),
            (MeshTracking("error", "06"), Verdict.DEAD, "mesh_error"),
            (MeshTracking("accepted", "14", expired=True), Verdict.DEAD, "mesh_expired"),
            (MeshTracking("a_status_mesh_adds_later"), Verdict.WAIT, None),
        ],
    )
    def test_the_table(self, tracking: MeshTracking, verdict: Verdict, reason: str | None) -> None:
        """Acknowledged by the recipient's mailbox is the transport acknowledgement; MESH's
        non-delivery report, an error or expiry is dead; anything else is asked again."""
        step = after_tracking(tracking, NOW, NOW + TRACK, TRACK, GIVE_UP)
        assert (step.verdict, step.reason) == (verdict, reason)

    def test_silence_past_the_limit_is_a_non_delivery(self) -> None:
        """Never downloaded within the limit is dead, though MESH still says accepted."""
        step = after_tracking(MeshTracking("accepted"), NOW, NOW + GIVE_UP, TRACK, GIVE_UP)
        assert (step.verdict, step.reason) == (Verdict.DEAD, "mesh_not_downloaded")

    @given(status=st.text(max_size=20), minutes=st.integers(0, 10_000))
    def test_only_acknowledged_is_ever_a_delivery(self, status: str, minutes: int) -> None:
        """No status but MESH's "acknowledged" counts as the recipient's mailbox having it."""
        now = NOW + timedelta(minutes=minutes)
        step = after_tracking(MeshTracking(status), NOW, now, TRACK, GIVE_UP)
        assert (step.verdict is Verdict.ACKNOWLEDGED) == (status == "acknowledged")
        assert TRACKING.get("acknowledged") is Verdict.ACKNOWLEDGED
