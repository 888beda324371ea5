"""A school's notice (Operation Encompass practice): what happened as the school may know it,
when, a reference, what to do and by when. Whom to call is in test_school_contact.py."""

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.demo.family import TERMS_2026_27
from broker.rules.deadlines import LONDON, SchoolCalendar, next_session_start
from broker.rules.family import Addressee, ContactRole, Decision, Family
from broker.rules.minimisation import compose_body
from broker.rules.school_contact import Caller
from broker.rules.school_notice import (
    ACTIONS,
    DO_NOT_RAISE,
    ON_DAY,
    QUIET_SUPPORT,
    REQUEST_FILE,
    SUMMARIES,
    TODAY,
    WHEN_SCHOOL_REOPENS,
    SchoolNotice,
    act_by,
    for_school,
    matter_of,
    reference_for,
    school_guidance,
)
from schemas.events import Event
from schemas.notices import NoticeType, PersonView, SchoolGuidance, SchoolMatter, Severity
from unit.builders import (
    FRONT_DOOR,
    child,
    crisis_payload,
    ed_payload,
    event,
    family,
    move_payload,
    parent,
    plan_view,
    with_context,
    withdrawal_payload,
)

# The demo school's 2026-27 year: May half term runs from Saturday 29 May to Sunday 6 June.
OAKFIELD = SchoolCalendar(terms=tuple((t.starts_on, t.ends_on) for t in TERMS_2026_27))
IN_THE_SCHOOL_YEAR = st.datetimes(
    min_value=datetime(2026, 8, 20), max_value=datetime(2027, 7, 20), timezones=st.just(UTC)
)


def london(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=LONDON)


def wording(received: datetime, calendar: SchoolCalendar = OAKFIELD) -> str:
    return act_by(next_session_start(received, calendar), received, calendar)


class TestActBy:
    @pytest.mark.parametrize(
        ("received", "expected", "why"),
        [
            (london(2027, 5, 11, 7, 0), TODAY, "a Tuesday morning before school"),
            (london(2027, 5, 11, 20, 0), ON_DAY, "a Tuesday evening: Wednesday, by its name"),
            (london(2027, 5, 7, 21, 30), ON_DAY, "a Friday night: before school on Monday"),
            (london(2027, 5, 8, 12, 0), ON_DAY, "a Saturday: Monday"),
            (london(2027, 6, 2, 7, 0), WHEN_SCHOOL_REOPENS, "a Wednesday in half term"),
            (london(2027, 5, 28, 19, 0), WHEN_SCHOOL_REOPENS, "the last evening of a term"),
            (london(2027, 6, 5, 9, 0), ON_DAY, "the last weekend of half term: Monday"),
        ],
    )
    def test_worded_from_deadline_and_terms(
        self, received: datetime, expected: str, why: str
    ) -> None:
        """The instruction's time follows the deadline and the school's term dates."""
        assert wording(received) == expected, why

    def test_bank_holiday_is_a_closure(self) -> None:
        """Friday night before the May bank holiday: school reopens on Tuesday."""
        received = london(2027, 4, 30, 21, 0)
        assert next_session_start(received, SchoolCalendar()).date() == date(2027, 5, 4)
        assert wording(received, SchoolCalendar()) == WHEN_SCHOOL_REOPENS

    @settings(max_examples=300, deadline=None)
    @given(
        received=IN_THE_SCHOOL_YEAR,
        with_terms=st.booleans(),
    )
    def test_today_only_on_the_day_it_is_due(self, received: datetime, with_terms: bool) -> None:
        """The "today" wording only when the notice is due on the day it arrives, which is
        then a school day: never on a weekend, a Friday night or in the holidays."""
        calendar = OAKFIELD if with_terms else SchoolCalendar()
        due = next_session_start(received, calendar)
        key = act_by(due, received, calendar)
        arrived = received.astimezone(LONDON).date()
        assert (key == TODAY) == (due.astimezone(LONDON).date() == arrived)
        if key == TODAY:
            assert calendar.is_school_day(arrived)
            assert arrived.weekday() < 5

    @settings(max_examples=300, deadline=None)
    @given(received=IN_THE_SCHOOL_YEAR)
    def test_reopens_exactly_when_a_weekday_is_closed(self, received: datetime) -> None:
        """The "when school reopens" wording exactly when a weekday without school lies
        between the day the notice arrives and the day it is due."""
        due = next_session_start(received, OAKFIELD).astimezone(LONDON).date()
        day, closed = received.astimezone(LONDON).date(), False
        while day < due:
            closed |= day.weekday() < 5 and not OAKFIELD.is_school_day(day)
            day += timedelta(days=1)
        assert (wording(received) == WHEN_SCHOOL_REOPENS) == closed


class TestReference:
    def test_short_and_from_the_notice_id(self) -> None:
        """The reference is the start of the notice id, grouped, upper case."""
        notice_id = uuid.UUID("3f2a91c0-7b1e-5d6a-9c3b-0123456789ab")
        assert reference_for(notice_id) == "3F2A91C0-7B1E"

    @settings(max_examples=200, deadline=None)
    @given(st.uuids())
    def test_front_door_finds_it_by_prefix(self, notice_id: uuid.UUID) -> None:
        """Whatever the id, the reference is the start of it as the broker writes it."""
        assert str(notice_id).upper().startswith(reference_for(notice_id))


def carters() -> Family:
    return family(
        parent("mum", "h1", gp="gp-riverside"),
        child("kid", "h1", years=8, school="school-oakfield"),
    )


def to_school(*about: str, rule_id: str = "crisis.child") -> Decision:
    school = Addressee("school-oakfield", ContactRole.KEY_ADULT)
    kind = NoticeType.SCHOOL_SUPPORT
    return Decision(school, kind, Severity.HIGH, rule_id, about or ("kid",))


class TestMatter:
    @pytest.mark.parametrize(
        ("parsed", "subject", "expected"),
        [
            (event(crisis_payload()), "mum", SchoolMatter.INCIDENT_AT_HOME),
            (event(withdrawal_payload()), "mum", SchoolMatter.SERVICE_STOPPED),
            (event(withdrawal_payload()), "kid", SchoolMatter.SERVICE_STOPPED),
            (event(move_payload()), "mum", SchoolMatter.JOINING_SCHOOL),
            (event(ed_payload(presenting_category="self_harm")), "kid",
             SchoolMatter.ABOUT_THIS_CHILD),
            (event(ed_payload(presenting_category="mental_health")), "mum",
             SchoolMatter.INCIDENT_AT_HOME),
        ],
    )  # fmt: skip
    def test_what_the_school_is_told_happened(
        self, parsed: Event, subject: str, expected: SchoolMatter
    ) -> None:
        """A discharge is a service stopping, a move a child joining, the child's own
        attendance about this child, anything about a parent an incident at home."""
        fam = family(*carters().members, subject=subject)
        assert matter_of(parsed, to_school(), fam) is expected


class TestActions:
    def test_an_incident_asks_for_quiet_support_and_discretion(self) -> None:
        """Operation Encompass: quiet support, not raised with the parent or child, recorded,
        and what to do if the child discloses."""
        assert ACTIONS[SchoolMatter.INCIDENT_AT_HOME] == (
            "school.action.offer_quiet_support",
            "school.action.do_not_raise_with_parent_or_child",
            "school.action.record_on_safeguarding_file",
            "school.action.if_child_discloses",
        )

    @pytest.mark.parametrize("matter", [SchoolMatter.SERVICE_STOPPED, SchoolMatter.JOINING_SCHOOL])
    def test_no_support_after_an_incident_where_none_happened(self, matter: SchoolMatter) -> None:
        """A service stopping or a child joining is no incident: no support after one."""
        assert QUIET_SUPPORT not in ACTIONS[matter]
        assert "incident" not in SUMMARIES[matter].replace("not news of an incident", "")

    def test_a_service_stopping_is_not_raised_with_the_family(self) -> None:
        """The parent's discharge is the parent's to tell."""
        assert DO_NOT_RAISE in ACTIONS[SchoolMatter.SERVICE_STOPPED]

    @pytest.mark.parametrize("matter", list(SchoolMatter))
    def test_no_summary_says_today(self, matter: SchoolMatter) -> None:
        """The summary never says "today": the act-by wording carries the day."""
        assert "today" not in SUMMARIES[matter].lower()


FRIDAY_NIGHT = london(2027, 5, 7, 21, 30)
PEOPLE = {"mum": PersonView(given_name="Jess", role="parent_or_carer"),
          "kid": PersonView(given_name="Leo", role="child", nhs_number="9990000158")}  # fmt: skip


def guidance_for(
    parsed: Event, fam: Family, decisions: tuple[Decision, ...] = ()
) -> tuple[SchoolGuidance, Caller | None]:
    due = next_session_start(FRIDAY_NIGHT, OAKFIELD)
    notice = SchoolNotice(uuid.UUID(int=7), due, FRIDAY_NIGHT, OAKFIELD, decisions)
    return school_guidance(to_school(), parsed, fam, PEOPLE, notice)


class TestSchoolGuidance:
    def test_an_incident_says_when_in_london_time(self) -> None:
        """A crisis reported in UTC is told in London time, with Monday's session to act by."""
        parsed = event(crisis_payload(occurred_at="2027-05-07T19:50:00Z"))
        guidance, _ = guidance_for(parsed, carters())
        assert guidance.happened_at is not None
        assert guidance.happened_at.isoformat() == "2027-05-07T20:50:00+01:00"
        assert guidance.act_by.isoformat() == "2027-05-10T08:45:00+01:00"
        assert guidance.act_by_wording == ON_DAY
        assert guidance.stopped_on is None

    def test_a_childs_attendance_is_dated_by_arrival(self) -> None:
        """The child's own ED attendance happened when the child arrived."""
        parsed = event(ed_payload(presenting_category="self_harm"))
        guidance, _ = guidance_for(parsed, family(*carters().members, subject="kid"))
        assert guidance.happened_at == datetime(2027, 5, 9, 17, 0, tzinfo=UTC)

    def test_a_service_stopping_says_the_day_not_a_time(self) -> None:
        """A discharge gives the day the service stopped, and no incident time."""
        guidance, _ = guidance_for(event(withdrawal_payload()), carters())
        assert guidance.matter is SchoolMatter.SERVICE_STOPPED
        assert guidance.stopped_on == date(2027, 5, 7)
        assert guidance.happened_at is None

    def test_joining_with_an_open_plan_asks_for_the_file(self) -> None:
        """A joining child on an open plan: contact its lead and ask for the file."""
        fam = with_context(carters(), plans=(plan_view("kid", kind="child_protection",
                                                       started_on=date(2027, 1, 4)),))  # fmt: skip
        guidance, _ = guidance_for(event(move_payload()), fam)
        assert REQUEST_FILE in guidance.actions
        assert [p.kind for p in guidance.open_plans] == ["child_protection"]

    def test_a_reference_to_quote(self) -> None:
        """Every school notice carries its reference."""
        guidance, _ = guidance_for(event(crisis_payload()), carters())
        assert guidance.reference == reference_for(uuid.UUID(int=7))


class TestForSchool:
    def test_whom_to_call_is_nobody_rather_than_someone_not_told(self) -> None:
        """With nobody who received the event to name, the body names nobody (not the
        front door that was not told)."""
        parsed = event(crisis_payload())
        fam = family(*carters().members, area=None)  # no front door, no lines
        body = compose_body(to_school(), parsed, PEOPLE, "source", "Front door (01632)")
        guidance, caller = guidance_for(parsed, fam)
        assert caller is None
        assert for_school(body, guidance, caller).who_to_call is None

    def test_summary_is_worded_for_what_happened(self) -> None:
        """A discharge's school body reads as a service stopping, not an incident."""
        parsed = event(withdrawal_payload())
        body = compose_body(to_school(), parsed, PEOPLE, "source", "front door")
        front_door = Decision(Addressee(FRONT_DOOR, ContactRole.DUTY_MANAGER),
                              NoticeType.FRONT_DOOR_REFERRAL, Severity.MEDIUM,
                              "withdrawal.front_door", ("mum", "kid"))  # fmt: skip
        fam = with_context(carters(), org_lines={FRONT_DOOR: "Front door (01632 960000)"})
        guidance, caller = guidance_for(parsed, fam, (front_door,))
        school = for_school(body, guidance, caller)
        assert school.summary == SUMMARIES[SchoolMatter.SERVICE_STOPPED]
        assert school.who_to_call == "Front door (01632 960000)"
        assert school.school == guidance
