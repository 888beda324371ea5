"""Who hears of a missed deadline or a rejection: the escalation rules, as a table and as
properties over every kind of notice and addressee."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from broker.rules.escalation import (
    escalated_body,
    escalation_chain,
    follow_up_rule,
    onward_from_front_door,
    reroute_target,
    rerouted_body,
)
from broker.rules.family import Addressee, ContactRole, Decision
from schemas.notices import FollowUp, NoticeBody, NoticeType, Severity
from unit.builders import AREA, FRONT_DOOR, OTHER_AREA, OTHER_FRONT_DOOR, child, family, parent

SCHOOL = "school-oakfield"
FAMILY = family(parent("mum", gp="gp-riverside"), child("kid", school=SCHOOL))


def decision(org: str, role: ContactRole, kind: NoticeType, **facts: str | int | bool) -> Decision:
    return Decision(Addressee(org, role), kind, Severity.MEDIUM, "rule", ("kid",), facts)


class TestEscalationChain:
    def test_school_goes_to_the_deputy_then_the_local_authority_safeguarding_lead(self) -> None:
        chain = escalation_chain(
            decision(SCHOOL, ContactRole.KEY_ADULT, NoticeType.SCHOOL_SUPPORT), FAMILY
        )
        assert chain == (
            Addressee(SCHOOL, ContactRole.DEPUTY_KEY_ADULT),
            Addressee(FRONT_DOOR, ContactRole.SAFEGUARDING_LEAD),
        )

    def test_a_transfer_goes_to_the_originating_authority_duty_manager(self) -> None:
        transfer = decision(OTHER_FRONT_DOOR, ContactRole.DUTY_MANAGER, NoticeType.TRANSFER,
                            from_authority=AREA, to_authority=OTHER_AREA)  # fmt: skip
        assert escalation_chain(transfer, FAMILY) == (
            Addressee(FRONT_DOOR, ContactRole.DUTY_MANAGER),
        )

    def test_a_transfer_to_nowhere_known_goes_to_the_originating_safeguarding_lead(self) -> None:
        unknown = decision(FRONT_DOOR, ContactRole.DUTY_MANAGER, NoticeType.TRANSFER,
                           from_authority=AREA)  # fmt: skip
        assert escalation_chain(unknown, FAMILY) == (
            Addressee(FRONT_DOOR, ContactRole.SAFEGUARDING_LEAD),
        )

    def test_a_gp_notice_goes_to_the_front_door_duty_manager_where_no_icb_is_known(self) -> None:
        gp = decision("gp-riverside", ContactRole.SAFEGUARDING_LEAD, NoticeType.GP_INFORMATION)
        assert escalation_chain(gp, FAMILY) == (Addressee(FRONT_DOOR, ContactRole.DUTY_MANAGER),)

    def test_a_gp_notice_goes_to_the_icb_designated_professionals_where_known(self) -> None:
        """Health escalates within health: the ICB's designated safeguarding team."""
        with_icb = replace(FAMILY, icbs={AREA: "icb-demo"})
        gp = decision("gp-riverside", ContactRole.SAFEGUARDING_LEAD, NoticeType.GP_INFORMATION)
        assert escalation_chain(gp, with_icb) == (
            Addressee("icb-demo", ContactRole.DESIGNATED_SAFEGUARDING),
        )

    def test_a_health_visiting_notice_goes_to_the_icb_too(self) -> None:
        with_icb = replace(FAMILY, icbs={AREA: "icb-demo"})
        hv = decision("hv-demo", ContactRole.SAFEGUARDING_LEAD, NoticeType.HEALTH_VISITING)
        assert escalation_chain(hv, with_icb) == (
            Addressee("icb-demo", ContactRole.DESIGNATED_SAFEGUARDING),
        )

    def test_a_school_notice_does_not_go_to_the_icb(self) -> None:
        with_icb = replace(FAMILY, icbs={AREA: "icb-demo"})
        school = decision(SCHOOL, ContactRole.KEY_ADULT, NoticeType.SCHOOL_SUPPORT)
        assert all(step.org_id != "icb-demo" for step in escalation_chain(school, with_icb))

    def test_a_front_door_referral_goes_to_that_authority_safeguarding_lead(self) -> None:
        referral = decision(FRONT_DOOR, ContactRole.DUTY_MANAGER, NoticeType.FRONT_DOOR_REFERRAL)
        assert escalation_chain(referral, FAMILY) == (
            Addressee(FRONT_DOOR, ContactRole.SAFEGUARDING_LEAD),
        )

    def test_a_family_with_no_known_front_door_has_only_the_school_deputy(self) -> None:
        homeless = family(child("kid", school=SCHOOL), subject="kid", area=None)
        chain = escalation_chain(
            decision(SCHOOL, ContactRole.KEY_ADULT, NoticeType.SCHOOL_SUPPORT), homeless
        )
        assert chain == (Addressee(SCHOOL, ContactRole.DEPUTY_KEY_ADULT),)

    @given(
        org=st.sampled_from([SCHOOL, FRONT_DOOR, OTHER_FRONT_DOOR, "gp-riverside", "hv-demo"]),
        role=st.sampled_from(list(ContactRole)),
        kind=st.sampled_from(list(NoticeType)),
        origin=st.sampled_from([AREA, OTHER_AREA, None]),
    )
    def test_the_chain_never_returns_to_the_addressee_nor_repeats_anyone(
        self, org: str, role: ContactRole, kind: NoticeType, origin: str | None
    ) -> None:
        facts = {"from_authority": origin} if origin else {}
        sent = decision(org, role, kind, **facts)
        chain = escalation_chain(sent, FAMILY)
        assert sent.addressee not in chain
        assert len(set(chain)) == len(chain)
        assert chain, "a notice with a known front door always has someone to escalate to"


class TestRejection:
    def test_a_rejected_school_notice_goes_to_the_front_door(self) -> None:
        school = decision(SCHOOL, ContactRole.KEY_ADULT, NoticeType.SCHOOL_SUPPORT)
        assert reroute_target(school, FAMILY) == Addressee(FRONT_DOOR, ContactRole.DUTY_MANAGER)

    def test_a_rejected_transfer_goes_back_to_the_authority_the_family_left(self) -> None:
        transfer = decision(OTHER_FRONT_DOOR, ContactRole.DUTY_MANAGER, NoticeType.TRANSFER,
                            from_authority=AREA)  # fmt: skip
        assert reroute_target(transfer, FAMILY) == Addressee(FRONT_DOOR, ContactRole.DUTY_MANAGER)

    def test_a_front_door_rejecting_its_own_referral_goes_to_its_safeguarding_lead(self) -> None:
        referral = decision(FRONT_DOOR, ContactRole.DUTY_MANAGER, NoticeType.FRONT_DOOR_REFERRAL)
        target = reroute_target(referral, FAMILY)
        assert target == Addressee(FRONT_DOOR, ContactRole.SAFEGUARDING_LEAD)
        assert onward_from_front_door(target) is None

    def test_after_the_duty_manager_comes_the_safeguarding_lead(self) -> None:
        assert onward_from_front_door(Addressee(FRONT_DOOR, ContactRole.DUTY_MANAGER)) == Addressee(
            FRONT_DOOR, ContactRole.SAFEGUARDING_LEAD
        )

    def test_nowhere_to_go_only_without_a_front_door(self) -> None:
        homeless = family(child("kid", school=SCHOOL), subject="kid", area=None)
        school = decision(SCHOOL, ContactRole.KEY_ADULT, NoticeType.SCHOOL_SUPPORT)
        assert reroute_target(school, homeless) is None


class TestBodies:
    ORIGINAL = NoticeBody(
        summary="Please be ready to offer quiet support.",
        event_type="parent_mental_health_crisis",
        occurred_at=datetime(2027, 5, 10, 9, tzinfo=UTC),
        facts={"child_present": True},
    )

    def test_an_escalation_keeps_what_the_recipient_saw_and_says_why_it_came(self) -> None:
        body = escalated_body(self.ORIGINAL, 2, datetime(2027, 5, 11, 7, 45, tzinfo=UTC), SCHOOL)
        assert body.facts == {"child_present": True, "escalation_level": 2,
                              "missed_deadline": "2027-05-11T07:45:00+00:00",
                              "not_acknowledged_by": SCHOOL}  # fmt: skip
        assert body.summary.endswith(self.ORIGINAL.summary)
        assert "Tue 11 May 2027, 08:45, London time" in body.summary  # 07:45 UTC, in summer
        assert body.about == self.ORIGINAL.about
        assert body.detail == self.ORIGINAL.detail

    def test_a_rerouted_notice_carries_who_rejected_it_and_why(self) -> None:
        body = rerouted_body(self.ORIGINAL, SCHOOL, "not on our roll")
        assert body.facts["rejected_by"] == SCHOOL
        assert body.facts["rejection_reason"] == "not on our roll"
        assert body.event_type == self.ORIGINAL.event_type

    def test_follow_up_rules_name_the_original_rule(self) -> None:
        assert (
            follow_up_rule("crisis.school", FollowUp.ESCALATION, 2) == "crisis.school.escalation2"
        )
        assert follow_up_rule("crisis.school", FollowUp.REROUTE, 0) == "crisis.school.reroute"


class TestAlertDeadline:
    """The alert at the end of a chain is due as the chain's steps are, the EDT's at once."""

    SENT = datetime(2027, 5, 8, 22, 0, tzinfo=UTC)

    def test_an_alert_is_due_an_escalation_period_after_it_is_sent(self) -> None:
        """To an authority's safeguarding lead: the partnership's escalation period."""
        from broker.rules.escalation import ESCALATION_PERIOD, alert_deadline

        due = alert_deadline(self.SENT, NoticeType.FRONT_DOOR_REFERRAL)
        assert due == self.SENT + ESCALATION_PERIOD

    def test_an_emergency_duty_team_alert_is_due_within_the_hour(self) -> None:
        """Out of hours the emergency duty team acts now: one real hour, whatever the period."""
        from broker.rules.escalation import alert_deadline

        due = alert_deadline(self.SENT, NoticeType.OUT_OF_HOURS, timedelta(hours=8))
        assert due == self.SENT + timedelta(hours=1)
