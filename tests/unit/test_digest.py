"""The history digest each notice carries, within what its recipient may see."""

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.rules.digest import DIGEST_VIEW, digest_for
from broker.rules.family import Family, HouseholdHistory, PastEvent, PastNotice
from schemas.notices import HistoryDigest, NoticeType, PersonView, PlanSummary, Severity
from unit.builders import (
    ON,
    OTHER_AREA,
    RECEIVED,
    child,
    family,
    parent,
    past_event,
    past_notices,
    plan_view,
    with_context,
)

LINES = {"mh-demo": "Crisis team, 0100 000 0001", "housing-demo": "Housing, 0100 000 0002"}
CLINICAL = (
    NoticeType.HEALTH_VISITING,
    NoticeType.GP_INFORMATION,
    NoticeType.AGENCY_INFORMATION,
    NoticeType.PLAN_OWNER,
)
FULL = (NoticeType.FRONT_DOOR_REFERRAL, NoticeType.TRANSFER)


def known() -> Family:
    """A family the broker knows well: events, notices, plans, a previous area, agencies."""
    history = HouseholdHistory(
        events=(
            past_event(300, event_type="parent_mental_health_crisis"),
            past_event(100, event_type="ed_attendance"),
            past_event(20, event_type="ed_attendance"),
        ),
        notices=(
            past_notices("e1", 300, Severity.MEDIUM, Severity.MEDIUM)
            + past_notices("e2", 100, Severity.LOW)
            + past_notices("e3", 20, Severity.HIGH)
        ),
        previous_areas=(OTHER_AREA,),
    )
    plans = (
        plan_view("kid", kind="child_in_need", started_on=ON - timedelta(days=40)),
        plan_view(
            "kid",
            kind="child_protection",
            started_on=ON - timedelta(days=400),
            ended_on=ON - timedelta(days=41),
            plan_id="p0",
        ),
    )
    members = family(
        parent("mum", involved=("mh-demo", "housing-demo")),
        child("kid", involved=("early-help-demo", "mh-demo")),
    )
    return with_context(members, history=history, plans=plans, org_lines=LINES)


def digest(
    kind: NoticeType, fam: Family | None = None, about: tuple[str, ...] = ("kid",)
) -> HistoryDigest:
    """The digest of a notice about ``about`` (by default the known family's child)."""
    return digest_for(kind, fam or known(), RECEIVED, about=about)


class TestView:
    def test_every_notice_type_has_a_view(self) -> None:
        """Every notice type has a digest view, so no notice is built without one."""
        assert set(DIGEST_VIEW) == set(NoticeType)

    def test_school_sees_only_incident_count_and_plans(self) -> None:
        """A school learns how many earlier incidents and its pupil's plans, nothing of
        events or areas."""
        seen = digest(NoticeType.SCHOOL_SUPPORT)
        assert seen.model_fields_set == {"earlier_incidents_12_months", "plans"}
        assert seen.earlier_incidents_12_months == 3
        assert len(seen.plans) == 2
        assert (seen.events_12_months, seen.previous_areas, seen.agencies) == ({}, (), ())

    @pytest.mark.parametrize("kind", CLINICAL)
    def test_clinical_recipients_also_see_events_by_type(self, kind: NoticeType) -> None:
        """GPs, health teams, agencies and plan owners also see events by type, no areas."""
        seen = digest(kind)
        assert seen.events_12_months == {"parent_mental_health_crisis": 1, "ed_attendance": 2}
        assert (seen.previous_areas, seen.agencies) == ((), ())

    @pytest.mark.parametrize("kind", FULL)
    def test_front_door_and_transfer_see_areas_and_agencies(self, kind: NoticeType) -> None:
        """The front door and a receiving authority see previous areas and agency lines."""
        seen = digest(kind)
        assert seen.previous_areas == (OTHER_AREA,)
        assert seen.agencies == (LINES["mh-demo"], LINES["housing-demo"], "early-help-demo")
        assert seen.earlier_incidents_12_months == 3
        assert seen.events_12_months == {"parent_mental_health_crisis": 1, "ed_attendance": 2}

    def test_agency_without_a_line_is_named_by_its_id(self) -> None:
        """An involved agency with no contact line is listed by its organisation id."""
        fam = with_context(known(), org_lines={})
        assert digest(NoticeType.FRONT_DOOR_REFERRAL, fam).agencies == (
            "mh-demo",
            "housing-demo",
            "early-help-demo",
        )


class TestTwelveMonths:
    @pytest.mark.parametrize(("days", "counted"), [(364, 1), (365, 1), (366, 0), (800, 0)])
    def test_older_than_a_year_is_not_counted(self, days: int, counted: int) -> None:
        """Events and notices more than 365 days before receipt are left out of the counts."""
        history = HouseholdHistory(
            events=(past_event(days, event_type="ed_attendance"),),
            notices=past_notices("old", days, Severity.LOW),
        )
        fam = with_context(family(parent("mum")), history=history)
        seen = digest(NoticeType.FRONT_DOOR_REFERRAL, fam)
        assert seen.earlier_incidents_12_months == counted
        assert sum(seen.events_12_months.values()) == counted

    def test_previous_areas_are_not_limited_to_a_year(self) -> None:
        """Previous areas are history, shown however long ago the move was."""
        history = HouseholdHistory(events=(past_event(900),), previous_areas=(OTHER_AREA,))
        fam = with_context(family(parent("mum")), history=history)
        assert digest(NoticeType.TRANSFER, fam).previous_areas == (OTHER_AREA,)

    def test_empty_history_is_an_empty_digest(self) -> None:
        """A family the broker has never seen has a digest of zeros and empties."""
        seen = digest(NoticeType.FRONT_DOOR_REFERRAL, family(parent("mum")))
        assert seen == HistoryDigest()


class TestPlans:
    def test_plans_sorted_by_start_with_open_on_the_received_date(self) -> None:
        """Plans come oldest first, each marked open or closed as of the received date."""
        assert digest(NoticeType.SCHOOL_SUPPORT).plans == (
            PlanSummary(
                kind="child_protection",
                started_on=ON - timedelta(days=400),
                ended_on=ON - timedelta(days=41),
                open=False,
            ),
            PlanSummary(kind="child_in_need", started_on=ON - timedelta(days=40), open=True),
        )

    @pytest.mark.parametrize(
        ("ended_days", "is_open"),
        [(0, True), (1, False), (-5, True)],
        ids=["ends_today", "ended_yesterday", "ends_later"],
    )
    def test_open_follows_the_end_date(self, ended_days: int, is_open: bool) -> None:
        """A plan ending on the received date or later is open; one ended before is closed."""
        plan = plan_view("kid", ended_on=ON - timedelta(days=ended_days))
        fam = with_context(family(parent("mum")), plans=(plan,))
        [summary] = digest(NoticeType.SCHOOL_SUPPORT, fam).plans
        assert summary.open is is_open

    def test_plan_starting_after_the_received_date_is_not_open(self) -> None:
        """A plan that has not started yet on the received date is not open."""
        plan = plan_view("kid", started_on=ON + timedelta(days=1))
        fam = with_context(family(parent("mum")), plans=(plan,))
        [summary] = digest(NoticeType.SCHOOL_SUPPORT, fam).plans
        assert summary.open is False


def notices_for(event_id: str, days: int, copies: int) -> tuple[PastNotice, ...]:
    """``copies`` notices sent for one earlier event, ``days`` before receipt."""
    return past_notices(event_id, days, *([Severity.MEDIUM] * copies))


def event(event_id: str, days: int) -> PastEvent:
    return PastEvent(RECEIVED - timedelta(days=days), "parent_mental_health_crisis",
                     event_id=event_id)  # fmt: skip


class TestIncidents:
    def test_two_events_of_eight_notices_each_are_two_incidents(self) -> None:
        """Two earlier events told to eight recipients each are two incidents, not 16."""
        history = HouseholdHistory(
            events=(event("e1", 30), event("e2", 10)),
            notices=notices_for("e1", 30, 8) + notices_for("e2", 10, 8),
        )
        fam = with_context(family(parent("mum")), history=history)
        seen = digest(NoticeType.FRONT_DOOR_REFERRAL, fam)
        assert seen.earlier_incidents_12_months == 2
        assert seen.earlier_notices_12_months is None  # no longer produced

    def test_the_event_being_told_is_not_an_earlier_incident(self) -> None:
        """An event already in the chronology (a confirmed move, sealed after it was
        recorded) is not counted as earlier than itself."""
        history = HouseholdHistory(events=(event("e1", 30), event("now", 0)))
        fam = with_context(family(parent("mum")), history=history)
        seen = digest_for(NoticeType.GP_INFORMATION, fam, RECEIVED, event_id="now")
        assert seen.earlier_incidents_12_months == 1
        assert seen.events_12_months == {"parent_mental_health_crisis": 1}

    @given(copies=st.lists(st.integers(min_value=0, max_value=12), max_size=8))
    def test_incidents_never_depend_on_notice_copies(self, copies: list[int]) -> None:
        """However many notices each earlier event produced, each event counts once."""
        events = tuple(event(f"e{i}", 5 + i) for i in range(len(copies)))
        notices = tuple(n for i, c in enumerate(copies) for n in notices_for(f"e{i}", 5 + i, c))
        fam = with_context(family(parent("mum")), history=HouseholdHistory(events, notices))
        seen = digest(NoticeType.FRONT_DOOR_REFERRAL, fam)
        assert seen.earlier_incidents_12_months == len(copies)

    def test_an_old_stored_digest_still_reads(self) -> None:
        """A notice sealed before incidents were counted still opens: its count of notices
        reads as it was written."""
        old = HistoryDigest.model_validate({"earlier_notices_12_months": 16, "plans": []})
        assert old.earlier_notices_12_months == 16


PEOPLE = {
    "kid": PersonView(given_name="Ava", family_name="Carter", nhs_number="9990000158",
                      role="child"),
    "sib": PersonView(given_name="Ben", family_name="Carter", nhs_number="9990000166",
                      role="child"),
}  # fmt: skip


def two_children_with_plans() -> Family:
    plans = (
        plan_view("kid", kind="child_in_need", lead_org="early-help-demo"),
        plan_view("sib", kind="child_protection", plan_id="p-sib",
                  started_on=ON - timedelta(days=500), ended_on=ON - timedelta(days=200)),
    )  # fmt: skip
    members = family(parent("mum"), child("kid"), child("sib"))
    return with_context(members, plans=plans, org_lines={"early-help-demo": "Early Help (1)"})


class TestPlanAttribution:
    def test_each_plan_names_its_child_and_lead(self) -> None:
        """A front door reads whose each plan is and who leads it, ended ones included with
        their end dates."""
        seen = digest_for(NoticeType.FRONT_DOOR_REFERRAL, two_children_with_plans(), RECEIVED,
                          about=("mum",), people=PEOPLE)  # fmt: skip
        assert [(p.kind, p.child.given_name if p.child else None, p.ended_on, p.open)
                for p in seen.plans] == [
            ("child_protection", "Ben", ON - timedelta(days=200), False),
            ("child_in_need", "Ava", None, True),
        ]  # fmt: skip
        assert seen.plans[1].lead_professional == "Early Help (1)"

    def test_school_sees_only_its_pupils_plans(self) -> None:
        """A school told about one child is not told of a brother's or sister's plan."""
        seen = digest_for(NoticeType.SCHOOL_SUPPORT, two_children_with_plans(), RECEIVED,
                          about=("kid",), people=PEOPLE)  # fmt: skip
        assert [p.child.given_name for p in seen.plans if p.child] == ["Ava"]

    def test_school_sees_no_nhs_number_of_the_child(self) -> None:
        """The plan's child is shown with the reader's own person fields: no NHS number to a
        school."""
        seen = digest_for(NoticeType.SCHOOL_SUPPORT, two_children_with_plans(), RECEIVED,
                          about=("kid",), people=PEOPLE)  # fmt: skip
        [plan] = seen.plans
        assert plan.child is not None
        assert plan.child.nhs_number is None

    @given(about=st.sets(st.sampled_from(["mum", "kid", "sib"])))
    def test_a_school_never_sees_a_plan_of_a_child_it_was_not_told_about(
        self, about: set[str]
    ) -> None:
        """Whoever the notice is about, a school's digest lists only their plans."""
        seen = digest_for(NoticeType.SCHOOL_SUPPORT, two_children_with_plans(), RECEIVED,
                          about=tuple(sorted(about)), people=PEOPLE)  # fmt: skip
        names = {p.child.given_name for p in seen.plans if p.child}
        assert names <= {PEOPLE[p].given_name for p in about if p in PEOPLE}
