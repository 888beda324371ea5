"""What a publisher's word may change (issue 12): links, proposals, and who may be told."""

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.rules.family import Addressee, ContactRole, Decision, Family, OrgKind
from broker.rules.move import route_move
from broker.rules.trust import (
    Proposal,
    ProposalKind,
    Verdict,
    judge,
    linked_orgs,
    proposal_for,
    screen,
    split_by_recipient,
    told_on_confirmation,
)
from schemas.events import FamilyMovingArea, ServiceWithdrawal
from schemas.notices import NoticeType, Severity
from unit.builders import (
    AREA,
    FRONT_DOOR,
    ON,
    OTHER_AREA,
    OTHER_FRONT_DOOR,
    child,
    crisis_payload,
    event,
    family,
    in_area,
    move_payload,
    parent,
    plan_view,
    step_down_plan,
    with_context,
    withdrawal_payload,
)

OUTSIDER = "school-brookside"
PEER = "peer-wales"  # another partnership's broker, registered here


def with_peer(fam: Family) -> Family:
    return replace(fam, org_kinds={**fam.org_kinds, PEER: OrgKind.PEER_BROKER})


def carters() -> Family:
    return family(
        in_area(parent("mum", gp="gp-riverside", involved=("mh-demo",)), AREA),
        in_area(child("kid", school="school-oakfield", gp="gp-northgate"), AREA),
    )


def move(source: str, **overrides: Any) -> FamilyMovingArea:
    parsed = event(move_payload(source_org=source, **overrides))
    assert isinstance(parsed, FamilyMovingArea)
    return parsed


def stepped_down(source: str, owner: str) -> ServiceWithdrawal:
    owner_ref = {"name": "Sam", "role": "Lead", "org_id": owner}
    plan = step_down_plan(lead_professional=owner_ref, action_owners=[owner_ref])
    parsed = event(withdrawal_payload(source_org=source, reason="stepped_down", step_down=plan))
    assert isinstance(parsed, ServiceWithdrawal)
    return parsed


def to(org: str, rule: str = "r", severity: Severity = Severity.LOW) -> Decision:
    addressee = Addressee(org, ContactRole.SAFEGUARDING_LEAD)
    return Decision(addressee, NoticeType.AGENCY_INFORMATION, severity, rule, ("mum",))


class TestLinkedOrgs:
    def test_registrations_involvements_and_the_front_door_are_linked(self) -> None:
        """GP, school, involved agency and the front door of the family's area link to it."""
        assert linked_orgs(carters()) == {
            "gp-riverside", "gp-northgate", "school-oakfield", "mh-demo", FRONT_DOOR,
        }  # fmt: skip

    def test_plan_owners_are_linked(self) -> None:
        """The directory's own record of a plan's lead and owners is a link."""
        fam = with_context(carters(), plans=(plan_view(lead_org="eh", owner_orgs=("x",)),))
        assert {"eh", "x"} <= linked_orgs(fam)

    def test_an_organisation_the_directory_does_not_name_is_not_linked(self) -> None:
        """A school nobody in the family attends is an outsider."""
        assert OUTSIDER not in linked_orgs(carters())

    def test_front_door_of_another_area_is_not_linked(self) -> None:
        """Another authority is not the family's until a move to it is confirmed."""
        assert OTHER_FRONT_DOOR not in linked_orgs(carters())


class TestProposalFor:
    def test_move_to_another_area_proposes_a_new_area(self) -> None:
        """The move names its destination's front door and any new school or GP."""
        proposal = proposal_for(move("gp-riverside", new_school=OUTSIDER), carters())
        named = frozenset({OTHER_FRONT_DOOR, OUTSIDER})
        expected = Proposal(ProposalKind.MOVE, "gp-riverside", FRONT_DOOR, OTHER_AREA, named,
                            ("mum", "kid"))  # fmt: skip
        assert proposal == expected

    def test_move_that_changes_nothing_proposes_nothing(self) -> None:
        """Destination unknown and nobody new named: nothing for a front door to confirm."""
        assert proposal_for(move("gp-riverside", to_authority=None), carters()) is None

    def test_step_down_proposes_its_owners(self) -> None:
        """A step-down names who would own the plan."""
        proposal = proposal_for(stepped_down("mh-demo", OUTSIDER), carters())
        assert proposal is not None
        assert (proposal.kind, proposal.named_orgs) == (ProposalKind.STEP_DOWN, {OUTSIDER})

    def test_other_events_propose_nothing(self) -> None:
        """A crisis changes no directory record."""
        assert proposal_for(event(crisis_payload()), carters()) is None

    def test_unknown_subject_proposes_nothing(self) -> None:
        """Nobody to move: the event waits in the matching queue."""
        assert proposal_for(move("gp-riverside"), family(subject=None)) is None


class TestJudge:
    @pytest.mark.parametrize(
        ("source", "verdict"),
        [
            (FRONT_DOOR, Verdict.APPLY),  # the family's own front door: its word is the answer
            ("gp-riverside", Verdict.AWAIT),  # registration
            ("mh-demo", Verdict.AWAIT),  # involvement
            (OUTSIDER, Verdict.REFUSE),
            (OTHER_FRONT_DOOR, Verdict.REFUSE),  # another authority's word does not move them
        ],
    )
    def test_verdict_by_source(self, source: str, verdict: Verdict) -> None:
        """Refused unless linked; applied at once only from the family's front door."""
        proposal = proposal_for(move(source), carters())
        assert proposal is not None
        assert judge(proposal, carters()) is verdict


class TestScreen:
    def test_pending_move_withholds_notices_to_those_it_names(self) -> None:
        """A GP's move: the receiving front door and the new school wait for confirmation;
        the family's front door is asked to confirm it."""
        fam, claim = carters(), move("gp-riverside", new_school=OUTSIDER)
        screened = screen(claim, fam, route_move(claim, fam, ON))
        assert {d.addressee.org_id for d in screened.withheld} == {OTHER_FRONT_DOOR, OUTSIDER}
        [asked] = screened.decisions
        assert asked.addressee == Addressee(FRONT_DOOR, ContactRole.DUTY_MANAGER)
        assert asked.rule_id == "proposal.awaiting_confirmation"
        assert asked.severity is Severity.MEDIUM

    def test_request_is_as_urgent_as_the_transfer_it_holds(self) -> None:
        """A child on a child protection plan makes the move HIGH: so is the request."""
        plans = (plan_view("kid", kind="child_protection"),)
        fam, claim = with_context(carters(), plans=plans), move("gp-riverside")
        [asked] = screen(claim, fam, route_move(claim, fam, ON)).decisions
        assert asked.severity is Severity.HIGH

    def test_front_doors_own_move_tells_everyone_it_names(self) -> None:
        """From the family's front door the move stands: nothing is withheld."""
        fam, claim = carters(), move(FRONT_DOOR, new_school=OUTSIDER)
        decided = route_move(claim, fam, ON)
        screened = screen(claim, fam, decided)
        assert (screened.decisions, screened.withheld) == (decided, [])
        assert screened.verdict is Verdict.APPLY

    def test_refused_move_tells_only_the_family_front_door(self) -> None:
        """An outsider's claim: nothing reaches anyone it names; the front door hears of it."""
        fam, claim = carters(), move(OUTSIDER, new_school=OUTSIDER)
        screened = screen(claim, fam, route_move(claim, fam, ON))
        assert screened.verdict is Verdict.REFUSE
        assert [d.rule_id for d in screened.decisions] == ["proposal.unlinked_source"]

    def test_other_events_lose_only_unlinked_addressees(self) -> None:
        """A safety net for every rule: a notice to an outsider is withheld."""
        decided = [to("gp-riverside"), to(OUTSIDER)]
        screened = screen(event(crisis_payload()), carters(), decided)
        assert (screened.decisions, screened.withheld) == ([decided[0]], [decided[1]])


class TestAPeerBrokersMove:
    def test_is_applied_with_no_referral_about_its_source(self) -> None:
        """A peer's move is the transfer of the family it carries: it stands at once, so
        the front door gets no proposal notice and nothing it names is withheld."""
        fam, claim = with_peer(carters()), move(PEER, new_school=OUTSIDER)
        decided = route_move(claim, fam, ON)
        screened = screen(claim, fam, decided)
        assert screened.verdict is Verdict.APPLY
        assert (screened.decisions, screened.withheld) == (decided, [])
        assert not [d for d in screened.decisions if d.rule_id.startswith("proposal.")]

    def test_a_peers_step_down_is_still_refused(self) -> None:
        """The trust is for the move a peer transfers, nothing else it might claim."""
        fam = with_peer(carters())
        proposal = proposal_for(stepped_down(PEER, PEER), fam)
        assert proposal is not None
        assert judge(proposal, fam) is Verdict.REFUSE

    def test_an_organisation_of_another_kind_under_that_id_is_refused(self) -> None:
        """Trust follows the directory's kind for the source, never the id's look."""
        proposal = proposal_for(move(PEER), carters())
        assert proposal is not None
        assert judge(proposal, carters()) is Verdict.REFUSE


class TestToldOnConfirmation:
    def test_confirmation_releases_only_the_named(self) -> None:
        """The front door's confirmation releases the notices to the organisations named."""
        fam, claim = carters(), move("gp-riverside", new_school=OUTSIDER)
        proposal = proposal_for(claim, fam)
        assert proposal is not None
        released = told_on_confirmation(route_move(claim, fam, ON), proposal)
        assert {d.rule_id for d in released} == {"move.transfer", "move.new_school"}


ORGS = st.sampled_from(["gp-riverside", "gp-northgate", "school-oakfield", "mh-demo",
                        FRONT_DOOR, OUTSIDER, OTHER_FRONT_DOOR, "acute-demo"])  # fmt: skip


class TestSplitProperty:
    @given(st.lists(ORGS, max_size=12), st.frozensets(ORGS))
    def test_kept_are_exactly_the_allowed(self, orgs: list[str], allowed: frozenset[str]) -> None:
        """Every decision is kept or withheld, never both, never lost; kept iff allowed."""
        decisions = [to(org, rule=str(i)) for i, org in enumerate(orgs)]
        kept, withheld = split_by_recipient(decisions, allowed)
        assert sorted(kept + withheld, key=lambda d: int(d.rule_id)) == decisions
        assert all(d.addressee.org_id in allowed for d in kept)
        assert not any(d.addressee.org_id in allowed for d in withheld)
