"""What a reader owes after acknowledging (a referral's decision, a transfer's next steps), what
the referrer learns, and what a follow-up's new reader reads: rules as tables and properties."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from broker.rules.deadlines import LONDON, is_working_day
from broker.rules.london_time import london
from broker.rules.minimisation import DETAIL_FIELDS, EVERYTHING
from broker.rules.next_steps import (
    CONSIDER_MARAC,
    SEND_HISTORY_TO,
    TASK,
    Decider,
    outcome_body,
    overdue_body,
    steps_owed,
)
from broker.rules.reader_view import for_reader, reader_kind
from schemas.notices import NextStep, NoticeBody, NoticeType, PersonView, ReferralOutcome

MONDAY_10 = datetime(2027, 5, 10, 10, 0, tzinfo=LONDON)
ENGLAND, WALES = "E09000099", "W06000015"
REFERRAL = NoticeBody(
    summary="A safeguarding concern for children in your area.",
    event_type="parent_mental_health_crisis",
    occurred_at=MONDAY_10,
    source_org="mh-demo",
    about=(PersonView(given_name="Rosa", nhs_number="9990003009"),),
    facts={"suicidal_ideation": True},
    detail={"clinical_summary": "Disclosed suicidal thoughts."},
    who_to_call="Demo Community Mental Health Service",
)
DOOR = Decider("la-front-door", "Demo Front Door", "Demo Front Door (01632 960000)")
SCHOOL_COPY = NoticeBody(
    summary="Something has happened at home.",
    event_type="family_circumstances",
    occurred_at=MONDAY_10,
    facts={"child_present": True, "rejected_by": "school-oakfield"},
    who_to_call="Demo Borough Children's Front Door (MASH)",
)


class TestStepsOwed:
    def test_a_referral_owes_a_decision_within_one_working_day(self) -> None:
        """Monday 10:00 plus one working day (8 working hours) is Tuesday 10:00."""
        owed = steps_owed(NoticeType.FRONT_DOOR_REFERRAL, MONDAY_10, {})
        assert owed == {NextStep.DECISION: datetime(2027, 5, 11, 10, 0, tzinfo=LONDON)}

    def test_a_transfer_in_england_owes_a_conference_within_15_working_days(self) -> None:
        owed = steps_owed(NoticeType.TRANSFER, MONDAY_10,
                          {"from_authority": ENGLAND, "to_authority": "E09000001"})  # fmt: skip
        assert owed == {
            NextStep.TRANSFER_IN_CONFERENCE: datetime(2027, 6, 1, 17, 0, tzinfo=LONDON)
        }  # three weeks on, the late May bank holiday (31 May) not counted

    def test_a_transfer_touching_wales_also_owes_written_information_in_3_working_days(
        self,
    ) -> None:
        owed = steps_owed(NoticeType.TRANSFER, MONDAY_10,
                          {"from_authority": WALES, "to_authority": ENGLAND})  # fmt: skip
        assert owed[NextStep.WRITTEN_INFORMATION] == datetime(2027, 5, 13, 17, 0, tzinfo=LONDON)

    def test_a_high_risk_domestic_abuse_referral_also_owes_a_marac_consideration(self) -> None:
        """The MARAC consideration is due with the decision: Tuesday 10:00."""
        owed = steps_owed(NoticeType.FRONT_DOOR_REFERRAL, MONDAY_10, {CONSIDER_MARAC: True})
        tuesday_10 = datetime(2027, 5, 11, 10, 0, tzinfo=LONDON)
        assert owed == {NextStep.DECISION: tuesday_10,
                        NextStep.MARAC_REFERRAL_CONSIDERED: tuesday_10}  # fmt: skip

    @given(facts=st.dictionaries(st.sampled_from([CONSIDER_MARAC, "risk_level", "domestic_abuse"]),
                                 st.one_of(st.booleans(), st.sampled_from(["high", "true"]))),
           kind=st.sampled_from(list(NoticeType)))  # fmt: skip
    def test_a_marac_consideration_is_owed_only_on_a_referral_that_asks_for_one(
        self, facts: dict[str, str | bool], kind: NoticeType
    ) -> None:
        """Only a front-door referral whose rule set the fact (to true, not a lookalike) owes
        it; no other notice does, whatever its facts."""
        owed = steps_owed(kind, MONDAY_10, facts)
        expected = kind is NoticeType.FRONT_DOOR_REFERRAL and facts.get(CONSIDER_MARAC) is True
        assert (NextStep.MARAC_REFERRAL_CONSIDERED in owed) == expected

    def test_other_notices_owe_no_step(self) -> None:
        for kind in (NoticeType.SCHOOL_SUPPORT, NoticeType.GP_INFORMATION, NoticeType.OUTCOME,
                     NoticeType.OUT_OF_HOURS):  # fmt: skip
            assert steps_owed(kind, MONDAY_10, {}) == {}

    @given(received=st.datetimes(datetime(2026, 1, 1), datetime(2029, 12, 31),
                                 timezones=st.just(UTC)),
           kind=st.sampled_from([NoticeType.FRONT_DOOR_REFERRAL, NoticeType.TRANSFER]),
           area=st.sampled_from([ENGLAND, WALES]))  # fmt: skip
    def test_every_step_falls_after_receipt_on_a_working_day(
        self, received: datetime, kind: NoticeType, area: str
    ) -> None:
        for due in steps_owed(kind, received, {"from_authority": area}).values():
            assert due > received
            assert is_working_day(due.astimezone(LONDON).date())


TASK_FACTS = {"from_authority": ENGLAND, "to_authority": WALES, SEND_HISTORY_TO: WALES,
              TASK: "send the history to Cardiff"}  # fmt: skip


class TestHistoryToSend:
    def test_the_task_owes_the_history_sent_within_one_working_day(self) -> None:
        """A transfer the originating front door must send by hand owes the history sent by
        Tuesday 10:00 (one working day), and no conference: its reader holds none."""
        owed = steps_owed(NoticeType.TRANSFER, MONDAY_10, TASK_FACTS)
        assert owed == {NextStep.HISTORY_SENT: datetime(2027, 5, 11, 10, 0, tzinfo=LONDON)}

    def test_a_friday_task_is_due_after_the_weekend(self) -> None:
        """Friday 28 May 15:00: Monday 31 May is a bank holiday, so Tuesday 1 June 15:00."""
        friday = datetime(2027, 5, 28, 15, 0, tzinfo=LONDON)
        owed = steps_owed(NoticeType.TRANSFER, friday, TASK_FACTS)
        assert owed == {NextStep.HISTORY_SENT: datetime(2027, 6, 1, 15, 0, tzinfo=LONDON)}

    def test_the_chase_names_the_authority(self) -> None:
        """Whoever chases an overdue task reads which authority is waiting for the history."""
        task = REFERRAL.model_copy(update={"facts": TASK_FACTS})
        body = overdue_body(task, NextStep.HISTORY_SENT, MONDAY_10, "la-front-door")
        assert body.summary.startswith('Overdue: the task "send the history to Cardiff"')
        assert body.facts["overdue_step"] == "history_sent"


class TestOutcomeBody:
    def test_the_referrer_learns_the_decision_who_and_when_and_nothing_of_the_family(
        self,
    ) -> None:
        decided = datetime(2027, 5, 10, 15, 30, tzinfo=UTC)
        body = outcome_body(REFERRAL, ReferralOutcome.EARLY_HELP, decided, DOOR,
                            MONDAY_10 + timedelta(hours=1), "ev-1")  # fmt: skip
        assert body.facts["outcome"] == "early_help"
        assert body.facts["referral_reference"] == "ev-1"
        assert body.wording == ("outcome.early_help",)
        assert body.about == ()
        assert body.detail == {}
        assert "Mon 10 May 2027, 16:30" in body.summary  # London time, not 15:30 UTC
        assert body.source_org == "la-front-door"  # from the front door, to call there
        assert body.who_to_call == DOOR.contact

    @given(outcome=st.sampled_from(list(ReferralOutcome)))
    def test_no_outcome_carries_the_referral_s_people_or_detail(
        self, outcome: ReferralOutcome
    ) -> None:
        body = outcome_body(REFERRAL, outcome, MONDAY_10, DOOR, None, "ev-1")
        assert not body.about
        assert not body.detail
        assert "suicidal_ideation" not in body.facts
        assert "acknowledged_at" not in body.facts


class TestOverdueBody:
    def test_says_which_step_when_it_was_due_and_who_owes_it(self) -> None:
        body = overdue_body(REFERRAL, NextStep.DECISION, MONDAY_10, "la-front-door")
        assert body.facts["overdue_step"] == "decision"
        assert body.facts["step_owed_by"] == "la-front-door"
        assert body.summary.startswith("Overdue: the front door's decision")
        assert body.detail == REFERRAL.detail


class TestReaderView:
    def test_a_school_notice_reaching_a_front_door_is_read_as_a_referral(self) -> None:
        assert reader_kind(NoticeType.SCHOOL_SUPPORT, "front_door") is (
            NoticeType.FRONT_DOOR_REFERRAL
        )

    def test_a_school_deputy_reads_as_a_school(self) -> None:
        assert reader_kind(NoticeType.SCHOOL_SUPPORT, "school") is NoticeType.SCHOOL_SUPPORT

    def test_the_front_door_reads_the_full_view_with_what_the_chain_added(self) -> None:
        body = for_reader(SCHOOL_COPY, REFERRAL, NoticeType.FRONT_DOOR_REFERRAL)
        assert body.who_to_call == REFERRAL.who_to_call  # the referrer, not itself
        assert body.detail == REFERRAL.detail
        assert body.facts["rejected_by"] == "school-oakfield"

    def test_without_a_full_view_the_first_reader_s_copy_stands(self) -> None:
        assert for_reader(SCHOOL_COPY, None, NoticeType.FRONT_DOOR_REFERRAL) == SCHOOL_COPY

    @given(kind=st.sampled_from(list(NoticeType)))
    def test_only_a_reader_who_sees_everything_gets_the_full_view(self, kind: NoticeType) -> None:
        body = for_reader(SCHOOL_COPY, REFERRAL, kind)
        assert (body.detail == REFERRAL.detail) == (DETAIL_FIELDS[kind] == EVERYTHING)


class TestLondonTime:
    def test_summer_time_is_an_hour_ahead_of_utc(self) -> None:
        assert london(datetime(2027, 5, 10, 7, 45, tzinfo=UTC)) == "Mon 10 May 2027, 08:45"

    def test_winter_time_is_utc(self) -> None:
        assert london(datetime(2027, 1, 18, 8, 45, tzinfo=UTC)) == "Mon 18 Jan 2027, 08:45"
