"""Service withdrawal: other involved agencies, the GPs, and schools when a parent disengages."""

import pytest

from broker.rules.family import ContactRole, Decision, Family
from broker.rules.withdrawal import route_withdrawal
from schemas.events import ServiceWithdrawal
from schemas.notices import NoticeType, Severity
from unit.builders import FRONT_DOOR, ON, child, event, family, parent, withdrawal_payload


def withdrawal(reason: str = "non_engagement", source: str = "mh-demo") -> ServiceWithdrawal:
    parsed = event(withdrawal_payload(reason=reason, source_org=source))
    assert isinstance(parsed, ServiceWithdrawal)
    return parsed


def household(mum_involved: tuple[str, ...] = ("mh-demo", "iapt-demo")) -> Family:
    return family(
        parent("mum", "h1", gp="gp-riverside", involved=mum_involved),
        parent("dad", "h1", gp="gp-hillview", involved=("housing-demo", "gp-hillview")),
        child(
            "elder", "h1", school="school-oakfield", gp="gp-riverside",
            involved=("early-help-demo", "mh-demo"),
        ),
        child("baby", "h1", years=0, months=8, health_visiting="hv-demo", gp="gp-northgate"),
    )  # fmt: skip


def orgs(decisions: list[Decision], notice_type: NoticeType) -> list[str]:
    return [d.addressee.org_id for d in decisions if d.notice_type is notice_type]


class TestInvolvedAgencies:
    def test_every_other_involved_agency_is_told(self) -> None:
        """Each agency involved with anyone in the household hears, except the source."""
        agencies = orgs(
            route_withdrawal(withdrawal(), household(), ON), NoticeType.AGENCY_INFORMATION
        )
        assert sorted(agencies) == ["early-help-demo", "housing-demo", "iapt-demo"]

    def test_the_source_is_not_told_about_itself(self) -> None:
        """The withdrawing service gets no notice of its own withdrawal."""
        decisions = route_withdrawal(withdrawal(), household(), ON)
        assert "mh-demo" not in {d.addressee.org_id for d in decisions}

    def test_gp_practices_are_not_duplicated_as_agencies(self) -> None:
        """A GP practice recorded as involved gets only its GP notice, once."""
        decisions = route_withdrawal(withdrawal(), household(), ON)
        assert [d.addressee.org_id for d in decisions].count("gp-hillview") == 1
        assert "gp-hillview" not in orgs(decisions, NoticeType.AGENCY_INFORMATION)

    def test_every_gp_is_told(self) -> None:
        """Every household member's GP practice is told: one notice per practice, and the
        subject's practice hears of the subject apart from its other patients."""
        gps = orgs(route_withdrawal(withdrawal(), household(), ON), NoticeType.GP_INFORMATION)
        assert sorted(gps) == ["gp-hillview", "gp-northgate", "gp-riverside", "gp-riverside"]

    def test_agency_notices_say_why(self) -> None:
        """Agency notices are LOW, to the safeguarding lead, and carry the reason."""
        decisions = route_withdrawal(withdrawal("completed"), household(), ON)
        agencies = [d for d in decisions if d.notice_type is NoticeType.AGENCY_INFORMATION]
        assert {(d.severity, d.addressee.role, d.facts["reason"]) for d in agencies} == {
            (Severity.LOW, ContactRole.SAFEGUARDING_LEAD, "completed")
        }


class TestParentDisengaging:
    @pytest.mark.parametrize("reason", ["non_engagement", "declined"])
    def test_schools_and_front_door_told(self, reason: str) -> None:
        """A parent with mental health involvement disengaging reaches schools and front door."""
        decisions = route_withdrawal(withdrawal(reason), household(), ON)
        assert orgs(decisions, NoticeType.SCHOOL_SUPPORT) == ["school-oakfield"]
        assert orgs(decisions, NoticeType.HEALTH_VISITING) == ["hv-demo"]
        assert orgs(decisions, NoticeType.FRONT_DOOR_REFERRAL) == [FRONT_DOOR]

    def test_children_notices_ask_to_consider_needs(self) -> None:
        """School and front door notices carry consider_childrens_needs, at MEDIUM."""
        decisions = route_withdrawal(withdrawal(), household(), ON)
        concern = [
            d for d in decisions
            if d.notice_type in {NoticeType.SCHOOL_SUPPORT, NoticeType.FRONT_DOOR_REFERRAL}
        ]  # fmt: skip
        assert {(d.severity, d.facts["consider_childrens_needs"]) for d in concern} == {
            (Severity.MEDIUM, True)
        }

    def test_front_door_hears_about_subject_and_children(self) -> None:
        """The front door notice names the parent and each of the children."""
        decisions = route_withdrawal(withdrawal(), household(), ON)
        front = next(d for d in decisions if d.notice_type is NoticeType.FRONT_DOOR_REFERRAL)
        assert front.about == ("mum", "elder", "baby")

    @pytest.mark.parametrize("reason", ["completed", "moved"])
    def test_other_reasons_do_not_reach_schools(self, reason: str) -> None:
        """Completing treatment or moving away does not reach the schools or the front door."""
        decisions = route_withdrawal(withdrawal(reason), household(), ON)
        assert not orgs(decisions, NoticeType.SCHOOL_SUPPORT)
        assert not orgs(decisions, NoticeType.FRONT_DOOR_REFERRAL)

    def test_parent_without_mental_health_involvement(self) -> None:
        """A parent disengaging from housing, with no mental health service, is not escalated."""
        decisions = route_withdrawal(
            withdrawal(source="housing-demo"), household(mum_involved=("housing-demo",)), ON
        )
        assert not orgs(decisions, NoticeType.SCHOOL_SUPPORT)
        assert not orgs(decisions, NoticeType.FRONT_DOOR_REFERRAL)

    def test_mental_health_source_alone_counts(self) -> None:
        """A mental health service withdrawing counts even if not recorded as involved."""
        decisions = route_withdrawal(withdrawal(source="mh-demo"), household(mum_involved=()), ON)
        assert orgs(decisions, NoticeType.FRONT_DOOR_REFERRAL) == [FRONT_DOOR]

    def test_talking_therapy_involvement_counts(self) -> None:
        """Involvement with a talking-therapy service is mental health involvement."""
        decisions = route_withdrawal(
            withdrawal(source="housing-demo"), household(mum_involved=("iapt-demo",)), ON
        )
        assert orgs(decisions, NoticeType.FRONT_DOOR_REFERRAL) == [FRONT_DOOR]

    def test_child_not_brought_by_a_parent_known_to_mental_health(self) -> None:
        """A child discharged for non-engagement is a parent's non-engagement: with the mother
        known to mental health services, the schools and the front door are told."""
        fam = household()
        fam = family(*fam.members, subject="elder")
        decisions = route_withdrawal(withdrawal(), fam, ON)
        assert orgs(decisions, NoticeType.SCHOOL_SUPPORT) == ["school-oakfield"]
        assert orgs(decisions, NoticeType.FRONT_DOOR_REFERRAL) == [FRONT_DOOR]

    def test_child_disengaging_without_parental_mental_health_needs(self) -> None:
        """With no parent known to mental health services, a child's discharge escalates no
        further than the agencies and GPs."""
        fam = household(mum_involved=())
        fam = family(*fam.members, subject="elder")
        decisions = route_withdrawal(withdrawal(), fam, ON)
        assert not orgs(decisions, NoticeType.SCHOOL_SUPPORT)
        assert not orgs(decisions, NoticeType.FRONT_DOOR_REFERRAL)
