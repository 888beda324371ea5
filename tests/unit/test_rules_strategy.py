"""Strategy-discussion triggers: an injury to a baby not yet mobile, a threat to kill a child,
or repeated front-door referrals prompt the front door to convene one the same day, and tell
police and health partners that one is being convened. Through ``decide``, as routing calls
it."""

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.rules.family import ContactRole, Decision, Family, HouseholdHistory
from broker.rules.history import PersonHistory
from broker.rules.routing import decide
from broker.rules.strategy import CONVENE
from broker.rules.thresholds import Thresholds
from schemas.notices import NoticeType, Severity
from unit.builders import (
    AREA,
    RECEIVED,
    child,
    crisis_payload,
    ed_payload,
    event,
    family,
    incident_family,
    incident_payload,
    parent,
    past_notices,
    with_context,
)

POLICE, ICB = "police-demo", "icb-demo"


def carters(**known: Any) -> Family:
    """Mum (the subject), dad, a pupil and a baby; police and the ICB of the area known."""
    baby = child("baby", years=0, months=4, health_visiting="hv-demo", gp="gp-northgate")
    fam = family(parent("mum", gp="gp-riverside"), parent("dad", gp="gp-hillview"),
                 child("pupil", school="school-oakfield", gp="gp-northgate"), baby)  # fmt: skip
    return replace(fam, police={AREA: POLICE}, icbs={AREA: ICB}, **known)


def the_baby(**known: Any) -> Family:
    return replace(carters(**known), subjects=("baby",))


def referrals(decisions: list[Decision]) -> list[Decision]:
    return [d for d in decisions if d.notice_type is NoticeType.FRONT_DOOR_REFERRAL]


def partners(decisions: list[Decision]) -> set[tuple[str, ContactRole]]:
    return {(d.addressee.org_id, d.addressee.role) for d in decisions
            if d.notice_type is NoticeType.STRATEGY_DISCUSSION}  # fmt: skip


def referred_before(*referrals: tuple[int, str], now: datetime = RECEIVED) -> HouseholdHistory:
    """Front-door referrals of earlier events, each ``(days before now, rule)``."""
    notices = tuple(
        replace(n, rule_id=f"{rule}.front_door")
        for i, (days, rule) in enumerate(referrals)
        for n in past_notices(f"earlier-{i}", days, Severity.MEDIUM,
                              notice_type=NoticeType.FRONT_DOOR_REFERRAL, before=now)
    )  # fmt: skip
    return HouseholdHistory(notices=notices)


EVERYONE = {(POLICE, ContactRole.SAFEGUARDING_LEAD), (ICB, ContactRole.DESIGNATED_SAFEGUARDING)}


class TestTriggers:
    @pytest.mark.parametrize(
        ("name", "payload", "fam", "reasons"),
        [
            ("an injury to a baby not yet mobile", ed_payload(subject={"local_id": "baby"}),
             the_baby(), "injury_to_non_mobile_baby"),
            ("a parent threatening to kill a child", crisis_payload(threats_to_kill_a_child=True),
             carters(), "threat_to_kill_a_child"),
            ("a crisis after a domestic abuse incident and accumulated concerns",
             crisis_payload(suicidal_ideation=True),
             with_context(carters(), history=referred_before((3, "domestic_abuse"),
                                                              (25, "accumulation"))),
             "several_thresholds"),
        ],
    )  # fmt: skip
    def test_each_asks_the_front_door_and_tells_police_and_health(
        self, name: str, payload: dict[str, Any], fam: Family, reasons: str
    ) -> None:
        """The referral is HIGH and asks for a strategy discussion, naming why; the area's
        police and the ICB's designated professionals are told one is being convened."""
        decisions = decide(event(payload), fam, PersonHistory(), RECEIVED)
        [referral] = referrals(decisions)
        assert referral.severity is Severity.HIGH
        assert referral.facts[CONVENE] is True
        assert referral.facts["strategy_discussion_reasons"] == reasons
        assert partners(decisions) == EVERYONE

    def test_a_standard_risk_incident_with_a_threat_to_kill_a_child_is_referred(self) -> None:
        """Police rate the incident standard (no front door on its own), but a threat to kill
        a child calls for a strategy discussion: the front door is referred, HIGH."""
        fam = replace(incident_family(*carters().members, children=("pupil",)),
                      police={AREA: POLICE}, icbs={AREA: ICB})  # fmt: skip
        incident = event(incident_payload(((True, "same_room"),), "standard",
                                          threats_to_kill_a_child=True))  # fmt: skip
        decisions = decide(incident, fam, PersonHistory(), RECEIVED)
        [referral] = referrals(decisions)
        assert referral.severity is Severity.HIGH
        assert referral.rule_id == "strategy_discussion.front_door"
        assert partners(decisions) == EVERYONE


class TestNotTriggered:
    @pytest.mark.parametrize(
        ("name", "earlier"),
        [
            ("two other rules, but 31 and 60 days ago", ((31, "domestic_abuse"),
                                                         (60, "accumulation"))),
            ("the same rule three times", ((3, "crisis"), (10, "crisis"))),
            ("three rules, the crisis among them already", ((3, "crisis"), (5, "domestic_abuse"),
                                                            (9, "accumulation"))),
        ],
    )  # fmt: skip
    def test_no_new_threshold_in_the_window_is_no_trigger(
        self, name: str, earlier: tuple[tuple[int, str], ...]
    ) -> None:
        """Old referrals, the same threshold again, or nothing the window had not seen: the
        crisis is referred as usual, with no strategy discussion."""
        fam = with_context(carters(), history=referred_before(*earlier))
        decisions = decide(event(crisis_payload(suicidal_ideation=True)), fam, PersonHistory(),
                           RECEIVED)  # fmt: skip
        assert CONVENE not in referrals(decisions)[0].facts
        assert partners(decisions) == set()

    def test_the_facts_name_the_thresholds_and_the_window(self) -> None:
        fam = with_context(carters(), history=referred_before((3, "domestic_abuse"),
                                                              (25, "accumulation")))  # fmt: skip
        decisions = decide(event(crisis_payload(suicidal_ideation=True)), fam, PersonHistory(),
                           RECEIVED)  # fmt: skip
        facts = referrals(decisions)[0].facts
        assert facts["thresholds_crossed"] == "accumulation,crisis,domestic_abuse"
        assert facts["thresholds_window_days"] == 30

    def test_an_injury_to_a_walking_child_is_not_one(self) -> None:
        """A school-age child's injury is no trigger (and, once, tells nobody)."""
        fam = replace(carters(), subjects=("pupil",))
        assert partners(decide(event(ed_payload(subject={"local_id": "pupil"})), fam,
                               PersonHistory(), RECEIVED)) == set()  # fmt: skip

    def test_with_no_police_or_icb_known_only_the_front_door_convenes(self) -> None:
        """Nobody is invented: the referral still asks for the discussion."""
        fam = replace(carters(), police={}, icbs={})
        decisions = decide(event(crisis_payload(threats_to_kill_a_child=True)), fam,
                           PersonHistory(), RECEIVED)  # fmt: skip
        assert referrals(decisions)[0].facts[CONVENE] is True
        assert partners(decisions) == set()


RULES = ("crisis", "domestic_abuse", "accumulation", "repeated_crises", "was_not_brought")


class TestProperties:
    @given(threat=st.booleans(), suicidal=st.booleans(), minute=st.integers(0, 60 * 24 * 7),
           earlier=st.lists(st.tuples(st.integers(0, 90), st.sampled_from(RULES)),
                            max_size=4))  # fmt: skip
    def test_partners_are_told_exactly_when_a_referral_convenes(
        self, threat: bool, suicidal: bool, minute: int, earlier: list[tuple[int, str]]
    ) -> None:
        """Police and health hear of a strategy discussion iff a front-door referral asks
        for one; every such referral is HIGH; no school notice carries it; without a threat,
        only a referral that brings the window's different rules to three asks for one."""
        received = RECEIVED.replace(hour=0) + timedelta(minutes=minute)
        fam = with_context(carters(), history=referred_before(*earlier, now=received))
        payload = crisis_payload(threats_to_kill_a_child=threat, suicidal_ideation=suicidal)
        decisions = decide(event(payload), fam, PersonHistory(), received)
        convening = [d for d in referrals(decisions) if d.facts.get(CONVENE)]
        assert bool(partners(decisions)) == bool(convening)
        assert all(d.severity is Severity.HIGH for d in convening)
        schools = [d for d in decisions if d.notice_type is NoticeType.SCHOOL_SUPPORT]
        assert not any(CONVENE in d.facts for d in schools)
        window = Thresholds().strategy_window
        seen = {rule for days, rule in earlier if timedelta(days=days) <= window}
        if not threat and (not referrals(decisions) or len(seen | {"crisis"}) < 3
                           or "crisis" in seen):  # fmt: skip
            assert not convening
