"""Additional needs (a child's SEND or EHCP, a parent's learning disability) raise was-not-brought
and withdrawal notices one step, say why, and reach only the readers who may know them."""

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.rules.education import route_education
from broker.rules.family import Addressee, ContactRole, Decision, Family
from broker.rules.history import PersonHistory
from broker.rules.minimisation import EVERYTHING, view_for
from broker.rules.needs import NEED_FACTS, needs_of, with_needs
from broker.rules.not_brought import route_not_brought
from broker.rules.patterns import raise_one as raised
from broker.rules.thresholds import Thresholds
from broker.rules.withdrawal import route_withdrawal
from schemas.events import AppointmentOutcome, ElectiveHomeEducation, ServiceWithdrawal
from schemas.notices import NoticeType, Relation, Severity
from unit.builders import (
    ON,
    SEVERITY_RANK,
    appointment_payload,
    child,
    event,
    family,
    home_education_payload,
    parent,
    withdrawal_payload,
)

Flags = dict[str, bool]


def household(dad: Flags | None = None, kid: Flags | None = None, sib: Flags | None = None,
              subject: str = "kid") -> Family:  # fmt: skip
    """Mum, dad (whose flags are ``dad``), the child and a brother, each with a GP."""
    return family(
        parent("mum", gp="gp-riverside", involved=("mh-demo",)),
        parent("dad", gp="gp-hillview", involved=("housing-demo",), **(dad or {})),
        child("kid", years=6, school="school-oakfield", gp="gp-northgate",
              health_visiting="sn-demo", **(kid or {})),
        child("sib", years=9, school="school-oakfield", gp="gp-northgate", **(sib or {})),
        subject=subject,
    )  # fmt: skip


LD = {"learning_disability": True}
EHCP = {"has_ehcp": True}
SEND = {"has_send": True}


class TestRaised:
    @pytest.mark.parametrize(
        ("before", "after"),
        [(Severity.LOW, Severity.MEDIUM), (Severity.MEDIUM, Severity.HIGH),
         (Severity.HIGH, Severity.HIGH)],
    )  # fmt: skip
    def test_one_step_up(self, before: Severity, after: Severity) -> None:
        """Low becomes medium, medium becomes high, high stays high."""
        assert raised(before) is after


class TestNeedsOf:
    @pytest.mark.parametrize(
        ("fam", "about", "needs"),
        [
            (household(), ("kid",), {}),
            (household(kid=SEND), ("kid",), {"child_has_send": True}),
            (household(kid=EHCP), ("kid",), {"child_has_ehcp": True}),
            (household(dad=LD), ("kid",), {"parent_learning_disability": True}),
            (household(dad=LD), ("dad",), {"parent_learning_disability": True}),
            (household(sib=EHCP), ("kid",), {}),
            (household(kid=EHCP), ("dad",), {}),
            (household(kid=SEND | EHCP, dad=LD), ("kid",),
             {"child_has_send": True, "child_has_ehcp": True,
              "parent_learning_disability": True}),
        ],
        ids=["none", "send", "ehcp", "childs_parent_ld", "parent_ld", "siblings_ehcp_not_mine",
             "a_parents_notice_not_the_childs_ehcp", "all"],
    )  # fmt: skip
    def test_whose_needs_count(self, fam: Family, about: tuple[str, ...], needs: Flags) -> None:
        """The needs of the people a notice is about, and a child's parents' learning
        disability; not a brother's or sister's needs."""
        assert needs_of(about, fam) == needs


_SEVERITIES = st.sampled_from(list(Severity))
_FLAGS = st.fixed_dictionaries({"has_send": st.booleans(), "has_ehcp": st.booleans()})


class TestWithNeeds:
    @given(_SEVERITIES, _FLAGS, st.booleans(), st.sampled_from(["kid", "sib", "dad", "mum"]))
    def test_never_lowered_raised_exactly_when_a_need_counts(
        self, severity: Severity, kid: Flags, dad_ld: bool, about: str
    ) -> None:
        """Severity never falls; it rises one step exactly when a need counts for the notice,
        and then the notice names the needs."""
        fam = household(kid=kid, dad={"learning_disability": dad_ld})
        gp = Addressee("gp-x", ContactRole.SAFEGUARDING_LEAD)
        decision = Decision(gp, NoticeType.GP_INFORMATION, severity, "r.gp", (about,), {"a": 1})
        (after,) = with_needs([decision], fam)
        needs = needs_of((about,), fam)
        assert SEVERITY_RANK[after.severity] >= SEVERITY_RANK[severity]
        assert after.severity is (raised(severity) if needs else severity)
        assert dict(after.facts) == {"a": 1, **needs}


def appointment(days_ago: int) -> AppointmentOutcome:
    parsed = event(appointment_payload(outcome="was_not_brought"))
    assert isinstance(parsed, AppointmentOutcome)
    return parsed.model_copy(update={"booked_for": parsed.booked_for - timedelta(days=days_ago)})


def not_brought(fam: Family) -> list[Decision]:
    """Child B's pattern: one attended of five in six months, the last one missed."""
    latest = appointment(0)
    past: tuple[tuple[datetime, str], ...] = tuple(
        (latest.booked_for - timedelta(days=20 * i), o)
        for i, o in enumerate(["attended", "was_not_brought", "was_not_brought",
                               "was_not_brought"], start=1)
    )  # fmt: skip
    history = PersonHistory(appointments=((latest.booked_for, latest.outcome), *past))  # type: ignore[arg-type]
    return route_not_brought(latest, fam, history, ON)


class TestWasNotBrought:
    @pytest.mark.parametrize(
        ("fam", "severity", "fact"),
        [(household(), Severity.MEDIUM, None),
         (household(kid=EHCP), Severity.HIGH, "child_has_ehcp"),
         (household(kid=SEND), Severity.HIGH, "child_has_send"),
         (household(dad=LD), Severity.HIGH, "parent_learning_disability")],
        ids=["no_needs", "ehcp", "send", "fathers_learning_disability"],
    )  # fmt: skip
    def test_needs_raise_to_high(self, fam: Family, severity: Severity, fact: str | None) -> None:
        """Medium as before without needs; high with the child's SEND or EHCP or a parent's
        learning disability, naming it."""
        decisions = not_brought(fam)
        assert decisions
        assert {d.severity for d in decisions} == {severity}
        assert all((fact in d.facts) if fact else not NEED_FACTS & set(d.facts)
                   for d in decisions)  # fmt: skip


def withdrawal(reason: str, subject: str, fam: Family) -> list[Decision]:
    parsed = event(withdrawal_payload(reason=reason, source_org="mh-demo"))
    assert isinstance(parsed, ServiceWithdrawal)
    return route_withdrawal(parsed, replace(fam, subjects=(subject,)), ON)


class TestWithdrawal:
    def test_a_parent_with_a_learning_disability(self) -> None:
        """A service withdrawing from the father with a learning disability: every notice
        about him is medium, not low, and says why."""
        decisions = withdrawal("completed", "dad", household(dad=LD))
        about_dad = [d for d in decisions if d.about == ("dad",)]
        assert about_dad
        assert {d.severity for d in about_dad} == {Severity.MEDIUM}
        assert all(d.facts["parent_learning_disability"] is True for d in about_dad)

    def test_without_needs_as_before(self) -> None:
        """No needs: the withdrawal notices stay low."""
        decisions = withdrawal("completed", "dad", household())
        assert {d.severity for d in decisions} == {Severity.LOW}

    def test_a_disengaging_parents_child_with_an_ehcp(self) -> None:
        """A parent known to mental health disengages: the school of the child with an EHCP
        is told at high, with the fact; the brother's school notice stays medium."""
        decisions = withdrawal("non_engagement", "mum", household(kid=EHCP))
        school = {d.about: d for d in decisions if d.notice_type is NoticeType.SCHOOL_SUPPORT}
        assert school[("kid",)].severity is Severity.HIGH
        assert school[("kid",)].facts["child_has_ehcp"] is True
        assert school[("sib",)].severity is Severity.MEDIUM


class TestEducation:
    def test_the_directorys_ehcp_counts(self) -> None:
        """Home education for a child the directory holds an EHCP for is high and says so,
        though the school's declaration does not."""
        parsed = event(home_education_payload())
        assert isinstance(parsed, ElectiveHomeEducation)
        assert not parsed.has_ehcp
        kid = child("kid", years=9, school="school-oakfield", gp="gp-northgate", has_ehcp=True)
        fam = family(parent("mum"), kid, subject="kid")
        decisions = route_education(parsed, fam, PersonHistory(), ON, Thresholds())
        assert {d.severity for d in decisions} == {Severity.HIGH}
        assert all(d.facts["ehcp"] is True for d in decisions)


def sees(kind: NoticeType, fact: str, relation: Relation | None = None) -> bool:
    allowed = view_for(kind, relation).facts
    return allowed == EVERYTHING or fact in allowed


class TestWhoSeesNeeds:
    @pytest.mark.parametrize(
        ("kind", "relation", "send_ehcp", "learning_disability"),
        [(NoticeType.SCHOOL_SUPPORT, None, True, False),
         (NoticeType.GP_INFORMATION, Relation.SELF, True, True),
         (NoticeType.GP_INFORMATION, Relation.PARENT, True, False),
         (NoticeType.HEALTH_VISITING, None, True, True),
         (NoticeType.FRONT_DOOR_REFERRAL, None, True, True),
         (NoticeType.AGENCY_INFORMATION, None, True, False)],
        ids=["school", "own_gp", "third_party_gp", "health_team", "front_door", "agency"],
    )  # fmt: skip
    def test_each_reader_sees_what_it_may(
        self, kind: NoticeType, relation: Relation | None, send_ehcp: bool,
        learning_disability: bool,
    ) -> None:  # fmt: skip
        """A school knows its pupil's SEND or EHCP, not a parent's learning disability
        (health information: GPs, health teams, the front door); a practice told about a
        patient's parent sees the child's needs, not the parent's."""
        assert sees(kind, "child_has_send", relation) is send_ehcp
        assert sees(kind, "child_has_ehcp", relation) is send_ehcp
        assert sees(kind, "parent_learning_disability", relation) is learning_disability
