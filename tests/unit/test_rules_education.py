"""Education events: attendance, a child missing education, elective home education. The
education safeguarding officer of the child's area, the child's GP and health visiting or
school nursing team; the front door when the child is on an open plan or the family has a
safeguarding history; an early-years place not taken up counts like was-not-brought."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from broker.rules.accuracy import reading
from broker.rules.deadlines import LONDON, deadline_for
from broker.rules.education import (
    OPEN_PLAN,
    SAFEGUARDING_HISTORY,
    route_education,
    why_front_door,
)
from broker.rules.fallback import FALLBACK_REASON
from broker.rules.family import Addressee, ContactRole, Decision, Family, HouseholdHistory, Member
from broker.rules.history import PersonHistory
from broker.rules.minimisation import compose_body
from broker.rules.not_brought import booking_of
from broker.rules.routing import decide
from broker.rules.thresholds import Thresholds
from schemas.events import (
    AttendanceConcern,
    ChildMissingEducation,
    EducationEvent,
    ElectiveHomeEducation,
)
from schemas.notices import NoticeBody, NoticeType, PersonView, Relation, Severity
from unit.builders import (
    FRONT_DOOR,
    ON,
    OTHER_AREA,
    OTHER_FRONT_DOOR,
    RECEIVED,
    attendance_payload,
    child,
    event,
    family,
    home_education_payload,
    in_area,
    missing_education_payload,
    parent,
    past_notices,
    plan_view,
    sibling_of,
    with_context,
)

PUPIL = child("kid", years=9, school="school-oakfield", gp="gp-northgate",
              health_visiting="sn-demo")  # fmt: skip
TODDLER = child("kid", years=3, gp="gp-northgate", health_visiting="hv-demo")
MUM = parent("mum", gp="gp-riverside")
OFFICER = Addressee(FRONT_DOOR, ContactRole.EDUCATION_SAFEGUARDING_OFFICER)
PAYLOADS = {
    "attendance": attendance_payload,
    "missing_education": missing_education_payload,
    "home_education": home_education_payload,
}
LAST_YEAR = ON - timedelta(days=400)
EARLY_YEARS = {"setting": "early_years", "concern": "place_not_taken_up", "attendance_percent": 0}


def education(kind: str, **overrides: Any) -> EducationEvent:
    parsed = event(PAYLOADS[kind](**overrides))
    assert isinstance(parsed, AttendanceConcern | ChildMissingEducation | ElectiveHomeEducation)
    return parsed


def household(kid: Member = PUPIL, *others: Member) -> Family:
    return family(MUM, kid, *others, subject=kid.person_id)


def route(
    parsed: EducationEvent, fam: Family, history: PersonHistory | None = None
) -> list[Decision]:
    return route_education(parsed, fam, history or PersonHistory(), ON, Thresholds())


def readers(decisions: list[Decision]) -> set[tuple[Addressee, NoticeType]]:
    return {(d.addressee, d.notice_type) for d in decisions}


KINDS = list(PAYLOADS)


class TestWhoIsTold:
    @pytest.mark.parametrize("kind", KINDS)
    def test_officer_gp_and_school_nursing(self, kind: str) -> None:
        """Every education event reaches the education safeguarding officer, the child's GP
        and the child's school nursing team, and nobody else without a plan or history."""
        assert readers(route(education(kind), household())) == {
            (OFFICER, NoticeType.EDUCATION_SAFEGUARDING),
            (Addressee("gp-northgate", ContactRole.SAFEGUARDING_LEAD), NoticeType.GP_INFORMATION),
            (Addressee("sn-demo", ContactRole.SAFEGUARDING_LEAD), NoticeType.HEALTH_VISITING),
        }

    @pytest.mark.parametrize("kind", KINDS)
    def test_every_notice_is_about_the_child_alone(self, kind: str) -> None:
        """No parent is named: the event is the child's, and the parent's GP is not told."""
        decisions = route(education(kind), household())
        assert {d.about for d in decisions} == {("kid",)}
        assert "gp-riverside" not in {d.addressee.org_id for d in decisions}

    def test_officer_of_the_childs_own_area(self) -> None:
        """A child living in another area is the officer of that area's business."""
        fam = household(in_area(PUPIL, OTHER_AREA))
        officers = [d for d in route(education("missing_education"), fam)
                    if d.notice_type is NoticeType.EDUCATION_SAFEGUARDING]  # fmt: skip
        assert [d.addressee.org_id for d in officers] == [OTHER_FRONT_DOOR]

    def test_area_without_front_door_falls_back_to_the_familys(self) -> None:
        """Nothing silent: a child's area the broker has no front door for sends the
        officer's notice to the family's front door, with the reason."""
        fam = household(in_area(PUPIL, "E06000999"))
        [fallback] = [d for d in route(education("home_education"), fam)
                      if d.rule_id.endswith(".fallback")]  # fmt: skip
        assert fallback.addressee == Addressee(FRONT_DOOR, ContactRole.DUTY_MANAGER)
        assert fallback.facts[FALLBACK_REASON] == "no_front_door_for_area"

    def test_an_adult_named_tells_nobody(self) -> None:
        """An education event is about a child: one naming an adult decides nothing."""
        assert route(education("attendance"), family(MUM, PUPIL, subject="mum")) == []

    def test_no_health_team_registered_no_health_notice(self) -> None:
        """A child no health team knows: the officer and the GP only."""
        kid = child("kid", years=9, school="school-oakfield", gp="gp-northgate")
        kinds = {d.notice_type for d in route(education("attendance"), household(kid))}
        assert kinds == {NoticeType.EDUCATION_SAFEGUARDING, NoticeType.GP_INFORMATION}


class TestSeverity:
    @pytest.mark.parametrize(
        ("kind", "overrides", "severity"),
        [
            ("attendance", {}, Severity.MEDIUM),
            ("attendance", {"concern": "sharp_fall", "previous_percent": 97,
                            "attendance_percent": 70}, Severity.MEDIUM),
            ("attendance", {**EARLY_YEARS, "has_ehcp": True}, Severity.MEDIUM),
            ("missing_education", {}, Severity.MEDIUM),
            ("missing_education", {"whereabouts_known": False}, Severity.HIGH),
            ("home_education", {}, Severity.MEDIUM),
            ("home_education", {"has_ehcp": True}, Severity.HIGH),
        ],
    )  # fmt: skip
    def test_severity(self, kind: str, overrides: dict[str, Any], severity: Severity) -> None:
        """High for home education with an education, health and care plan, and for a child
        missing education whose whereabouts are unknown; otherwise medium."""
        decisions = route(education(kind, **overrides), household())
        assert {d.severity for d in decisions} == {severity}

    def test_ehcp_is_said(self) -> None:
        """The event's word that the child has an EHCP reaches every reader as a fact (the
        directory may hold it too: test_rules_needs)."""
        decisions = route(education("home_education", has_ehcp=True), household())
        assert all(d.facts["ehcp"] is True for d in decisions)
        assert {d.facts["education_concern"] for d in decisions} == {"elective_home_education"}


class TestFrontDoor:
    @pytest.mark.parametrize(
        ("fam", "reason"),
        [
            (with_context(household(), plans=(plan_view("kid"),)), OPEN_PLAN),
            (with_context(household(), plans=(plan_view("kid", ended_on=LAST_YEAR),)),
             SAFEGUARDING_HISTORY),
            (with_context(household(PUPIL, child("sister", years=12)),
                          plans=(plan_view("sister", kind="child_protection",
                                           ended_on=ON - timedelta(days=700)),)),
             SAFEGUARDING_HISTORY),
            (with_context(household(), history=HouseholdHistory(notices=past_notices(
                "e1", 200, Severity.MEDIUM, notice_type=NoticeType.FRONT_DOOR_REFERRAL))),
             SAFEGUARDING_HISTORY),
            (with_context(household(), history=HouseholdHistory(notices=past_notices(
                "e1", 200, Severity.MEDIUM))), None),
            (household(), None),
        ],
        ids=["open plan", "own closed plan", "sibling's old CP plan", "earlier referral",
             "earlier GP notice only", "nothing known"],
    )  # fmt: skip
    def test_why_the_front_door_hears(self, fam: Family, reason: str | None) -> None:
        """The child's open plan, or any plan of the family's children or an earlier referral
        (a safeguarding history); a GP notice alone is no history."""
        assert why_front_door(PUPIL, fam, ON) == reason
        doors = [d for d in route(education("attendance"), fam)
                 if d.notice_type is NoticeType.FRONT_DOOR_REFERRAL]  # fmt: skip
        assert [d.facts.get(reason or "") for d in doors] == ([True] if reason else [])

    def test_open_plan_lead_hears_too(self) -> None:
        """The common step tells the lead professional of the child's open plan."""
        fam = with_context(household(), plans=(plan_view("kid", lead_org="eh-demo"),))
        decisions = decide(education("home_education"), fam, PersonHistory(), RECEIVED)
        leads = [d for d in decisions if d.notice_type is NoticeType.PLAN_OWNER]
        assert [d.addressee.org_id for d in leads] == ["eh-demo"]


def weekly(*outcomes: str, end: datetime) -> tuple[tuple[datetime, Any], ...]:
    return tuple((end - timedelta(days=7 * i), o) for i, o in enumerate(reversed(outcomes)))


class TestEarlyYearsCountsAsNotBrought:
    def test_an_early_years_concern_is_a_booking_not_brought(self) -> None:
        """An early-years attendance concern enters the child's was-not-brought record as a
        missed booking, at the time the setting reports it; a school's does not."""
        parsed = education("attendance", **EARLY_YEARS)
        assert booking_of(parsed) == (parsed.occurred_at, "was_not_brought")
        assert booking_of(education("attendance")) is None

    def test_it_tips_the_childs_rate(self) -> None:
        """Two of three appointments attended, then a nursery place not taken up: 2 of 4 is
        under the threshold, so the GP and health visiting hear the rate as well."""
        parsed = education("attendance", **EARLY_YEARS)
        history = PersonHistory(appointments=(*weekly("attended", "attended", "was_not_brought",
                                                      end=parsed.occurred_at - timedelta(days=7)),
                                              (parsed.occurred_at, "was_not_brought")))  # fmt: skip
        decisions = route(parsed, household(TODDLER), history)
        rates = [d for d in decisions if d.rule_id.startswith("was_not_brought")]
        assert {d.notice_type for d in rates} == {NoticeType.GP_INFORMATION,
                                                  NoticeType.HEALTH_VISITING}  # fmt: skip
        assert {d.facts["attendance_rate_percent"] for d in rates} == {50}

    def test_one_notice_per_reader_after_decide(self) -> None:
        """The GP hears once, of the concern and of the rate together."""
        parsed = education("attendance", **EARLY_YEARS)
        history = PersonHistory(appointments=weekly("attended", "was_not_brought",
                                                    "was_not_brought", "was_not_brought",
                                                    end=parsed.occurred_at))  # fmt: skip
        decisions = decide(parsed, household(TODDLER), history, RECEIVED)
        [gp] = [d for d in decisions if d.notice_type is NoticeType.GP_INFORMATION]
        assert set(gp.rule_id.split("+")) == {"attendance.gp", "was_not_brought.gp"}

    def test_counts_across_brothers_and_sisters(self) -> None:
        """A twin's nursery place not taken up joins the children's rate: each child not
        brought in the window is told of."""
        parsed = education("attendance", **EARLY_YEARS)
        twin = child("twin", years=3, gp="gp-northgate", health_visiting="hv-demo")
        end = parsed.occurred_at
        history = PersonHistory(
            appointments=(*weekly("attended", end=end - timedelta(days=7)),
                          (end, "was_not_brought")),
            siblings={"twin": PersonHistory(appointments=weekly("attended", "was_not_brought",
                                                                end=end))},
        )  # fmt: skip
        fam = family(MUM, TODDLER, twin, subject="kid", ties=(sibling_of("kid", "twin"),))
        siblings = [d for d in route(parsed, fam, history) if d.rule_id.startswith(
            "was_not_brought.siblings")]  # fmt: skip
        assert {d.about for d in siblings} == {("kid",), ("twin",)}


class TestDeadline:
    def test_officer_by_the_close_of_the_next_working_day(self) -> None:
        """A Friday evening report is the officer's to act on by Monday's close; a report
        before a bank holiday Monday, by Tuesday's."""
        friday = datetime(2027, 1, 15, 19, 30, tzinfo=LONDON)
        assert deadline_for(NoticeType.EDUCATION_SAFEGUARDING, Severity.HIGH, friday) == (
            datetime(2027, 1, 18, 17, 0, tzinfo=LONDON)
        )
        before_may_day = datetime(2027, 4, 30, 11, 0, tzinfo=LONDON)
        due = deadline_for(NoticeType.EDUCATION_SAFEGUARDING, Severity.MEDIUM, before_may_day)
        assert due == datetime(2027, 5, 4, 17, 0, tzinfo=LONDON)


class TestContract:
    @pytest.mark.parametrize(
        "overrides",
        [
            {"concern": "sharp_fall"},  # no previous_percent
            {"concern": "place_not_taken_up"},  # a school place: that is missing education
            {"period_from": "2027-05-08"},  # after period_to
            {"attendance_percent": 101},
        ],
    )
    def test_inconsistent_attendance_is_refused(self, overrides: dict[str, Any]) -> None:
        """A contract a reader could misread is refused at the gateway."""
        with pytest.raises(ValidationError):
            event(attendance_payload(**overrides))


PEOPLE = {
    "kid": PersonView(given_name="Leo", family_name="Carter", nhs_number="9990000158",
                      role="child"),
    "mum": PersonView(given_name="Jess", family_name="Carter", role="parent_or_carer"),
}  # fmt: skip


def bodies(parsed: EducationEvent, fam: Family) -> dict[NoticeType, NoticeBody]:
    return {
        d.notice_type: compose_body(d, parsed, PEOPLE, "School", "Front door",
                                    reading=reading(d, parsed, fam))
        for d in route(parsed, fam)
    }  # fmt: skip


class TestWhatEachReaderSees:
    def test_officer_sees_what_it_acts_on(self) -> None:
        """The officer reads why and since when the child is missing and the last school,
        the child by name and age, and no NHS number."""
        officer = bodies(education("missing_education", whereabouts_known=False),
                         household())[NoticeType.EDUCATION_SAFEGUARDING]  # fmt: skip
        assert officer.detail == {"missing_since": "2027-04-12", "missing_reason": "not_returned",
                                  "whereabouts_known": False, "last_school": "school-oakfield",
                                  "has_ehcp": False}  # fmt: skip
        assert [(p.given_name, p.nhs_number) for p in officer.about] == [("Leo", None)]

    def test_gp_reads_its_own_patients_education_but_not_the_roll(self) -> None:
        """The child's GP reads the concern about its own patient (since when, whereabouts,
        the EHCP), not which school's roll the child left or on what ground."""
        gp = bodies(education("missing_education"), household())[NoticeType.GP_INFORMATION]
        assert (gp.relation, gp.third_party) == (Relation.SELF, False)
        assert set(gp.detail) == {"missing_since", "whereabouts_known", "has_ehcp"}

    def test_school_nursing_reads_attendance(self) -> None:
        """School nursing reads the attendance figures and period."""
        nurse = bodies(education("attendance"), household())[NoticeType.HEALTH_VISITING]
        assert nurse.detail["attendance_percent"] == 82
        assert nurse.detail["concern"] == "persistent_absence"

    def test_front_door_sees_everything(self) -> None:
        """With a history, the front door reads the whole event, previous school included."""
        fam = with_context(household(), plans=(plan_view("kid"),))
        door = bodies(education("home_education", has_ehcp=True), fam)[
            NoticeType.FRONT_DOOR_REFERRAL
        ]
        assert door.detail["previous_school"] == "school-oakfield"
        assert door.facts[OPEN_PLAN] is True


KIDS = st.sampled_from([PUPIL, TODDLER, child("kid", years=10, gp="gp-northgate"),
                        in_area(PUPIL, OTHER_AREA)])  # fmt: skip
EVENTS = st.one_of(
    st.builds(lambda ehcp: education("home_education", has_ehcp=ehcp), st.booleans()),
    st.builds(lambda known, ehcp: education("missing_education", whereabouts_known=known,
                                            has_ehcp=ehcp), st.booleans(), st.booleans()),
    st.builds(lambda pct, early: education("attendance", attendance_percent=pct,
                                           **({"setting": "early_years"} if early else {})),
              st.integers(0, 100), st.booleans()),
)  # fmt: skip
PLANS = st.sampled_from(
    [(), (plan_view("kid"),), (plan_view("kid", ended_on=ON - timedelta(days=90)),)]
)


class TestProperty:
    @settings(max_examples=80, deadline=None)
    @given(EVENTS, KIDS, PLANS)
    def test_officer_always_school_never_front_door_only_with_a_history(
        self, parsed: EducationEvent, kid: Member, plans: tuple[Any, ...]
    ) -> None:
        """Whatever the event and the child: the officer of the child's area is told; no
        school key adult and no parent's GP is; the front door hears exactly when the child
        has a plan, open or closed; high only for home education with an EHCP or a child
        missing education nobody can find."""
        fam = with_context(household(kid), plans=plans)
        decisions = route(parsed, fam)
        officers = [d for d in decisions if d.notice_type is NoticeType.EDUCATION_SAFEGUARDING]
        area_door = OTHER_FRONT_DOOR if kid.area == OTHER_AREA else FRONT_DOOR
        assert [d.addressee for d in officers] == [
            Addressee(area_door, ContactRole.EDUCATION_SAFEGUARDING_OFFICER)
        ]
        assert not {d.notice_type for d in decisions} & {NoticeType.SCHOOL_SUPPORT}
        assert "gp-riverside" not in {d.addressee.org_id for d in decisions}
        doors = [d for d in decisions if d.notice_type is NoticeType.FRONT_DOOR_REFERRAL]
        assert bool(doors) == bool(plans)
        high = (isinstance(parsed, ElectiveHomeEducation) and parsed.has_ehcp) or (
            isinstance(parsed, ChildMissingEducation) and not parsed.whereabouts_known
        )
        assert {d.severity for d in officers} == {Severity.HIGH if high else Severity.MEDIUM}
