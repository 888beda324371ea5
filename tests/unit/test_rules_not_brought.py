"""Was not brought: a child's attendance rate, and the rate across brothers and sisters."""

from datetime import datetime, timedelta
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.rules.family import Decision, Family
from broker.rules.history import PersonHistory
from broker.rules.not_brought import route_not_brought
from broker.rules.patterns import merged
from schemas.events import AppointmentOutcome
from schemas.notices import NoticeType, Severity
from unit.builders import ON, appointment_payload, child, days_before, event, family, parent

Outcome = Literal["attended", "was_not_brought", "cancelled_by_parent"]
WNB: Outcome = "was_not_brought"
ATT: Outcome = "attended"
CAN: Outcome = "cancelled_by_parent"


def outcome(result: Outcome = WNB) -> AppointmentOutcome:
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


def dated(latest: AppointmentOutcome, *earlier: tuple[int, Outcome]) -> PersonHistory:
    """The latest appointment plus earlier ones, each ``(days before, outcome)``."""
    past = tuple((latest.booked_for - timedelta(days=d), o) for d, o in earlier)
    return PersonHistory(appointments=((latest.booked_for, latest.outcome), *past))


FAMILY = family(
    parent("mum", gp="gp-riverside"),
    child("kid", years=3, gp="gp-northgate", health_visiting="hv-demo"),
    subject="kid",
)


def route(earlier: list[Outcome], latest: Outcome = WNB, gap: int = 20) -> list[Decision]:
    appointment = outcome(latest)
    return route_not_brought(appointment, FAMILY, history_of(appointment, earlier, gap), ON)


class TestOwnRate:
    def test_below_threshold_fires_with_the_rate(self) -> None:
        """2 of 5 attended (40%) fires, and the notice states the rate and counts."""
        decisions = route([ATT, ATT, WNB, WNB])
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
        assert {d.rule_id for d in decisions} == {"was_not_brought.gp", "was_not_brought.health"}

    @pytest.mark.parametrize(
        ("attended", "booked", "percent"),
        [(6, 25, 24), (8, 13, 62), (4, 8, 50)],
        ids=["child_b_24", "sibling_62", "sibling_50"],
    )
    def test_the_child_b_review_rates_are_caught(
        self, attended: int, booked: int, percent: int
    ) -> None:
        """The rates the Child B review found (24%, 62%, 50%) each fire at the default
        threshold, and the notice states the rate."""
        earlier = [ATT] * attended + [WNB] * (booked - attended - 1)
        decisions = route(earlier, gap=7)
        assert decisions
        assert {d.facts["attendance_rate_percent"] for d in decisions} == {percent}

    def test_four_booked_is_enough(self) -> None:
        """Four booked appointments, two attended (50%), fires."""
        decisions = route([ATT, ATT, WNB])
        assert decisions[0].facts["attendance_rate_percent"] == 50

    def test_three_booked_is_too_few(self) -> None:
        """Three booked appointments never fire, even with none attended."""
        assert route([WNB, WNB]) == []

    def test_exactly_three_quarters_does_not_fire(self) -> None:
        """3 of 4 attended is 75%, not below it."""
        assert route([ATT, ATT, ATT]) == []

    def test_each_further_miss_while_below_is_told(self) -> None:
        """Another was-not-brought while the rate is already below is news: it fires again."""
        assert route([WNB, WNB, WNB, WNB])

    def test_appointments_outside_the_window_do_not_count(self) -> None:
        """Appointments more than 183 days before the booking do not count."""
        assert route([WNB] * 4, gap=100) == []

    def test_subject_must_be_a_child(self) -> None:
        """An adult's missed appointments are not 'was not brought'."""
        fam = family(parent("mum", gp="gp-riverside"), subject="mum")
        appointment = outcome()
        history = history_of(appointment, [WNB] * 4)
        assert route_not_brought(appointment, fam, history, ON) == []

    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.sampled_from([ATT, WNB]), max_size=10))
    def test_a_miss_fires_exactly_below_the_rate(self, earlier: list[Outcome]) -> None:
        """A was-not-brought fires iff at least four are booked and under 75% were attended."""
        booked = len(earlier) + 1
        attended = earlier.count(ATT)
        expected = booked >= 4 and attended / booked < 0.75
        assert bool(route(earlier, gap=15)) == expected


class TestParentCancellations:
    """Lists of earlier outcomes run from the most recent back, as ``route`` takes them."""

    def test_one_cancellation_is_rebooked_care_and_not_counted(self) -> None:
        """Not brought once, attended three times, one cancellation between: 3 of 4 (75%),
        not below; counted as a miss it would be 3 of 5."""
        assert route([ATT, CAN, ATT, WNB], latest=ATT) == []

    def test_the_second_cancellation_in_a_row_counts_as_not_brought(self) -> None:
        """Not brought, attended twice, then two cancellations in a row: the second counts,
        2 of 4 (50%), and the notice says how many cancellations there were."""
        decisions = route([CAN, ATT, ATT, WNB], latest=CAN)
        assert {d.rule_id for d in decisions} == {"was_not_brought.gp", "was_not_brought.health"}
        assert dict(decisions[0].facts) == {
            "attendance_rate_percent": 50,
            "booked": 4,
            "attended": 2,
            "was_not_brought": 2,
            "window_days": 183,
            "cancelled_by_parent": 2,
        }

    def test_an_appointment_kept_between_cancellations_breaks_the_run(self) -> None:
        """Cancel, attend, cancel: neither cancellation counts (3 of 4 attended)."""
        assert route([ATT, CAN, ATT, WNB, ATT], latest=CAN) == []

    def test_a_cancellation_that_does_not_count_is_no_news(self) -> None:
        """The rate is already below (1 of 4), but a single cancellation changes nothing:
        nobody is told again."""
        assert route([WNB, WNB, WNB, ATT], latest=CAN) == []

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.sampled_from([ATT, WNB, CAN]), max_size=10),
           st.sampled_from([WNB, CAN]))  # fmt: skip
    def test_a_miss_or_counted_cancellation_fires_exactly_below_the_rate(
        self, earlier: list[Outcome], latest: Outcome
    ) -> None:
        """Chronologically, a cancellation counts as not brought iff the outcome before it
        was a cancellation too; the latest outcome fires iff it is a miss (or a counted
        cancellation) and the counted rate is under 75% of at least four."""
        in_order = [*reversed(earlier), latest]
        kept = [ATT if o == ATT else WNB for i, o in enumerate(in_order)
                if o != CAN or (i > 0 and in_order[i - 1] == CAN)]  # fmt: skip
        counts = latest == WNB or (len(in_order) > 1 and in_order[-2] == CAN)
        expected = counts and len(kept) >= 4 and kept.count(ATT) / len(kept) < 0.75
        assert bool(route(earlier, latest=latest, gap=15)) == expected


class TestAttendedOutcome:
    def test_attended_that_first_makes_the_rate_count_fires(self) -> None:
        """Two missed of three, then attended: the fourth booking makes 2 of 4 (50%), below."""
        [gp, _health] = route([ATT, WNB, WNB], latest=ATT)
        assert (gp.rule_id, gp.facts["attendance_rate_percent"]) == ("was_not_brought.gp", 50)

    def test_attended_while_already_below_is_not_repeated(self) -> None:
        """Already below at the appointment before (1 of 4): attending (2 of 5) tells nobody."""
        assert route([WNB, WNB, WNB, ATT], latest=ATT) == []

    def test_attended_at_or_above_the_rate_tells_nobody(self) -> None:
        """Three of four attended is not below: nothing."""
        assert route([ATT, ATT, WNB], latest=ATT) == []

    def test_attended_fires_when_older_attendances_leave_the_window(self) -> None:
        """Seven of nine attended (78%) at the appointment before; six months on, the early
        attendances have left the window: 2 of 4 (50%) shows the pattern for the first time."""
        latest = outcome(ATT)
        early = [(d, ATT) for d in (200, 198, 196, 194, 192, 190)]
        history = dated(latest, *early, (100, WNB), (80, WNB), (60, ATT))
        [gp, _health] = route_not_brought(latest, FAMILY, history, ON)
        assert (gp.facts["booked"], gp.facts["attended"]) == (4, 2)

    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.sampled_from([ATT, WNB]), max_size=10))
    def test_attended_fires_only_where_the_pattern_first_shows(
        self, earlier: list[Outcome]
    ) -> None:
        """An attended outcome fires iff the rate is below now and was not at the appointment
        before (all inside one window)."""

        def below(outcomes: list[Outcome]) -> bool:
            return len(outcomes) >= 4 and outcomes.count(ATT) / len(outcomes) < 0.75

        # ``earlier`` runs back in time: the appointment before is earlier[0].
        expected = below([ATT, *earlier]) and not (earlier and below(earlier))
        assert bool(route(earlier, latest=ATT, gap=15)) == expected


SIBLINGS = family(
    parent("mum", gp="gp-riverside"),
    child("kid", years=3, gp="gp-northgate", health_visiting="hv-demo"),
    child("sib", years=6, gp="gp-northgate"),
    child("baby", months=4, gp="gp-hillview", health_visiting="hv-demo"),
    subject="kid",
)


def with_siblings(
    latest: AppointmentOutcome, own: list[Outcome], **siblings: list[Outcome]
) -> PersonHistory:
    """The subject's history (latest plus ``own``, 10 days apart going back) and each
    sibling's outcomes, 10 days apart starting 5 days before the latest."""

    def sibling(outcomes: list[Outcome]) -> PersonHistory:
        when = days_before(latest.booked_for, *(5 + 10 * i for i in range(len(outcomes))))
        return PersonHistory(appointments=tuple(zip(when, outcomes, strict=True)))

    mine = history_of(latest, own, gap_days=10)
    return PersonHistory(
        appointments=mine.appointments, siblings={k: sibling(v) for k, v in siblings.items()}
    )


def siblings_route(
    latest: Outcome, own: list[Outcome], fam: Family = SIBLINGS, **siblings: list[Outcome]
) -> list[Decision]:
    appointment = outcome(latest)
    return route_not_brought(appointment, fam, with_siblings(appointment, own, **siblings), ON)


def about(decisions: list[Decision], rule: str) -> set[tuple[str, ...]]:
    return {d.about for d in decisions if d.rule_id.startswith(rule)}


class TestSiblingsRate:
    def test_children_below_together_are_each_told(self) -> None:
        """No child has four bookings, but together 1 of 5 were brought: each child who was
        not brought is the subject of notices to its GP and health team."""
        decisions = siblings_route(WNB, [WNB], sib=[ATT, WNB], baby=[WNB])
        assert about(decisions, "was_not_brought.siblings") == {("kid",), ("sib",), ("baby",)}
        assert not about(decisions, "was_not_brought.gp")  # no child's own rate counts yet
        assert {(d.addressee.org_id, d.notice_type, d.about) for d in decisions} == {
            ("gp-northgate", NoticeType.GP_INFORMATION, ("kid",)),
            ("hv-demo", NoticeType.HEALTH_VISITING, ("kid",)),
            ("gp-northgate", NoticeType.GP_INFORMATION, ("sib",)),
            ("gp-hillview", NoticeType.GP_INFORMATION, ("baby",)),
            ("hv-demo", NoticeType.HEALTH_VISITING, ("baby",)),
        }

    def test_facts_give_the_childrens_rate_and_the_childs_own(self) -> None:
        """A sibling's notice states the rate across the children and that child's counts."""
        decisions = siblings_route(WNB, [WNB], sib=[ATT, WNB], baby=[WNB])
        [sib] = [d for d in decisions if d.about == ("sib",)]
        assert dict(sib.facts) == {
            "siblings_attendance_rate_percent": 20,
            "siblings_booked": 5,
            "siblings_attended": 1,
            "children_with_appointments": 3,
            "attendance_rate_percent": 50,
            "booked": 2,
            "attended": 1,
            "was_not_brought": 1,
            "window_days": 183,
        }

    def test_a_child_brought_every_time_is_not_told_about(self) -> None:
        """A sibling brought to every appointment is not one the pattern concerns."""
        decisions = siblings_route(WNB, [WNB, WNB], sib=[ATT, ATT])
        assert about(decisions, "was_not_brought.siblings") == {("kid",)}

    def test_one_child_with_appointments_is_its_own_rate_only(self) -> None:
        """With no sibling's appointments in the window, the children's rate is the child's."""
        decisions = siblings_route(WNB, [WNB, WNB, WNB], sib=[])
        assert about(decisions, "was_not_brought.siblings") == set()
        assert about(decisions, "was_not_brought.gp") == {("kid",)}

    def test_together_at_or_above_the_rate_tells_nobody(self) -> None:
        """Three of four brought across the children is not below."""
        assert siblings_route(WNB, [ATT], sib=[ATT, ATT]) == []

    def test_children_of_another_household_do_not_count(self) -> None:
        """Only children sharing a household with the child are its brothers and sisters."""
        apart = family(
            parent("mum", gp="gp-riverside"),
            child("kid", "h1", years=3, gp="gp-northgate"),
            child("cousin", "h2", years=6, gp="gp-northgate"),
            subject="kid",
        )
        assert siblings_route(WNB, [WNB], fam=apart, cousin=[WNB, WNB]) == []

    def test_attended_that_first_shows_the_childrens_rate_fires(self) -> None:
        """Together 1 of 3 (too few); the subject's attended fourth makes 2 of 4 (50%)."""
        decisions = siblings_route(ATT, [WNB], sib=[WNB, ATT])
        assert about(decisions, "was_not_brought.siblings") == {("kid",), ("sib",)}

    def test_attended_while_the_childrens_rate_is_already_below_is_not_repeated(self) -> None:
        """Already below together before (1 of 5): the subject attending tells nobody."""
        assert siblings_route(ATT, [WNB, WNB], sib=[WNB, ATT, WNB]) == []

    def test_own_and_childrens_notice_about_one_child_merge(self) -> None:
        """A child both rates concern gets one notice per recipient, naming both rules."""
        decisions = merged(siblings_route(WNB, [WNB, WNB, WNB], sib=[WNB]))
        [gp] = [
            d for d in decisions if d.addressee.org_id == "gp-northgate" and d.about == ("kid",)
        ]
        assert gp.rule_id == "was_not_brought.gp+was_not_brought.siblings.gp"
        assert gp.facts["attendance_rate_percent"] == 0
        assert gp.facts["siblings_attendance_rate_percent"] == 0
