"""Judging a scenario step: expectations with deadlines (London wall-clock time), notices that
may appear, recipients who must not be told; older scenario files read as before."""

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from broker.services.scenario import Step, Told, judge
from schemas.notices import NoticeBody, NoticeHeader, NoticeType, Severity

GP = "gp-riverside:safeguarding_lead"
SCHOOL = "school-oakfield:key_adult"
FRONT_DOOR = "la-front-door:duty_manager"
# Wednesday 12 May 2027 17:00 in London is 16:00 UTC (summer time).
WEDNESDAY_CLOSE = datetime(2027, 5, 12, 16, 0, tzinfo=UTC)


def notice(
    recipient: str = GP,
    rule: str = "crisis.gp",
    deadline: datetime = WEDNESDAY_CLOSE,
    notice_type: NoticeType = NoticeType.GP_INFORMATION,
) -> Told:
    """A notice as a step produced it: the rule is the broker's record of it, not the body's
    (a school's body names none)."""
    header = NoticeHeader(
        notice_id=uuid.uuid4(), event_id=uuid.uuid4(), household="h", recipient_id=recipient,
        recipient_org=recipient.split(":")[0], notice_type=notice_type, severity=Severity.HIGH,
        created_at=deadline - timedelta(days=5), deadline=deadline,
        recipient_key_id="k", signing_key_id="s",
    )  # fmt: skip
    body = NoticeBody(summary="s", event_type="family_circumstances", occurred_at=deadline)
    return Told(header, body, rule)


def step(**fields: Any) -> Step:
    return Step.model_validate({"event": {}, **fields})


def expect(recipient: str = GP, rule: str = "crisis.gp", **more: Any) -> dict[str, Any]:
    return {"recipient": recipient, "rule": rule, **more}


class TestDeadlineExpectations:
    def test_deadline_is_london_wall_clock_time(self) -> None:
        """17:00 in London in summer is 16:00 UTC: the expectation is met."""
        verdict = judge(step(expect=[expect(deadline="2027-05-12T17:00")]), [notice()])
        assert verdict.passed

    def test_winter_deadline(self) -> None:
        """In winter London time is UTC: 08:45 is 08:45 UTC."""
        due = datetime(2027, 1, 18, 8, 45, tzinfo=UTC)
        verdict = judge(step(expect=[expect(deadline="2027-01-18T08:45")]), [notice(deadline=due)])
        assert verdict.passed

    def test_wrong_deadline_fails_naming_expected_and_actual(self) -> None:
        """A notice due at another time fails the step, saying when it was due."""
        verdict = judge(step(expect=[expect(deadline="2027-05-10T17:00")]), [notice()])
        assert not verdict.passed
        [failure] = verdict.failures()
        assert "expected due Mon 2027-05-10 17:00" in failure
        assert "was Wed 2027-05-12 17:00" in failure
        assert GP in failure

    def test_wrong_deadline_is_not_also_missing(self) -> None:
        """The notice was sent: it is reported as due at the wrong time, not as missing."""
        verdict = judge(step(expect=[expect(deadline="2027-05-10T17:00")]), [notice()])
        assert verdict.missing == []
        assert verdict.unexpected == []
        assert len(verdict.wrong_deadlines) == 1

    def test_seconds_count_when_given(self) -> None:
        """An expectation with seconds is compared to the second."""
        due = WEDNESDAY_CLOSE + timedelta(seconds=30)
        verdict = judge(
            step(expect=[expect(deadline="2027-05-12T17:00:30")]), [notice(deadline=due)]
        )
        assert verdict.passed

    def test_no_deadline_no_check(self) -> None:
        """An expectation without a deadline accepts any deadline, as before."""
        assert judge(step(expect=[expect()]), [notice()]).passed

    def test_a_deadline_with_a_time_zone_is_refused(self) -> None:
        """Deadlines are written as London wall-clock time; an offset is a mistake."""
        with pytest.raises(ValidationError):
            step(expect=[expect(deadline="2027-05-12T17:00:00+01:00")])


class TestMustNot:
    def test_a_notice_to_a_forbidden_recipient_fails(self) -> None:
        """must_not fails the step even where only_these is off."""
        verdict = judge(step(must_not=[SCHOOL], only_these=False), [notice(SCHOOL, "crisis")])
        assert not verdict.passed
        assert verdict.failures() == [f"must not be told: {SCHOOL} crisis (gp_information, high)"]

    def test_an_organisation_forbids_all_its_contacts(self) -> None:
        """Naming the organisation forbids a notice to any of its contacts."""
        deputy = "school-oakfield:deputy_key_adult"
        verdict = judge(step(must_not=["school-oakfield"]), [notice(deputy, "escalation")])
        assert [t.header.recipient_id for t in verdict.forbidden] == [deputy]

    def test_forbidden_is_not_also_unexpected(self) -> None:
        """A forbidden notice is reported once, as forbidden."""
        verdict = judge(step(must_not=[SCHOOL]), [notice(SCHOOL, "crisis")])
        assert verdict.unexpected == []
        assert len(verdict.forbidden) == 1

    def test_others_may_still_be_told(self) -> None:
        """must_not says nothing about anyone else."""
        verdict = judge(step(expect=[expect()], must_not=[SCHOOL]), [notice()])
        assert verdict.passed

    @pytest.mark.parametrize("forbidden", [GP, "gp-riverside"])
    def test_expecting_a_forbidden_recipient_is_refused(self, forbidden: str) -> None:
        """A step cannot both expect a notice to someone and forbid it."""
        with pytest.raises(ValidationError, match="both expected and under must_not"):
            step(expect=[expect()], must_not=[forbidden])


class TestMay:
    def test_a_notice_that_may_appear_is_not_unexpected(self) -> None:
        """A notice matching a may expectation is allowed, and the step passes."""
        verdict = judge(step(expect=[expect()], may=[expect(FRONT_DOOR, "patterns")]),
                        [notice(), notice(FRONT_DOOR, "patterns.accumulation")])  # fmt: skip
        assert verdict.passed
        assert [t.header.recipient_id for t in verdict.allowed] == [FRONT_DOOR]

    def test_a_notice_that_may_appear_need_not(self) -> None:
        """Its absence is not missing."""
        verdict = judge(step(expect=[expect()], may=[expect(FRONT_DOOR, "patterns")]), [notice()])
        assert verdict.passed
        assert verdict.missing == []

    def test_a_may_notice_still_keeps_its_deadline(self) -> None:
        """If it appears with a deadline set, it must be due then."""
        may = [expect(deadline="2027-05-10T13:00")]
        assert not judge(step(may=may), [notice()]).passed

    def test_expected_wins_over_may(self) -> None:
        """A notice meeting both an expectation and a may counts as expected."""
        verdict = judge(step(expect=[expect()], may=[expect()]), [notice()])
        assert verdict.passed
        assert verdict.allowed == []


class TestAsBefore:
    def test_older_step_reads_with_defaults(self) -> None:
        """A step written before these fields existed: no may, no must_not, only_these."""
        old = step(expect=[expect(severity="high", notice_type="gp_information")])
        assert (old.may, old.must_not, old.only_these) == ([], [], True)

    def test_missing_and_unexpected_as_before(self) -> None:
        """An expected notice not sent is missing; a notice not expected is unexpected."""
        verdict = judge(step(expect=[expect(SCHOOL, "crisis.child")]), [notice()])
        assert [e.recipient for e in verdict.missing] == [SCHOOL]
        assert [t.header.recipient_id for t in verdict.unexpected] == [GP]

    def test_only_these_off_leaves_others_unchecked(self) -> None:
        """Without only_these, other notices pass, listed as not checked."""
        verdict = judge(step(only_these=False), [notice()])
        assert verdict.passed
        assert [t.header.recipient_id for t in verdict.unchecked] == [GP]


class TestRecordedRule:
    def test_a_school_notice_is_matched_by_its_recorded_rule(self) -> None:
        """A school's body names no rule that reveals what happened: the step is judged on
        the rule the broker recorded for the notice."""
        told = notice(SCHOOL, "crisis.child", notice_type=NoticeType.SCHOOL_SUPPORT)
        assert told.body.rule_id is None
        assert judge(step(expect=[expect(SCHOOL, "crisis.child")]), [told]).passed

    def test_another_rule_is_not_a_match(self) -> None:
        """The recorded rule must contain the expected one."""
        told = notice(SCHOOL, "move.new_school", notice_type=NoticeType.SCHOOL_SUPPORT)
        verdict = judge(step(expect=[expect(SCHOOL, "crisis.child")]), [told])
        assert [e.rule for e in verdict.missing] == ["crisis.child"]


def body(**fields: Any) -> NoticeBody:
    base: dict[str, Any] = {"summary": "s", "event_type": "parent_mental_health_crisis",
                            "occurred_at": WEDNESDAY_CLOSE}  # fmt: skip
    return NoticeBody.model_validate(base | fields)


THIRD_PARTY = body(
    relation="parent", third_party=True, facts={"child_present": True},
    about=[{"given_name": "Mia", "role": "child", "present": False}],
    wording=["relation.parent.patient", "third_party.not_for_online_record_access"],
)  # fmt: skip


def judged(expectation: dict[str, Any], seen: NoticeBody = THIRD_PARTY) -> list[str]:
    told = dataclasses.replace(notice(), body=seen)
    return judge(step(expect=[expectation]), [told]).failures()


class TestBodyExpectations:
    def test_fields_present_absent_equal_and_wording_met(self) -> None:
        """A body holding what the expectation asks passes the step."""
        wanted = {"present": ["facts.child_present", "relation"],
                  "absent": ["detail.clinical_summary", "source_org"],
                  "equals": {"third_party": True, "about.0.present": False},
                  "wording": ["third_party.not_for_online_record_access"]}  # fmt: skip
        assert judged(expect(body=wanted)) == []

    def test_a_missing_field_fails_naming_it(self) -> None:
        """A field that must be present and is not fails the step, naming the field."""
        [failure] = judged(expect(body={"present": ["detail.clinical_summary"]}))
        assert "wrong body" in failure
        assert "detail.clinical_summary missing" in failure

    def test_a_field_that_must_be_absent_fails_when_there(self) -> None:
        """A field that must be absent and is there fails the step."""
        [failure] = judged(expect(body={"absent": ["facts.child_present"]}))
        assert "facts.child_present present" in failure

    def test_false_is_a_value_not_an_absence(self) -> None:
        """A field said to be false is present: the body said it."""
        assert judged(expect(body={"present": ["about.0.present"]})) == []

    def test_a_wrong_value_fails_saying_what_it_was(self) -> None:
        """A value other than the one expected fails, saying what it was."""
        [failure] = judged(expect(body={"equals": {"relation": "self"}}))
        assert "relation is 'parent', expected 'self'" in failure

    def test_a_missing_wording_key_fails(self) -> None:
        """A wording key the body does not carry fails the step."""
        [failure] = judged(expect(body={"wording": ["relation.self.patient"]}))
        assert "wording relation.self.patient missing" in failure

    def test_every_notice_matched_must_hold_it(self) -> None:
        """Two notices to one recipient under one expectation: each must hold the body."""
        first = dataclasses.replace(notice(), body=THIRD_PARTY)
        second = dataclasses.replace(notice(), body=body(relation="self"))
        wanted = step(expect=[expect(body={"equals": {"third_party": True}})])
        assert not judge(wanted, [first, second]).passed

    def test_a_star_lists_every_item_in_no_particular_order(self) -> None:
        """``about.*.given_name`` is everyone the notice is about, sorted: listing someone
        twice, or someone else, fails."""
        two = body(about=[{"given_name": "Cal"}, {"given_name": "Amy"}])
        assert judged(expect(body={"equals": {"about.*.given_name": ["Amy", "Cal"]}}), two) == []
        twice = body(about=[{"given_name": "Cal"}, {"given_name": "Amy"}, {"given_name": "Cal"}])
        assert judged(expect(body={"equals": {"about.*.given_name": ["Amy", "Cal"]}}), twice)

    def test_without_bodies_as_before(self) -> None:
        """An expectation without a body is judged on headers alone, as before."""
        assert judged(expect()) == []
