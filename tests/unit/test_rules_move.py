"""Family moving area: the transfer, the originating front door, the new school and GP."""

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.rules.authorities import authority, table
from broker.rules.family import Addressee, ContactRole, Decision, Family, PlanView
from broker.rules.move import route_move, unlisted_authority
from schemas.events import FamilyMovingArea
from schemas.notices import NoticeType, Severity
from unit.builders import (
    AREA,
    FRONT_DOOR,
    ON,
    OTHER_AREA,
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


WALES, CUMBERLAND, NOT_IN_TABLE_CODE = "W06000015", "E06000063", "E06000999"


def transfers(decisions: list[Decision]) -> list[Decision]:
    return of(decisions, NoticeType.TRANSFER)


class TestAcrossBorders:
    @pytest.mark.parametrize(
        ("to", "rule_id", "addressee", "task"),
        [
            (OTHER_AREA, "move.transfer", OTHER_FRONT_DOOR, None),
            (AREA, "move.transfer", FRONT_DOOR, None),
            (WALES, "move.send_history", FRONT_DOOR, "send the history to Cardiff"),
            (CUMBERLAND, "move.send_history", FRONT_DOOR, "send the history to Cumberland"),
            (NOT_IN_TABLE_CODE, "move.send_history", FRONT_DOOR, "send the history to the "
             "authority with code E06000999, a code not in the table"),
            (None, "move.destination_unknown", FRONT_DOOR, None),
        ],
        ids=["front_door_held", "test_area_held", "wales_not_held", "england_not_held",
             "code_not_in_table", "no_destination"],
    )  # fmt: skip
    def test_who_gets_the_transfer(
        self, to: str | None, rule_id: str, addressee: str, task: str | None
    ) -> None:
        """The receiving front door when the partnership holds it (the partnership's own test
        areas too); else the originating front door, with the task naming the authority; the
        originating front door, looking, only when no destination was given."""
        [transfer] = transfers(route_move(move(to_authority=to), movers(), ON))
        assert (transfer.rule_id, transfer.addressee) == (
            rule_id, Addressee(addressee, ContactRole.DUTY_MANAGER))  # fmt: skip
        assert transfer.facts.get("task") == task

    @pytest.mark.parametrize("to", [OTHER_AREA, AREA, WALES, NOT_IN_TABLE_CODE, None])
    def test_unknown_only_when_no_destination_was_given(self, to: str | None) -> None:
        """ "unknown" is said only of a move with no destination."""
        [transfer] = transfers(route_move(move(to_authority=to), movers(), ON))
        unknown = (transfer.facts["to_authority"] == "unknown", "destination_unknown" in
                   transfer.facts)  # fmt: skip
        assert unknown == ((True, True) if to is None else (False, False))

    @pytest.mark.parametrize(
        ("to", "name"),
        [(OTHER_AREA, "Hartlepool"), (WALES, "Cardiff"), (AREA, None), (NOT_IN_TABLE_CODE, None)],
    )
    def test_the_notice_names_the_authority(self, to: str, name: str | None) -> None:
        """The receiving authority is named where the table holds its code."""
        [transfer] = transfers(route_move(move(to_authority=to), movers(), ON))
        assert transfer.facts.get("to_authority_name") == name

    @pytest.mark.parametrize(
        ("to", "not_in_table"),
        [(NOT_IN_TABLE_CODE, NOT_IN_TABLE_CODE), (CUMBERLAND, None), (OTHER_AREA, None)],
    )
    def test_a_code_not_in_the_table_is_said_and_reported(
        self, to: str, not_in_table: str | None
    ) -> None:
        """A code the table lacks is routed all the same; the task says so, and it is the one
        the data-quality report lists."""
        [transfer] = transfers(route_move(move(to_authority=to), movers(), ON))
        assert transfer.facts.get("to_authority_not_in_table", False) is bool(not_in_table)
        assert unlisted_authority(transfer) == not_in_table


class TestReceivingNation:
    @pytest.mark.parametrize(
        ("to", "plans", "nation", "registered"),
        [
            (WALES, [CP_OPEN], "WLS", True),
            (WALES, [CIN_CLOSED], "WLS", False),
            (OTHER_AREA, [CP_OPEN], "ENG", False),
            ("W06000099", [CP_OPEN], "WLS", True),  # not in the table: the code's nation
        ],
        ids=["wales_on_a_plan", "wales_no_plan", "england_on_a_plan", "wales_not_in_table"],
    )
    def test_a_child_on_a_plan_moving_into_wales_is_registered(
        self, to: str, plans: list[dict[str, Any]], nation: str, registered: bool
    ) -> None:
        """The receiving nation is stated; a child with an open child protection plan moving
        into Wales is marked as on the register, for its custodian."""
        [transfer] = transfers(route_move(move(to_authority=to, plans=plans), movers(), ON))
        assert transfer.facts["receiving_nation"] == nation
        assert transfer.facts.get("child_protection_register", False) is registered

    def test_no_destination_states_no_nation(self) -> None:
        """With no destination there is no receiving nation to word the notice by."""
        [transfer] = transfers(route_move(move(to_authority=None), movers(), ON))
        assert "receiving_nation" not in transfer.facts


def involved_family() -> Family:
    return family(
        parent("mum", gp="gp-riverside", involved=("mh-demo", "housing-demo", "gp-riverside")),
        child("elder", years=8, school="school-oakfield"),
        child("baby", years=1, health_visiting="hv-demo"),
    )


class TestInvolvedAgenciesInWales:
    @pytest.mark.parametrize(
        ("origin", "to", "told"),
        [
            (AREA, WALES, {"mh-demo", "housing-demo"}),
            (WALES, OTHER_AREA, {"mh-demo", "housing-demo"}),
            (AREA, OTHER_AREA, set()),
            (AREA, None, set()),
        ],
        ids=["into_wales", "out_of_wales", "within_england", "no_destination"],
    )
    def test_every_involved_agency_is_told_where_wales_is_concerned(
        self, origin: str, to: str | None, told: set[str]
    ) -> None:
        """Where either authority is in Wales, each agency involved with those who move is
        told of the move (their GP practices are told as GPs are, not here)."""
        decisions = route_move(move(from_authority=origin, to_authority=to), involved_family(),
                               ON)  # fmt: skip
        agencies = of(decisions, NoticeType.AGENCY_INFORMATION)
        assert {d.addressee.org_id for d in agencies} == told
        assert all(d.rule_id == "move.involved_agency" for d in agencies)

    def test_the_agency_that_reported_the_move_is_not_told_of_it(self) -> None:
        """The source of the event knows already."""
        moving = move(to_authority=WALES, source_org="housing-demo")
        agencies = of(route_move(moving, involved_family(), ON), NoticeType.AGENCY_INFORMATION)
        assert {d.addressee.org_id for d in agencies} == {"mh-demo"}


TABLE_CODES = sorted(table().authorities)
# Any destination but the area the family leaves, whose front door the property keeps.
CODES = st.one_of(
    st.sampled_from(TABLE_CODES),
    st.from_regex(r"(E06|E08|E09|E10|W06)[0-9]{6}", fullmatch=True),
).filter(lambda code: code != AREA)


class TestEveryNamedAuthorityIsTold:
    @given(code=CODES, held=st.booleans(), plans=st.sampled_from([[], [CP_OPEN], [CIN_CLOSED]]))
    def test_a_transfer_or_a_task_naming_that_authority_never_neither(
        self, code: str, held: bool, plans: list[dict[str, Any]]
    ) -> None:
        """Every move naming an authority yields exactly one transfer: to that authority's
        front door when the partnership holds it, else a task to the originating front door
        naming that authority; never an "unknown"."""
        fam = movers()
        fam = replace(fam, front_doors={**fam.front_doors, code: "held-door"} if held else
                      {a: d for a, d in fam.front_doors.items() if a != code})  # fmt: skip
        [transfer] = transfers(route_move(move(to_authority=code, plans=plans), fam, ON))
        assert "destination_unknown" not in transfer.facts
        assert transfer.facts["to_authority"] == code
        if held:
            assert (transfer.rule_id, transfer.addressee.org_id) == ("move.transfer", "held-door")
        else:
            named = authority(code)
            assert transfer.rule_id == "move.send_history"
            assert transfer.facts["send_history_to"] == code
            assert str(transfer.facts["task"]).endswith(
                named.name if named else f"{code}, a code not in the table")  # fmt: skip
