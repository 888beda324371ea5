"""The rule table: what each rule declares it tells agrees with what ``decide`` does.

Representative families, built with the unit builders, between them reach every route the
table declares; every decision they produce is one the table declares, at a declared severity.
So the README's who-is-told table, rendered from the declarations, cannot drift silently from
the code that decides.
"""

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.rules import fallback, who_is_told
from broker.rules.deadlines import POLICIES, describe_deadline
from broker.rules.family import Decision, Family, HouseholdHistory, Member, OrgKind
from broker.rules.history import Appointments, Outcome, PersonHistory
from broker.rules.routing import COMMON_ROUTES, ROUTES, decide
from broker.rules.table import Route, is_declared
from broker.rules.thresholds import Thresholds
from schemas.events import Event, EventType
from schemas.notices import NoticeType, Severity
from unit.builders import (
    AREA,
    RECEIVED,
    appointment_payload,
    attendance_payload,
    child,
    contact_payload,
    crisis_payload,
    days_before,
    ed_payload,
    event,
    family,
    home_education_payload,
    incident_family,
    incident_payload,
    missing_education_payload,
    move_payload,
    parent,
    past_event,
    past_notices,
    plan_view,
    pregnancy_payload,
    step_down_plan,
    unborn,
    with_context,
    withdrawal_payload,
)

SATURDAY_NIGHT = datetime(2027, 5, 8, 22, 0, tzinfo=UTC)  # every front door is closed
_DEFAULT = Thresholds()


@dataclass(frozen=True)
class Case:
    """An event about a family, as the router would hand it to ``decide``."""

    name: str
    event: Event
    family: Family
    history: PersonHistory = field(default_factory=PersonHistory)
    received_at: datetime = RECEIVED

    def own_rule(self) -> list[Decision]:
        rule = ROUTES[self.event.event_type]
        return rule(self.event, self.family, self.history, self.received_at.date(), _DEFAULT)

    def decided(self) -> list[Decision]:
        return decide(self.event, self.family, self.history, self.received_at)


def parents_and_children(*children: Member) -> Family:
    """Mum (the subject) and dad at different practices, with the children given."""
    return family(
        parent("mum", gp="gp-riverside", involved=("mh-demo", "housing-demo")),
        parent("dad", gp="gp-hillview"),
        *children,
    )


def every_kind_of_child() -> tuple[Member, ...]:
    """A pupil, a baby known to health visiting, and a school-age child with no school."""
    return (
        child("pupil", school="school-oakfield", gp="gp-northgate"),
        child("baby", years=0, months=8, health_visiting="hv-demo", gp="gp-northgate"),
        child("home_educated", years=9, gp="gp-northgate"),
    )


def crisis(**flags: Any) -> Event:
    return event(crisis_payload(**flags))


def ed(**fields: Any) -> Event:
    return event(ed_payload(**fields))


def the_child(*members: Member) -> Family:
    return family(*members, subject=members[0].person_id)


def appointments(*outcomes: Outcome, end: datetime) -> Appointments:
    """One appointment a week, the last at ``end``, oldest first."""
    times = days_before(end, *(7 * i for i in reversed(range(len(outcomes)))))
    return tuple(zip(times, outcomes, strict=True))


BOOKED = datetime.fromisoformat(appointment_payload()["booked_for"])
OPEN_PLAN = plan_view("pupil", lead_org="csc-demo")


def event_cases() -> list[Case]:
    kids = every_kind_of_child()
    on_plan = child("pupil", school="school-oakfield", gp="gp-northgate",
                    health_visiting="sn-demo")  # fmt: skip
    brother = child("brother", gp="gp-northgate", health_visiting="sn-demo")
    return [
        Case("a high-risk crisis", crisis(suicidal_ideation=True), parents_and_children(*kids)),
        Case("a parent's self-harm at ED", ed(presenting_category="self_harm"),
             parents_and_children(*kids)),
        Case("a child's self-harm, known to school nursing", ed(presenting_category="self_harm"),
             the_child(child("teen", years=14, health_visiting="sn-demo", gp="gp-northgate"))),
        Case("a child's mental health presentation, at school",
             ed(presenting_category="mental_health"),
             the_child(child("teen", years=14, school="school-oakfield", gp="gp-northgate"))),
        Case("a child's self-harm, no school place", ed(presenting_category="self_harm"),
             the_child(child("teen", years=14, gp="gp-northgate"))),
        Case("a toddler's ingestion", ed(presenting_category="ingestion_or_poisoning"),
             the_child(child("toddler", years=2, health_visiting="hv-demo", gp="gp-northgate"))),
        Case("a baby's injury", ed(presenting_category="injury"),
             the_child(child("baby", months=5, years=0, health_visiting="hv-demo",
                             gp="gp-northgate"))),
        Case("a child's third attendance", ed(presenting_category="other"),
             the_child(child("pupil", health_visiting="sn-demo", gp="gp-northgate")),
             PersonHistory(ed_attendances=days_before(RECEIVED, 1, 40, 80))),
        Case("a parent with mental health needs disengages",
             event(withdrawal_payload(reason="non_engagement")), parents_and_children(*kids)),
        Case("a step-down", event(withdrawal_payload(reason="stepped_down",
                                                     step_down=step_down_plan())),
             parents_and_children(*kids)),
        Case("a move to a known area", event(move_payload(new_school="school-brookside",
                                                          new_gp="gp-hillview")),
             parents_and_children(*kids)),
        Case("a move, destination unknown", event(move_payload(to_authority=None)),
             parents_and_children(*kids)),
        Case("a move into Wales, to an authority the partnership cannot reach",
             event(move_payload(to_authority="W06000015")), parents_and_children(*kids)),
        Case("a move, no front door in the directory at all",
             event(move_payload(to_authority=None)),
             replace(parents_and_children(*kids), front_doors={})),
        Case("a child on a plan not brought", event(appointment_payload()),
             with_context(the_child(on_plan), plans=(OPEN_PLAN,)),
             PersonHistory(appointments=appointments(
                 "attended", "was_not_brought", "was_not_brought", "was_not_brought",
                 end=BOOKED))),
        Case("brothers and sisters not brought", event(appointment_payload()),
             with_context(the_child(on_plan, brother), plans=(OPEN_PLAN,)),
             PersonHistory(
                 appointments=appointments("attended", "was_not_brought", end=BOOKED),
                 siblings={"brother": PersonHistory(appointments=appointments(
                     "was_not_brought", "was_not_brought", end=BOOKED))})),
        Case("a high-risk domestic abuse incident, every kind of child",
             event(incident_payload(((True, "same_room"), (True, None), (False, None)), "high")),
             incident_family(*parents_and_children(*kids).members,
                             children=("pupil", "baby", "home_educated"))),
        *education_cases(),
        Case("a midwife's lateral check about a mother whose child is on a plan",
             event(contact_payload()), with_context(parents_and_children(*kids),
                                                    plans=(OPEN_PLAN,))),
        Case("a booking in a family with an ended child protection plan",
             event(pregnancy_payload()),
             with_context(expecting(unborn(), *kids), plans=(plan_view(
                 "pupil", kind="child_protection", ended_on=RECEIVED.date()),))),
        Case("a routine booking the directory holds no unborn child for",
             event(pregnancy_payload()), expecting(*kids)),
    ]  # fmt: skip


def education_cases() -> list[Case]:
    """Attendance on a plan, a child missing (in an area nobody serves), home education
    with an EHCP after an earlier referral, a nursery place not taken up by a twin."""
    pupil = child("pupil", school="school-oakfield", gp="gp-northgate", health_visiting="sn-demo")
    toddler = child("toddler", years=3, gp="gp-northgate", health_visiting="hv-demo")
    twin = child("twin", years=3, gp="gp-northgate", health_visiting="hv-demo")
    referred = HouseholdHistory(
        notices=past_notices("e1", 90, Severity.MEDIUM, notice_type=NoticeType.FRONT_DOOR_REFERRAL)
    )
    early = event(
        attendance_payload(
            setting="early_years", concern="place_not_taken_up", attendance_percent=0
        )
    )
    at = early.occurred_at
    return [
        Case("persistent absence, child on a plan", event(attendance_payload()),
             with_context(the_child(pupil), plans=(OPEN_PLAN,))),
        Case("a child missing education, whereabouts unknown",
             event(missing_education_payload(whereabouts_known=False)),
             with_context(the_child(pupil), plans=(OPEN_PLAN,))),
        Case("a child missing education, area without a front door",
             event(missing_education_payload(whereabouts_known=False)),
             the_child(replace(pupil, area="E06000999"))),
        Case("home education with an EHCP, an earlier referral",
             event(home_education_payload(has_ehcp=True)),
             with_context(the_child(pupil), history=referred)),
        Case("a nursery place not taken up, twins not brought", early,
             the_child(toddler, twin),
             PersonHistory(appointments=appointments("attended", "was_not_brought", end=at),
                           siblings={"twin": PersonHistory(appointments=appointments(
                               "was_not_brought", "was_not_brought", end=at))})),
    ]  # fmt: skip


def expecting(*children: Member) -> Family:
    """Mum and dad, both named by a booking (mum first), with the children given."""
    return family(*parents_and_children(*children).members, present=("dad",))


def common_cases() -> list[Case]:
    kids = every_kind_of_child()
    crises = days_before(RECEIVED, 0, 30, 60)
    concerns = (*past_notices("e1", 20, Severity.LOW), *past_notices("e2", 40, Severity.MEDIUM))
    step_down = plan_view("pupil", lead_org="csc-demo", ended_on=RECEIVED.date(),
                          step_down_until=RECEIVED.date() + timedelta(days=90))  # fmt: skip
    return [
        Case("a parent's third crisis", crisis(), parents_and_children(*kids),
             PersonHistory(crises=crises)),
        Case("the toxic trio", crisis(domestic_abuse=True, substance_misuse=True),
             parents_and_children(*kids)),
        Case("a third concern",
             event(withdrawal_payload(reason="declined", source_org="housing-demo")),
             with_context(parents_and_children(*kids), history=HouseholdHistory(
                 events=(past_event(20), past_event(40)), notices=concerns))),
        Case("a concern inside a step-down window", crisis(),
             with_context(parents_and_children(*kids), plans=(step_down,))),
        Case("a crisis about a child on a plan", crisis(),
             with_context(parents_and_children(*kids), plans=(OPEN_PLAN,))),
        Case("a crisis about a child on a plan with no lead", crisis(),
             with_context(parents_and_children(*kids), plans=(plan_view("pupil"),))),
        Case("nobody known", crisis(), family(subject=None)),
        Case("a high-risk crisis on a Saturday night", crisis(suicidal_ideation=True),
             parents_and_children(*kids), received_at=SATURDAY_NIGHT),
        Case("a baby nobody registered", crisis(),
             parents_and_children(child("newborn", years=0, months=1))),
        Case("a high-risk crisis, no front door in the directory at all",
             crisis(suicidal_ideation=True),
             replace(parents_and_children(*kids), front_doors={})),
        Case("a high-risk crisis of a family now in a peer broker's area, known here before",
             crisis(suicidal_ideation=True), moved_to_a_peer_area(parents_and_children(*kids))),
        Case("a threat to kill a child, police and health partners known",
             crisis(threats_to_kill_a_child=True),
             replace(parents_and_children(*kids), police={AREA: "police-demo"},
                     icbs={AREA: "icb-demo"})),
    ]  # fmt: skip


def moved_to_a_peer_area(fam: Family) -> Family:
    """The family living now in an area a peer broker serves, having lived in ours."""
    peer, bristol = "peer-bristol", "E06000023"
    return replace(
        fam, members=tuple(replace(m, area=bristol) for m in fam.members), area=bristol,
        front_doors={**fam.front_doors, bristol: peer},
        org_kinds={**fam.org_kinds, peer: OrgKind.PEER_BROKER},
        history=HouseholdHistory(previous_areas=(AREA,)),
    )  # fmt: skip


EVENT_CASES, COMMON_CASES = event_cases(), common_cases()
ALL_CASES = EVENT_CASES + COMMON_CASES


def declared_here(case: Case) -> tuple[Route, ...]:
    return ROUTES[case.event.event_type].routes + COMMON_ROUTES


def reaches(route: Route, decision: Decision) -> bool:
    return any(route.matches(decision, rule_id)
               for rule_id in (decision.rule_id, *decision.rule_id.split("+")))  # fmt: skip


class TestRouteTable:
    """Every event type has one rule, called with one signature."""

    def test_every_event_type_has_a_rule(self) -> None:
        """No event type is left without a rule in ROUTES."""
        assert set(ROUTES) == set(EventType)

    def test_a_rule_refuses_another_event_type(self) -> None:
        """A rule given an event of another type fails loudly rather than deciding nothing."""
        case = EVENT_CASES[0]
        with pytest.raises(TypeError):
            ROUTES[EventType.ED_ATTENDANCE](case.event, case.family, case.history,
                                            case.received_at.date(), _DEFAULT)  # fmt: skip


class TestDeclaredRoutesAgreeWithDecisions:
    """The routes each rule declares are the decisions it makes."""

    @pytest.mark.parametrize("case", EVENT_CASES, ids=lambda c: c.name)
    def test_every_decision_of_a_rule_is_declared(self, case: Case) -> None:
        """Each notice an event type's rule decides is declared by that rule (or is the
        front door standing in for a reader nobody could reach), at a declared severity."""
        routes = ROUTES[case.event.event_type].routes + fallback.ROUTES
        for decision in case.own_rule():
            matching = [r for r in routes if reaches(r, decision)]
            assert matching, f"undeclared: {decision}"
            assert decision.severity in {s for r in matching for s in r.severities}, decision

    def test_every_declared_route_of_a_rule_is_decided(self) -> None:
        """No rule declares a reader its code never tells."""
        decided = [d for case in EVENT_CASES for d in case.own_rule()]
        for event_type, rule in ROUTES.items():
            for route in rule.routes:
                assert any(reaches(route, d) for d in decided), f"{event_type}: {route}"

    @pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.name)
    def test_every_reader_decide_tells_is_declared(self, case: Case) -> None:
        """After the common steps (patterns, plans, out of hours, deputies, fallbacks) too,
        every reader told is one the table names for the event type or for any event."""
        for decision in case.decided():
            assert is_declared(decision, declared_here(case)), f"undeclared: {decision}"

    def test_every_common_route_is_decided(self) -> None:
        """Each step ``decide`` adds to any event type is reached by some family."""
        decided = [d for case in ALL_CASES for d in case.decided()]
        for route in COMMON_ROUTES:
            assert any(reaches(route, d) for d in decided), route


class TestWhoIsToldTable:
    """The README's table is rendered from the declarations, between its markers."""

    README = "intro\n<!-- who-is-told:start -->\nold table\n<!-- who-is-told:end -->\nprose\n"

    def test_the_table_replaces_what_lies_between_the_markers(self) -> None:
        """Only the text between the markers changes; the prose around them stays."""
        rendered = who_is_told.with_table(self.README)
        assert rendered.startswith("intro\n<!-- who-is-told:start -->\n")
        assert rendered.endswith("<!-- who-is-told:end -->\nprose\n")
        assert "old table" not in rendered

    def test_rendering_twice_changes_nothing(self) -> None:
        """A current README is left as it is, so that the check passes on it."""
        once = who_is_told.with_table(self.README)
        assert who_is_told.with_table(once) == once

    def test_a_readme_without_markers_is_refused(self) -> None:
        """Without its markers the table has nowhere to go: an error, not a silent skip."""
        with pytest.raises(ValueError, match="who-is-told"):
            who_is_told.with_table("no markers here\n")

    def test_every_route_is_a_row(self) -> None:
        """Each declared route appears in the table under its rule id."""
        table = who_is_told.table()
        routes = [r for rule in ROUTES.values() for r in rule.routes] + list(COMMON_ROUTES)
        rows = [line for line in table.splitlines() if line.startswith("| ") and "`" in line]
        assert len(rows) == len(routes)
        for route in routes:
            assert f"`{route.rule_id}`" in table


class TestDeadlineWords:
    """The table's deadline column is the deadline policy in words."""

    @given(st.sampled_from(sorted(POLICIES)),
           st.sets(st.sampled_from(list(Severity)), min_size=1))  # fmt: skip
    def test_every_notice_type_has_words(
        self, notice_type: NoticeType, severities: set[Severity]
    ) -> None:
        """Every notice type with a deadline policy can be described, at any severities."""
        assert describe_deadline(notice_type, tuple(severities))

    def test_a_front_door_deadline_depends_on_severity(self) -> None:
        """A high referral reads 4 working hours; a medium one 24."""
        words = describe_deadline(NoticeType.FRONT_DOOR_REFERRAL, (Severity.MEDIUM, Severity.HIGH))
        assert words == "high: 4 working hours; medium: 24 working hours"


def test_cases_are_distinct() -> None:
    """Each representative family is named once, so that a failure names its case."""
    names = [c.name for c in ALL_CASES]
    assert len(names) == len(set(names))
