"""Nothing silent when the directory has no front door: a move's originating front door is
found by a chain of fallbacks, and where no front door can be found at all a rule keeps a
decision addressed to nobody (rules/fallback.py ``nobody_to_tell``), which routing reports and
parks, instead of returning nothing (domain brief: "an area with no front door goes to the
front door of the child's area with the reason"; a move "produces a transfer notice")."""

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.rules.fallback import NOBODY, missing_front_door
from broker.rules.family import Decision, Family, Member
from broker.rules.history import PersonHistory
from broker.rules.move import (
    BY_FAMILY_AREA,
    BY_FROM_AUTHORITY,
    area_without_front_door,
    route_move,
)
from broker.rules.routing import decide
from broker.rules.trust import screen
from schemas.events import FamilyMovingArea
from schemas.notices import NoticeType, Severity
from unit.builders import (
    AREA,
    FRONT_DOOR,
    ON,
    OTHER_AREA,
    OTHER_FRONT_DOOR,
    RECEIVED,
    child,
    crisis_payload,
    event,
    family,
    in_area,
    missing_education_payload,
    move_payload,
    parent,
    plan_view,
    pregnancy_payload,
    with_context,
    with_front_doors,
)

GHOST = "E06000047"  # an area the directory holds no front door for
OTHER_GHOST = "E06000057"
CUMBERLAND = "E06000063"  # in the table of authorities, no front door in the partnership
BOTH = {AREA: FRONT_DOOR, OTHER_AREA: OTHER_FRONT_DOOR}


def move(source_org: str = "gp-riverside", **overrides: Any) -> FamilyMovingArea:
    """A move reported by ``source_org`` (by default the family's GP)."""
    parsed = event(move_payload(source_org=source_org, **overrides))
    assert isinstance(parsed, FamilyMovingArea)
    return parsed


def movers_in(home: str | None, family_area: str | None, doors: dict[str, str]) -> Family:
    """Mum (registered at GP Riverside, which reports the move) and a pupil, living in
    ``home`` as the directory has it, with only ``doors`` in the directory."""
    members: tuple[Member, ...] = (
        in_area(parent("mum", gp="gp-riverside"), home),
        in_area(child("elder", school="school-oakfield"), home),
    )
    return with_front_doors(family(*members, area=family_area), **doors)


def transfers(decisions: list[Decision]) -> list[Decision]:
    return [d for d in decisions if d.notice_type is NoticeType.TRANSFER]


CHAIN = [
    # home, from_authority, family area, doors -> door, chosen by, area without a front door
    pytest.param(AREA, OTHER_AREA, AREA, BOTH, FRONT_DOOR, None, None,
                 id="the_directory_area_the_event_does_not_override"),
    pytest.param(GHOST, AREA, GHOST, BOTH, FRONT_DOOR, BY_FROM_AUTHORITY, GHOST,
                 id="the_event_authority_when_the_directory_area_has_none"),
    pytest.param(GHOST, OTHER_GHOST, OTHER_AREA, BOTH, OTHER_FRONT_DOOR, BY_FAMILY_AREA, GHOST,
                 id="the_family_area_when_neither_has_one"),
    pytest.param(None, OTHER_AREA, AREA, BOTH, OTHER_FRONT_DOOR, BY_FROM_AUTHORITY, None,
                 id="the_event_authority_when_the_directory_places_them_nowhere"),
]  # fmt: skip


class TestTheOriginatingFrontDoor:
    @pytest.mark.parametrize(
        ("home", "leaving", "family_area", "doors", "door", "chosen_by", "missing"), CHAIN
    )
    @pytest.mark.parametrize(
        ("to", "rule_id"),
        [(None, "move.destination_unknown"), (CUMBERLAND, "move.send_history")],
        ids=["no_destination", "destination_not_held"],
    )
    def test_the_chain_of_fallbacks(
        self, home: str | None, leaving: str, family_area: str | None, doors: dict[str, str],
        door: str, chosen_by: str | None, missing: str | None, to: str | None, rule_id: str,
    ) -> None:  # fmt: skip
        """Where the directory says the family lives; else the authority the event says it
        leaves; else the family's own area: the notice says which fallback chose it, and
        which area has no front door."""
        fam = movers_in(home, family_area, doors)
        [transfer] = transfers(route_move(move(from_authority=leaving, to_authority=to), fam, ON))
        assert (transfer.rule_id, transfer.addressee.org_id) == (rule_id, door)
        assert transfer.facts.get("originating_front_door_chosen_by") == chosen_by
        assert area_without_front_door(transfer) == missing

    def test_a_front_door_the_partnership_holds_for_the_destination_is_not_a_fallback(
        self,
    ) -> None:
        """The receiving front door is told, whatever the originating side lacks."""
        fam = movers_in(GHOST, GHOST, {OTHER_AREA: OTHER_FRONT_DOOR})
        [transfer] = transfers(route_move(move(to_authority=OTHER_AREA), fam, ON))
        assert (transfer.rule_id, transfer.addressee.org_id) == ("move.transfer",
                                                                 OTHER_FRONT_DOOR)  # fmt: skip
        assert area_without_front_door(transfer) is None


class TestNoFrontDoorAnywhere:
    @pytest.mark.parametrize(
        ("home", "family_area", "reported"),
        [(GHOST, GHOST, GHOST), (None, GHOST, GHOST), (None, None, OTHER_GHOST)],
        ids=["the_directory_area", "the_family_area", "the_event_authority"],
    )
    def test_the_move_is_kept_for_nobody_with_the_authority_code(
        self, home: str | None, family_area: str | None, reported: str
    ) -> None:
        """No front door for the family's areas nor the one the event names: one transfer
        addressed to nobody, naming the authority whose front door is missing (the
        directory's area first), never an empty answer."""
        fam = movers_in(home, family_area, {OTHER_AREA: OTHER_FRONT_DOOR})
        moving = move(from_authority=OTHER_GHOST, to_authority=None)
        [transfer] = transfers(route_move(moving, fam, ON))
        assert (transfer.rule_id, transfer.addressee.org_id) == ("move.no_front_door", NOBODY)
        assert missing_front_door(transfer) == reported

    @pytest.mark.parametrize(
        ("to", "severity", "fact"),
        [(None, Severity.HIGH, "destination_unknown"), (CUMBERLAND, Severity.MEDIUM, "task")],
    )
    def test_it_keeps_what_the_front_door_would_have_been_told(
        self, to: str | None, severity: Severity, fact: str
    ) -> None:
        """The same severity and facts as the transfer it stands for (the task naming the
        authority, or that the destination is unknown)."""
        fam = movers_in(GHOST, GHOST, {})
        [transfer] = transfers(route_move(move(from_authority=GHOST, to_authority=to), fam, ON))
        assert transfer.severity is severity
        assert fact in transfer.facts

    def test_an_ordinary_transfer_is_not_missing_a_front_door(self) -> None:
        """Only a decision addressed to nobody names a missing front door."""
        fam = movers_in(AREA, AREA, BOTH)
        [transfer] = transfers(route_move(move(), fam, ON))
        assert missing_front_door(transfer) is None


# Every combination of where the directory places the family, what the event says it leaves
# and where it goes, and which front doors the directory holds.
AREAS = st.sampled_from([AREA, OTHER_AREA, GHOST, None])
LEAVING = st.sampled_from([AREA, OTHER_AREA, GHOST, OTHER_GHOST])
GOING = st.sampled_from([None, AREA, OTHER_AREA, GHOST, CUMBERLAND])
DOORS = st.sets(st.sampled_from([AREA, OTHER_AREA])).map(lambda held: {a: BOTH[a] for a in held})


class TestAMoveIsNeverSilent:
    @given(home=AREAS, family_area=AREAS, leaving=LEAVING, to=GOING, doors=DOORS)
    def test_one_transfer_or_an_explicit_no_front_door(
        self, home: str | None, family_area: str | None, leaving: str, to: str | None,
        doors: dict[str, str],
    ) -> None:  # fmt: skip
        """A move of a known family yields exactly one transfer-type decision: to a front
        door the directory holds, or, only when none of the areas concerned has one,
        addressed to nobody with the authority code."""
        fam = movers_in(home, family_area, doors)
        [transfer] = transfers(route_move(move(from_authority=leaving, to_authority=to), fam, ON))
        concerned = {a for a in (home, family_area, leaving, to) if a}
        if concerned & set(doors):
            assert transfer.addressee.org_id in doors.values()
        else:
            assert missing_front_door(transfer) in {home, family_area, leaving}

    @given(home=AREAS, family_area=AREAS, leaving=LEAVING, to=GOING, doors=DOORS)
    def test_after_screening_someone_is_told_or_the_gap_is_explicit(
        self, home: str | None, family_area: str | None, leaving: str, to: str | None,
        doors: dict[str, str],
    ) -> None:  # fmt: skip
        """Through ``decide`` and the screen of the publisher's word, a move reported by the
        family's GP leaves a transfer, the front door's proposal to confirm, or a decision
        addressed to nobody: never nothing about the move."""
        fam = movers_in(home, family_area, doors)
        moving = move(from_authority=leaving, to_authority=to)
        kept = screen(moving, fam, decide(moving, fam, PersonHistory(), RECEIVED))
        assert any(
            d.notice_type is NoticeType.TRANSFER
            or d.rule_id.startswith("proposal.")
            or missing_front_door(d) is not None
            for d in kept.decisions
        )


class TestTheStandInFrontDoorPassesTheScreen:
    def test_a_linked_publisher_reaches_the_front_door_the_event_names(self) -> None:
        """The GP of the family reports the move; the directory's area has no front door: the
        front door of the authority the event names gets the transfer."""
        fam = movers_in(GHOST, GHOST, BOTH)
        moving = move(from_authority=AREA, to_authority=None)
        kept = screen(moving, fam, route_move(moving, fam, ON)).decisions
        assert [d.addressee.org_id for d in transfers(kept)] == [FRONT_DOOR]

    def test_an_unlinked_publisher_cannot_choose_it(self) -> None:
        """A publisher the directory does not link to the family cannot send the history to
        a front door of its choosing: the transfer is withheld."""
        fam = movers_in(GHOST, GHOST, BOTH)
        moving = move("housing-demo", from_authority=AREA, to_authority=None)
        screened = screen(moving, fam, route_move(moving, fam, ON))
        assert transfers(screened.decisions) == []
        assert [d.addressee.org_id for d in transfers(screened.withheld)] == [FRONT_DOOR]

    def test_a_decision_for_nobody_is_never_withheld(self) -> None:
        """Whoever published it: it carries no data anywhere, only the gap."""
        fam = movers_in(GHOST, GHOST, {})
        moving = move("housing-demo", from_authority=GHOST, to_authority=None)
        screened = screen(moving, fam, route_move(moving, fam, ON))
        assert [d.rule_id for d in transfers(screened.decisions)] == ["move.no_front_door"]

    def test_a_proposal_with_no_front_door_to_confirm_it_is_reported(self) -> None:
        """A move held for a front door that does not exist, told to nobody, is reported."""
        fam = movers_in(GHOST, GHOST, {})
        moving = move(from_authority=GHOST, to_authority=CUMBERLAND)
        screened = screen(moving, fam, route_move(moving, fam, ON))
        held = [d for d in screened.decisions if d.rule_id.startswith("proposal.")]
        assert [(d.rule_id, missing_front_door(d)) for d in held] == [
            ("proposal.awaiting_confirmation.no_front_door", GHOST)]  # fmt: skip


# The other rules' branches that returned nothing when no front door could be found.
NOWHERE = {"front_doors": {}}
OTHER_RULES = [
    pytest.param(
        event(crisis_payload(suicidal_ideation=True)),
        family(parent("mum", gp="gp-riverside"), child("pupil", school="school-oakfield")),
        "crisis.front_door.no_front_door", id="a_high_risk_crisis_front_door_referral"),
    pytest.param(
        event(crisis_payload()),
        family(parent("mum"), child("home_educated", years=9)),
        "crisis.child.no_front_door", id="a_child_with_no_school_place"),
    pytest.param(
        event(crisis_payload()),
        family(parent("mum"), child("newborn", years=0, months=1)),
        "crisis.child.no_front_door", id="an_under_five_with_no_health_visiting"),
    pytest.param(
        event(missing_education_payload()),
        family(child("pupil", school="school-oakfield"), subject="pupil"),
        "missing_education.education_officer.no_front_door",
        id="a_child_missing_education_education_officer"),
    pytest.param(
        event(pregnancy_payload()),
        family(parent("mum"), parent("dad"), present=("dad",)),
        "pregnancy.unborn_child_not_in_directory.no_front_door",
        id="a_booking_with_no_unborn_record"),
    pytest.param(
        event(crisis_payload()),
        with_context(family(parent("mum"), child("pupil", school="school-oakfield")),
                     plans=(plan_view("pupil"),)),
        "open_plan.parent_mental_health_crisis.no_lead.no_front_door",
        id="a_child_on_a_plan_with_no_lead"),
]  # fmt: skip


class TestOtherRulesNoLongerDropIt:
    @pytest.mark.parametrize(("happened", "fam", "rule_id"), OTHER_RULES)
    def test_the_front_door_they_meant_is_kept_for_nobody(
        self, happened: Any, fam: Family, rule_id: str
    ) -> None:
        """Where the brief calls for the front door (or a front door standing in for a reader
        nobody registered), no front door in the directory yields a decision addressed to
        nobody with the family's area, not silence."""
        nowhere = replace(fam, **NOWHERE)
        decided = decide(happened, nowhere, PersonHistory(), RECEIVED)
        kept = [d for d in decided if d.rule_id.split("+")[0] == rule_id]
        assert [missing_front_door(d) for d in kept] == [AREA]

    def test_a_plan_with_no_lead_in_an_area_with_no_front_door_goes_to_the_family_one(
        self,
    ) -> None:
        """The child's area has no front door (it lives elsewhere): the family's own front
        door hears for the plan's missing lead, saying why."""
        pupil = in_area(child("pupil", school="school-oakfield"), GHOST)
        fam = with_context(family(parent("mum"), pupil), plans=(plan_view("pupil"),))
        decided = decide(event(crisis_payload()), fam, PersonHistory(), RECEIVED)
        [lead] = [d for d in decided if "no_lead" in d.rule_id]
        assert (lead.addressee.org_id, lead.facts["fallback_reason"]) == (
            FRONT_DOOR, "no_front_door_for_area")  # fmt: skip
