"""Was not brought: a child's attendance rate over a rolling window."""

from datetime import datetime
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.rules.family import Decision
from broker.rules.history import PersonHistory
from broker.rules.not_brought import route_not_brought
from schemas.events import AppointmentOutcome
from schemas.notices import NoticeType, Severity
from unit.builders import ON, appointment_payload, child, days_before, event, family, parent

Outcome = Literal["attended", "was_not_brought"]


def outcome(result: Outcome = "was_not_brought") -> AppointmentOutcome:
    parsed = event(appointment_payload(outcome=result))
    assert isinstance(parsed, AppointmentOutcome)
    return parsed


def history_of(
    latest: AppointmentOutcome, earlier: list[Outcome], gap_days: int = 20
) -> PersonHistory:
    """The latest appointment plus earlier ones, ``gap_days`` apart going back."""
    when = days_before(latest.booked_for, *(gap_days * (i + 1) for i in range(len(earlier))))
    past: tuple[tuple[datetime, Outcome], ...] = tuple(zip(when, earlier, strict=True))
    return PersonHistory(appointments=((latest.booked_for, latest.outcome), *past))


FAMILY = family(
    parent("mum", gp="gp-riverside"),
    child("kid", years=3, gp="gp-northgate", health_visiting="hv-demo"),
    subject="kid",
)


def route(
    earlier: list[Outcome], latest: Outcome = "was_not_brought", gap: int = 20
) -> list[Decision]:
    appointment = outcome(latest)
    return route_not_brought(appointment, FAMILY, history_of(appointment, earlier, gap), ON)


class TestWasNotBrought:
    def test_below_threshold_fires_with_the_rate(self) -> None:
        """2 of 5 attended (40%) fires, and the notice states the rate and counts."""
        decisions = route(["attended", "attended", "was_not_brought", "was_not_brought"])
        assert {(d.addressee.org_id, d.notice_type) for d in decisions} == {
            ("gp-northgate", NoticeType.GP_INFORMATION),
            ("hv-demo", NoticeType.HEALTH_VISITING),
        }
        assert dict(decisions[0].facts) == {
            "attendance_rate_percent": 40,
            "booked": 5,
            "attended": 2,
            "was_not_brought": 3,
            "window_days": 183,
        }
        assert {d.severity for d in decisions} == {Severity.MEDIUM}

    def test_four_booked_is_enough(self) -> None:
        """Four booked appointments, one attended (25%), fires."""
        decisions = route(["attended", "was_not_brought", "was_not_brought"])
        assert decisions[0].facts["attendance_rate_percent"] == 25

    def test_three_booked_is_too_few(self) -> None:
        """Three booked appointments never fire, even with none attended."""
        assert route(["was_not_brought", "was_not_brought"]) == []

    def test_exactly_sixty_percent_does_not_fire(self) -> None:
        """3 of 5 attended is 60%, not below it."""
        assert route(["attended", "attended", "attended", "was_not_brought"]) == []

    @pytest.mark.parametrize("earlier", [[], ["was_not_brought"] * 6])
    def test_attended_outcome_never_fires(self, earlier: list[Outcome]) -> None:
        """An attended appointment never raises a notice, whatever the history."""
        assert route(earlier, latest="attended") == []

    def test_appointments_outside_the_window_do_not_count(self) -> None:
        """Appointments more than 183 days before the booking do not count."""
        assert route(["was_not_brought"] * 4, gap=100) == []

    def test_subject_must_be_a_child(self) -> None:
        """An adult's missed appointments are not 'was not brought'."""
        fam = family(parent("mum", gp="gp-riverside"), subject="mum")
        appointment = outcome()
        history = history_of(appointment, ["was_not_brought"] * 4)
        assert route_not_brought(appointment, fam, history, ON) == []

    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.sampled_from(["attended", "was_not_brought"]), max_size=10))
    def test_fires_exactly_below_the_rate(self, earlier: list[Outcome]) -> None:
        """It fires iff at least four are booked and under 60% of them were attended."""
        booked = len(earlier) + 1
        attended = earlier.count("attended")
        expected = booked >= 4 and attended / booked < 0.6
        assert bool(route(earlier, gap=15)) == expected
