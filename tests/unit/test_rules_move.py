"""Family moving area: the transfer, the originating front door, the new school and GP."""

from datetime import timedelta
from typing import Any

import pytest

from broker.rules.family import Addressee, ContactRole, Decision, Family, PlanView
from broker.rules.move import route_move
from schemas.events import FamilyMovingArea
from schemas.notices import NoticeType, Severity
from unit.builders import (
    FRONT_DOOR,
    ON,
    OTHER_FRONT_DOOR,
    child,
    event,
    family,
    move_payload,
    parent,
    plan_view,
    with_context,
)

CP_OPEN = {"kind": "child_protection", "child": {"local_id": "e"}, "started_on": "2026-01-01"}
CIN_CLOSED = {
    "kind": "child_in_need",
    "child": {"local_id": "e"},
    "started_on": "2025-01-01",
    "ended_on": "2025-12-01",
}


def move(**overrides: Any) -> FamilyMovingArea:
    parsed = event(move_payload(**overrides))
    assert isinstance(parsed, FamilyMovingArea)
    return parsed


def movers() -> Family:
    return family(
        parent("mum", gp="gp-riverside"),
        child("elder", years=8, school="school-oakfield"),
        child("five", years=5),
        child("baby", years=1, health_visiting="hv-demo"),
    )


def of(decisions: list[Decision], notice_type: NoticeType) -> list[Decision]:
    return [d for d in decisions if d.notice_type is notice_type]


class TestTransfer:
    def test_receiving_front_door_gets_transfer(self) -> None:
        """A known destination's front door gets the transfer, about everyone."""
        [transfer] = of(route_move(move(), movers(), ON), NoticeType.TRANSFER)
        assert transfer.addressee == Addressee(OTHER_FRONT_DOOR, ContactRole.DUTY_MANAGER)
        assert transfer.rule_id == "move.transfer"
        assert transfer.about == ("mum", "elder", "five", "baby")

    def test_unknown_destination_goes_to_originating_front_door(self) -> None:
        """With no destination, the originating front door is told the destination is unknown."""
        [transfer] = of(route_move(move(to_authority=None), movers(), ON), NoticeType.TRANSFER)
        assert transfer.addressee.org_id == FRONT_DOOR
        assert transfer.rule_id == "move.destination_unknown"
        assert transfer.facts["destination_unknown"] is True
        assert transfer.severity is Severity.HIGH

    def test_open_child_protection_plan_is_high(self) -> None:
        """An open child protection plan makes the transfer HIGH."""
        [transfer] = of(route_move(move(plans=[CP_OPEN]), movers(), ON), NoticeType.TRANSFER)
        assert transfer.severity is Severity.HIGH
        assert transfer.facts["open_child_protection_plan"] is True

    def test_without_open_plan_transfer_is_medium(self) -> None:
        """Without an open child protection plan the transfer is MEDIUM."""
        [transfer] = of(route_move(move(plans=[CIN_CLOSED]), movers(), ON), NoticeType.TRANSFER)
        assert transfer.severity is Severity.MEDIUM

    def test_child_protection_plan_only_in_the_directory_is_high(self) -> None:
        """The directory's open child protection plan makes the transfer HIGH even when the
        event lists no plan."""
        fam = with_context(movers(), plans=(plan_view("elder", kind="child_protection"),))
        [transfer] = of(route_move(move(), fam, ON), NoticeType.TRANSFER)
        assert transfer.severity is Severity.HIGH
        assert transfer.facts["open_child_protection_plan"] is True
        assert transfer.facts["open_plans_in_directory"] == 1

    def test_the_moves_own_kept_plans_are_not_counted_again(self) -> None:
        """A plan this move listed, kept by the broker before a confirmation decides, is
        the event's plan, not a second one in the directory."""
        moving = move(plans=[CP_OPEN])
        kept = plan_view("elder", kind="child_protection", plan_id=f"move:{moving.event_id}:0")
        [transfer] = of(route_move(moving, with_context(movers(), plans=(kept,)), ON),
                        NoticeType.TRANSFER)  # fmt: skip
        assert (transfer.facts["open_plans"], transfer.facts["open_plans_in_directory"]) == (1, 0)

    @pytest.mark.parametrize(
        "plan",
        [
            plan_view("elder", kind="child_in_need"),
            plan_view("elder", kind="child_protection", ended_on=ON - timedelta(days=1)),
            plan_view("stranger", kind="child_protection"),
        ],
        ids=["child_in_need", "closed", "not_in_this_household"],
    )
    def test_other_directory_plans_leave_it_medium(self, plan: PlanView) -> None:
        """A child in need plan, a closed plan or another family's plan does not make it HIGH."""
        [transfer] = of(
            route_move(move(), with_context(movers(), plans=(plan,)), ON), NoticeType.TRANSFER
        )
        assert transfer.severity is Severity.MEDIUM

    def test_history_counts_travel(self) -> None:
        """The transfer states how many plans are open and how many are history."""
        [transfer] = of(
            route_move(move(plans=[CP_OPEN, CIN_CLOSED]), movers(), ON), NoticeType.TRANSFER
        )
        assert (transfer.facts["open_plans"], transfer.facts["previous_plans"]) == (1, 1)


class TestNewSchoolAndGp:
    def test_new_school_told_about_school_age_children_only(self) -> None:
        """The new school hears about children with a school place or of school age."""
        [school] = of(
            route_move(move(new_school="school-brookside"), movers(), ON), NoticeType.SCHOOL_SUPPORT
        )
        assert school.addressee == Addressee("school-brookside", ContactRole.KEY_ADULT)
        assert school.about == ("elder", "five")

    def test_no_new_school_notice_without_pupils(self) -> None:
        """A family with only a baby sends no notice to a new school."""
        fam = family(parent("mum"), child("baby", years=1, health_visiting="hv-demo"))
        decisions = route_move(move(new_school="school-brookside"), fam, ON)
        assert not of(decisions, NoticeType.SCHOOL_SUPPORT)

    def test_no_new_school_notice_when_unknown(self) -> None:
        """Without a new school, no school is told."""
        assert not of(route_move(move(), movers(), ON), NoticeType.SCHOOL_SUPPORT)

    def test_new_gp_told_about_everyone(self) -> None:
        """The new GP practice hears about every member of the family."""
        [gp] = of(route_move(move(new_gp="gp-northgate"), movers(), ON), NoticeType.GP_INFORMATION)
        assert gp.addressee == Addressee("gp-northgate", ContactRole.SAFEGUARDING_LEAD)
        assert gp.about == ("mum", "elder", "five", "baby")


class TestTheMoversOnceEach:
    def two_homes(self) -> Family:
        """Mum and Kid in h1; Kid also stays with Dad in h2, who does not move."""
        return family(
            parent("mum", "h1", gp="gp-riverside"),
            child("kid", "h1", years=8, school="school-oakfield"),
            child("kid", "h2", years=8, school="school-oakfield"),
            parent("dad", "h2", gp="gp-hillview"),
        )

    @pytest.mark.parametrize("kind", [NoticeType.TRANSFER, NoticeType.GP_INFORMATION])
    def test_each_mover_is_named_once(self, kind: NoticeType) -> None:
        """A child with two homes is named once, and the parent who stays not at all, to the
        receiving authority and to the new GP."""
        parsed = move(new_gp="gp-northgate")
        [notice] = of(route_move(parsed, self.two_homes(), ON), kind)
        assert notice.about == ("mum", "kid")

    def test_one_notice_each(self) -> None:
        """The receiving authority and the new GP each get one notice of the move."""
        decisions = route_move(move(new_gp="gp-northgate"), self.two_homes(), ON)
        told = [d.addressee.org_id for d in decisions]
        assert sorted(told) == sorted({OTHER_FRONT_DOOR, "gp-northgate"})
