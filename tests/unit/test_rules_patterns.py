"""Family-level patterns: co-occurrence, accumulation, plan owners and merging."""

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.rules.family import (
    NOT_A_CONCERN,
    Addressee,
    ContactRole,
    Decision,
    Family,
    HouseholdHistory,
    PlanView,
)
from broker.rules.patterns import (
    RULE_ID_LIMIT,
    accumulation,
    apply_patterns,
    co_occurrence,
    event_signals,
    joined_rule_ids,
    merged,
    plan_owners,
    raise_one,
)
from broker.rules.thresholds import Thresholds
from schemas.notices import NoticeType, Severity
from unit.builders import (
    FRONT_DOOR,
    ON,
    PAYLOADS,
    RECEIVED,
    SEVERITY_RANK,
    child,
    event,
    family,
    parent,
    past_event,
    past_notices,
    plan_view,
    with_context,
)

LIMITS = Thresholds()
TRIO = ("mental_health", "domestic_abuse", "substance_misuse")
FRONT = Addressee(FRONT_DOOR, ContactRole.DUTY_MANAGER)
LEAD = "csc-demo"
OWNERS = ("early-help-demo", "hv-demo")


def decision(
    org: str = "gp-riverside",
    severity: Severity = Severity.LOW,
    *,
    notice_type: NoticeType = NoticeType.GP_INFORMATION,
    about: tuple[str, ...] = ("mum",),
    rule_id: str = "rule.gp",
    facts: dict[str, str | int | bool] | None = None,
) -> Decision:
    addressee = Addressee(org, ContactRole.SAFEGUARDING_LEAD)
    return Decision(addressee, notice_type, severity, rule_id, about, facts or {})


def household(history: HouseholdHistory | None = None, plans: tuple[PlanView, ...] = ()) -> Family:
    return with_context(
        family(
            parent("mum", gp="gp-riverside"),
            child("kid", years=8, school="school-oakfield", gp="gp-northgate"),
        ),
        history=history,
        plans=plans,
    )


def events_with(*signal_sets: tuple[int, tuple[str, ...]]) -> HouseholdHistory:
    """A history of earlier events, each ``(days before RECEIVED, signals)``."""
    return HouseholdHistory(events=tuple(past_event(d, *s) for d, s in signal_sets))


def quiet(*events: tuple[str, int, tuple[Severity, ...]]) -> HouseholdHistory:
    """A history of earlier events by their notices: ``(event id, days before, severities)``."""
    return HouseholdHistory(notices=tuple(n for e, d, s in events for n in past_notices(e, d, *s)))


def front_doors(decisions: list[Decision]) -> list[Decision]:
    return [d for d in decisions if d.notice_type is NoticeType.FRONT_DOOR_REFERRAL]


def plan_notices(decisions: list[Decision]) -> list[Decision]:
    return [d for d in decisions if d.notice_type is NoticeType.PLAN_OWNER]


class TestEventSignals:
    @pytest.mark.parametrize(
        ("event_type", "overrides", "expected"),
        [
            ("parent_mental_health_crisis", {}, {"mental_health"}),
            (
                "parent_mental_health_crisis",
                {"domestic_abuse": True, "substance_misuse": True},
                set(TRIO),
            ),
            ("ed_attendance", {"presenting_category": "self_harm"}, {"mental_health"}),
            ("ed_attendance", {"presenting_category": "mental_health"}, {"mental_health"}),
            ("ed_attendance", {"presenting_category": "injury"}, set()),
            ("service_withdrawal", {}, set()),
            ("family_moving_area", {}, set()),
            ("appointment_outcome", {}, set()),
        ],
    )
    def test_signals_by_event(
        self, event_type: str, overrides: dict[str, object], expected: set[str]
    ) -> None:
        """Each event carries exactly the toxic-trio signals its facts show."""
        assert event_signals(event(PAYLOADS[event_type](**overrides))) == expected


class TestCoOccurrence:
    def test_nothing_without_a_trio_signal_on_this_event(self) -> None:
        """A history full of trio signals changes nothing when this event carries none."""
        fam = household(events_with((10, TRIO)))
        decisions = [decision()]
        assert co_occurrence(
            decisions, frozenset({"suicidal_ideation"}), fam, RECEIVED, LIMITS
        ) == (decisions)

    def test_one_signal_alone_changes_nothing(self) -> None:
        """A single trio signal in the household, with no history, is not co-occurrence."""
        decisions = [decision()]
        out = co_occurrence(decisions, frozenset({"mental_health"}), household(), RECEIVED, LIMITS)
        assert out == decisions

    def test_two_signals_across_history_and_event_raise_and_refer(self) -> None:
        """Mental health earlier and domestic abuse now: notices rise a step, front door MEDIUM."""
        fam = household(events_with((30, ("mental_health",))))
        out = co_occurrence([decision()], frozenset({"domestic_abuse"}), fam, RECEIVED, LIMITS)
        gp, front = out
        assert gp.severity is Severity.MEDIUM
        assert gp.facts["co_occurring"] == "domestic_abuse,mental_health"
        assert (front.addressee, front.severity, front.rule_id) == (
            FRONT,
            Severity.MEDIUM,
            "co_occurrence.front_door",
        )
        assert front.about == ("mum", "kid")

    def test_two_signals_on_this_event_alone_are_enough(self) -> None:
        """An event carrying two trio signals co-occurs without any history."""
        signals = frozenset({"mental_health", "substance_misuse"})
        out = co_occurrence([decision()], signals, household(), RECEIVED, LIMITS)
        assert [d.severity for d in front_doors(out)] == [Severity.MEDIUM]

    def test_all_three_refer_high(self) -> None:
        """All three of the toxic trio in the window send a HIGH front-door referral."""
        fam = household(events_with((100, ("substance_misuse",)), (20, ("domestic_abuse",))))
        out = co_occurrence([decision()], frozenset({"mental_health"}), fam, RECEIVED, LIMITS)
        [front] = front_doors(out)
        assert front.severity is Severity.HIGH
        assert front.facts["co_occurring"] == "domestic_abuse,mental_health,substance_misuse"

    def test_signals_outside_the_window_are_ignored(self) -> None:
        """A trio signal older than the co-occurrence window does not count."""
        fam = household(events_with((400, ("mental_health", "substance_misuse"))))
        decisions = [decision()]
        assert co_occurrence(decisions, frozenset({"domestic_abuse"}), fam, RECEIVED, LIMITS) == (
            decisions
        )

    def test_signal_on_the_window_edge_counts(self) -> None:
        """A signal exactly one window before the event is still inside it."""
        days = LIMITS.co_occurrence_window.days
        fam = household(events_with((days, ("mental_health",))))
        out = co_occurrence([decision()], frozenset({"domestic_abuse"}), fam, RECEIVED, LIMITS)
        assert front_doors(out)

    def test_non_trio_history_signals_do_not_count(self) -> None:
        """Earlier signals outside the trio, such as suicidal ideation, are not co-occurrence."""
        fam = household(events_with((10, ("suicidal_ideation", "child_present"))))
        decisions = [decision()]
        assert co_occurrence(decisions, frozenset({"mental_health"}), fam, RECEIVED, LIMITS) == (
            decisions
        )

    @pytest.mark.parametrize(
        ("before", "after"),
        [
            (Severity.LOW, Severity.MEDIUM),
            (Severity.MEDIUM, Severity.HIGH),
            (Severity.HIGH, Severity.HIGH),
        ],
    )
    def test_raise_is_one_step(self, before: Severity, after: Severity) -> None:
        """Co-occurrence raises each notice exactly one step, and HIGH stays HIGH."""
        signals = frozenset({"mental_health", "domestic_abuse"})
        [raised, _front] = co_occurrence(
            [decision(severity=before)], signals, household(), RECEIVED, LIMITS
        )
        assert raised.severity is after

    def test_raise_keeps_earlier_facts(self) -> None:
        """A raised notice keeps the facts it had and gains co_occurring."""
        signals = frozenset({"mental_health", "domestic_abuse"})
        [raised, _front] = co_occurrence(
            [decision(facts={"reason": "x"})], signals, household(), RECEIVED, LIMITS
        )
        assert dict(raised.facts) == {"reason": "x", "co_occurring": "domestic_abuse,mental_health"}


severities = st.sampled_from(list(Severity))
decisions_st = st.lists(
    st.builds(
        lambda org, severity, kind, about, rule: decision(
            org, severity, notice_type=kind, about=about, rule_id=rule
        ),
        st.sampled_from(["gp-riverside", "gp-hillview", "school-oakfield", FRONT_DOOR]),
        severities,
        st.sampled_from([NoticeType.GP_INFORMATION, NoticeType.FRONT_DOOR_REFERRAL]),
        st.sampled_from([("mum",), ("kid",), ("mum", "kid")]),
        st.sampled_from(["a", "b", "c"]),
    ),
    max_size=8,
)
signal_sets = st.frozensets(
    st.sampled_from([*TRIO, "suicidal_ideation", "child_present", NOT_A_CONCERN]), max_size=4
)
histories = st.builds(
    lambda events, notices: HouseholdHistory(events=tuple(events), notices=tuple(notices)),
    st.lists(
        st.builds(lambda d, s: past_event(d, *s), st.integers(0, 500), signal_sets), max_size=5
    ),
    st.lists(
        st.builds(
            lambda e, d, s: past_notices(f"e{e}", d, s)[0],
            st.integers(0, 4),
            st.integers(0, 200),
            severities,
        ),
        max_size=8,
    ),
)


def key(d: Decision) -> tuple[Addressee, NoticeType, tuple[str, ...]]:
    """What merging keeps apart: a front-door referral only by its front door."""
    about = () if d.notice_type is NoticeType.FRONT_DOOR_REFERRAL else d.about
    return d.addressee, d.notice_type, about


class TestSeverityNeverFalls:
    @settings(max_examples=200, deadline=None)
    @given(decisions=decisions_st, signals=signal_sets, history=histories)
    def test_co_occurrence_raises_at_most_one_step(
        self, decisions: list[Decision], signals: frozenset[str], history: HouseholdHistory
    ) -> None:
        """For any decisions and history, each notice keeps its addressee and rises 0 or 1 step."""
        out = co_occurrence(decisions, signals, household(history), RECEIVED, LIMITS)
        for before, after in zip(decisions, out, strict=False):
            assert after.addressee == before.addressee
            assert SEVERITY_RANK[after.severity] - SEVERITY_RANK[before.severity] in (0, 1)
            assert after.severity in (before.severity, raise_one(before.severity))

    @settings(max_examples=200, deadline=None)
    @given(decisions=decisions_st, signals=signal_sets, history=histories)
    def test_patterns_never_lower_a_severity(
        self, decisions: list[Decision], signals: frozenset[str], history: HouseholdHistory
    ) -> None:
        """For any decisions and history, every output is at least as severe as its input."""
        fam = household(history)
        out = {key(d): d for d in apply_patterns(decisions, signals, fam, RECEIVED, LIMITS)}
        for d in decisions:
            assert key(d) in out
            assert SEVERITY_RANK[out[key(d)].severity] >= SEVERITY_RANK[d.severity]

    @settings(max_examples=200, deadline=None)
    @given(decisions=decisions_st, signals=signal_sets, history=histories)
    def test_one_referral_per_front_door(
        self, decisions: list[Decision], signals: frozenset[str], history: HouseholdHistory
    ) -> None:
        """For any decisions and history, each front door gets at most one referral, about
        everyone any referral to it named."""
        out = apply_patterns(decisions, signals, household(history), RECEIVED, LIMITS)
        referrals = front_doors(out)
        assert len({d.addressee for d in referrals}) == len(referrals)
        for d in front_doors(decisions):
            [one] = [r for r in referrals if r.addressee == d.addressee]
            assert set(d.about) <= set(one.about)


def planned(event_id: str, days: int) -> HouseholdHistory:
    """A planned ending as the chronology records it: the event, marked not a concern."""
    return HouseholdHistory(
        events=(replace(past_event(days, NOT_A_CONCERN), event_id=event_id),),
        notices=past_notices(event_id, days, Severity.LOW),
    )


def joined(*histories: HouseholdHistory) -> HouseholdHistory:
    return HouseholdHistory(
        events=tuple(e for h in histories for e in h.events),
        notices=tuple(n for h in histories for n in h.notices),
    )


class TestAccumulation:
    def test_third_quiet_event_in_the_window_refers(self) -> None:
        """Two earlier all-LOW events within 91 days make this LOW event the third: front door."""
        fam = household(
            quiet(("e1", 80, (Severity.LOW, Severity.LOW)), ("e2", 10, (Severity.LOW,)))
        )
        out = accumulation([decision()], frozenset(), fam, RECEIVED, LIMITS)
        [front] = front_doors(out)
        assert (front.addressee, front.severity, front.rule_id) == (
            FRONT,
            Severity.MEDIUM,
            "accumulation.front_door",
        )
        assert dict(front.facts) == {"concerns": 3, "concerns_window_days": 91}
        assert front.about == ("mum", "kid")

    def test_second_quiet_event_does_not_refer(self) -> None:
        """One earlier quiet event makes this the second: nothing is added."""
        fam = household(quiet(("e1", 10, (Severity.LOW,))))
        decisions = [decision()]
        assert accumulation(decisions, frozenset(), fam, RECEIVED, LIMITS) == decisions

    def test_earlier_medium_events_count(self) -> None:
        """Repeated medium concerns are disguised compliance too: two earlier MEDIUM events
        make this the third concern."""
        fam = household(
            quiet(("e1", 20, (Severity.LOW, Severity.MEDIUM)), ("e2", 10, (Severity.MEDIUM,)))
        )
        [front] = front_doors(accumulation([decision()], frozenset(), fam, RECEIVED, LIMITS))
        assert front.facts["concerns"] == 3

    def test_this_event_counts_when_medium(self) -> None:
        """A MEDIUM event after two earlier concerns is the third: front door."""
        fam = household(quiet(("e1", 20, (Severity.LOW,)), ("e2", 10, (Severity.LOW,))))
        decisions = [decision(), decision("gp-hillview", Severity.MEDIUM)]
        assert front_doors(accumulation(decisions, frozenset(), fam, RECEIVED, LIMITS))

    def test_earlier_high_event_does_not_count(self) -> None:
        """An earlier event with a HIGH referral reached the front door on its own: not
        counted."""
        referred = past_notices("e1", 20, Severity.HIGH, notice_type=NoticeType.FRONT_DOOR_REFERRAL)
        earlier = quiet(("e1", 20, (Severity.LOW,)), ("e2", 10, (Severity.LOW,)))
        fam = household(replace(earlier, notices=earlier.notices + referred))
        decisions = [decision()]
        assert accumulation(decisions, frozenset(), fam, RECEIVED, LIMITS) == decisions

    def test_not_when_this_event_is_high(self) -> None:
        """This event sending a HIGH referral is handled as HIGH: no accumulation referral."""
        fam = household(quiet(("e1", 20, (Severity.LOW,)), ("e2", 10, (Severity.LOW,))))
        high = decision(FRONT_DOOR, Severity.HIGH, notice_type=NoticeType.FRONT_DOOR_REFERRAL)
        decisions = [decision(), high]
        assert accumulation(decisions, frozenset(), fam, RECEIVED, LIMITS) == decisions

    def test_a_high_notice_the_front_door_did_not_get_counts(self) -> None:
        """A pattern raised to HIGH for health alone (a child with an EHCP not brought) never
        reached the front door: earlier or now, it counts as a concern."""
        fam = household(quiet(("e1", 20, (Severity.HIGH,)), ("e2", 10, (Severity.HIGH,))))
        decisions = [decision("gp-hillview", Severity.HIGH)]
        [front] = front_doors(accumulation(decisions, frozenset(), fam, RECEIVED, LIMITS))
        assert front.facts["concerns"] == 3

    def test_earlier_planned_ending_does_not_count(self) -> None:
        """A completed discharge recorded as not a concern is not one of the three."""
        fam = household(joined(planned("e1", 30), quiet(("e2", 10, (Severity.LOW,)))))
        decisions = [decision()]
        assert accumulation(decisions, frozenset(), fam, RECEIVED, LIMITS) == decisions

    def test_planned_ending_now_does_not_refer(self) -> None:
        """A completed discharge after two concerns is not the third concern."""
        fam = household(quiet(("e1", 20, (Severity.LOW,)), ("e2", 10, (Severity.LOW,))))
        decisions = [decision()]
        signals = frozenset({NOT_A_CONCERN})
        assert accumulation(decisions, signals, fam, RECEIVED, LIMITS) == decisions

    def test_no_decisions_no_accumulation(self) -> None:
        """An event that sends nothing does not start a referral."""
        fam = household(quiet(("e1", 20, (Severity.LOW,)), ("e2", 10, (Severity.LOW,))))
        assert accumulation([], frozenset(), fam, RECEIVED, LIMITS) == []

    def test_events_outside_the_window_are_ignored(self) -> None:
        """A quiet event more than 91 days ago does not count towards the three."""
        fam = household(quiet(("e1", 100, (Severity.LOW,)), ("e2", 10, (Severity.LOW,))))
        decisions = [decision()]
        assert accumulation(decisions, frozenset(), fam, RECEIVED, LIMITS) == decisions

    def test_threshold_is_configurable(self) -> None:
        """With accumulation_events=2, the second quiet event refers."""
        fam = household(quiet(("e1", 10, (Severity.LOW,))))
        limits = Thresholds(accumulation_events=2, accumulation_window=timedelta(days=30))
        [front] = front_doors(accumulation([decision()], frozenset(), fam, RECEIVED, limits))
        assert dict(front.facts) == {"concerns": 2, "concerns_window_days": 30}


def in_window(**changes: Any) -> Family:
    """The household with one plan for the child, in its step-down window on ``ON``."""
    plan = plan_view(
        "kid",
        started_on=ON - timedelta(days=10),
        step_down_until=ON + timedelta(days=80),
        lead_org=LEAD,
        owner_orgs=OWNERS,
    )
    return household(plans=(replace(plan, **changes),))


class TestPlanOwners:
    def test_in_window_lead_and_owners_are_told(self) -> None:
        """A concern inside a step-down window reaches the lead and each action owner."""
        out = plan_notices(plan_owners([decision()], in_window(), RECEIVED))
        assert [d.addressee for d in out] == [
            Addressee(org, ContactRole.SAFEGUARDING_LEAD) for org in (LEAD, *OWNERS)
        ]
        assert {d.about for d in out} == {("kid",)}
        assert {d.rule_id for d in out} == {"step_down.concern_returned"}
        assert out[0].facts["plan"] == "child_in_need"

    def test_lead_who_is_also_an_owner_is_told_once(self) -> None:
        """An organisation both leading and owning an action gets one notice."""
        out = plan_notices(plan_owners([decision()], in_window(owner_orgs=(LEAD,)), RECEIVED))
        assert [d.addressee.org_id for d in out] == [LEAD]

    def test_last_day_of_the_window_counts(self) -> None:
        """A concern on the window's last day still reaches the owners."""
        fam = in_window(step_down_until=ON)
        assert plan_notices(plan_owners([decision()], fam, RECEIVED))

    @pytest.mark.parametrize(
        "changes",
        [
            {"step_down_until": ON - timedelta(days=1)},
            {"started_on": ON + timedelta(days=1)},
            {"step_down_until": None},
        ],
        ids=["after", "before", "no_window"],
    )
    def test_outside_the_window_nobody_is_told(self, changes: dict[str, Any]) -> None:
        """After the window ends, before it starts, or with no window: no plan-owner notice."""
        assert not plan_notices(plan_owners([decision()], in_window(**changes), RECEIVED))

    def test_no_decisions_tells_nobody(self) -> None:
        """With nothing else to send, the plan owners are not told either."""
        assert plan_owners([], in_window(), RECEIVED) == []

    @pytest.mark.parametrize(
        ("severities", "expected"),
        [
            ([Severity.LOW], Severity.MEDIUM),
            ([Severity.LOW, Severity.MEDIUM], Severity.MEDIUM),
            ([Severity.LOW, Severity.HIGH], Severity.HIGH),
        ],
    )
    def test_severity_is_the_highest_and_at_least_medium(
        self, severities: list[Severity], expected: Severity
    ) -> None:
        """Plan owners get the highest severity of the decisions, never below MEDIUM."""
        decisions = [decision(f"gp-{i}", s) for i, s in enumerate(severities)]
        out = plan_notices(plan_owners(decisions, in_window(), RECEIVED))
        assert {d.severity for d in out} == {expected}


class TestMerged:
    def test_duplicates_merge_with_max_severity_and_joined_rule_ids(self) -> None:
        """Two notices to one addressee, kind and people become one: highest, both reasons."""
        low = decision(severity=Severity.LOW, rule_id="crisis.gp", facts={"a": True})
        high = decision(severity=Severity.HIGH, rule_id="co_occurrence.gp", facts={"b": 1})
        [one] = merged([low, high])
        assert one.severity is Severity.HIGH
        assert one.rule_id == "crisis.gp+co_occurrence.gp"
        assert dict(one.facts) == {"a": True, "b": 1}
        assert (one.addressee, one.notice_type, one.about) == (
            low.addressee,
            low.notice_type,
            low.about,
        )

    def test_same_rule_id_is_named_once(self) -> None:
        """Merging two decisions from one rule names that rule once."""
        [one] = merged([decision(), decision(severity=Severity.MEDIUM)])
        assert one.rule_id == "rule.gp"

    def test_different_about_kept_apart(self) -> None:
        """Notices to one addressee about different people stay separate."""
        out = merged([decision(about=("mum",)), decision(about=("kid",))])
        assert [d.about for d in out] == [("mum",), ("kid",)]

    def test_different_notice_type_kept_apart(self) -> None:
        """Notices of different kinds to one addressee stay separate."""
        out = merged([decision(), decision(notice_type=NoticeType.PLAN_OWNER)])
        assert len(out) == 2

    def test_single_decision_is_unchanged(self) -> None:
        """A decision with no duplicate passes through as it was."""
        only = decision()
        assert merged([only]) == [only]

    def test_front_door_referrals_of_one_event_become_one(self) -> None:
        """The event's own referral and the patterns' become one: everyone named, the highest
        severity, every fact, every rule."""
        own = decision(FRONT_DOOR, Severity.HIGH, notice_type=NoticeType.FRONT_DOOR_REFERRAL,
                       about=("mum", "kid"), rule_id="crisis.front_door",
                       facts={"suicidal_ideation": True})  # fmt: skip
        pattern = decision(FRONT_DOOR, Severity.MEDIUM, notice_type=NoticeType.FRONT_DOOR_REFERRAL,
                           about=("mum", "kid", "baby"), rule_id="repeated_crises.front_door",
                           facts={"parent_crises": 3})  # fmt: skip
        [one] = merged([own, pattern])
        assert (one.addressee, one.notice_type, one.severity) == (
            own.addressee, NoticeType.FRONT_DOOR_REFERRAL, Severity.HIGH,
        )  # fmt: skip
        assert one.about == ("mum", "kid", "baby")
        assert one.rule_id == "crisis.front_door+repeated_crises.front_door"
        assert dict(one.facts) == {"suicidal_ideation": True, "parent_crises": 3}

    def test_referrals_to_two_front_doors_stay_two(self) -> None:
        """Children living in two areas: each area's front door keeps its own referral."""
        here = decision(FRONT_DOOR, notice_type=NoticeType.FRONT_DOOR_REFERRAL)
        there = decision("other-front-door", notice_type=NoticeType.FRONT_DOOR_REFERRAL)
        assert merged([here, there]) == [here, there]

    @settings(max_examples=200, deadline=None)
    @given(decisions=decisions_st)
    def test_never_loses_an_addressee_or_lowers_a_severity(self, decisions: list[Decision]) -> None:
        """Every input addressee is in the output, at a severity no lower than it had."""
        out = merged(decisions)
        assert {d.addressee for d in out} == {d.addressee for d in decisions}
        by_key = {key(d): d for d in out}
        assert len(by_key) == len(out)
        for d in decisions:
            assert SEVERITY_RANK[by_key[key(d)].severity] >= SEVERITY_RANK[d.severity]


class TestJoinedRuleIds:
    def test_each_rule_named_once_in_order(self) -> None:
        """Rule ids are joined with '+', each once, in the order they fired."""
        ids = ["crisis.front_door", "co_occurrence.front_door", "crisis.front_door"]
        assert joined_rule_ids(ids) == "crisis.front_door+co_occurrence.front_door"

    def test_too_long_writes_the_shared_suffix_once(self) -> None:
        """Past the limit, the '.front_door' every rule shares is written once."""
        ids = ["ed.parent_presentation.front_door", "co_occurrence.front_door",
               "repeated_crises.front_door", "unmatched_person.front_door"]  # fmt: skip
        assert joined_rule_ids(ids) == (
            "ed.parent_presentation+co_occurrence+repeated_crises+unmatched_person.front_door"
        )

    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.text(min_size=1, max_size=60), min_size=1, max_size=8))
    def test_never_longer_than_the_limit(self, ids: list[str]) -> None:
        """Whatever the rules, a merged rule id fits the notice record with a follow-up."""
        assert len(joined_rule_ids(ids)) <= RULE_ID_LIMIT
