"""Nothing silent: a notice whose reader cannot be reached goes to the front door. Pure.

A school with no key adult registered, an under-five with no health visiting registration, a
recipient whose key cannot be sealed to: the notice is not dropped but sent, with the reason,
to the front door of the area where the children concerned live (or the family's own), whose
duty manager can make sure someone acts on it. The facts say why and who it was meant for,
and the routing service records the gap for the data-quality report.

When no front door can be found at all (the family's areas and the authority the event names
have none in the directory), the decision is not dropped either: it is kept, addressed to
nobody (``nobody_to_tell``), and routing dead-letters it and reports the gap with the
authority code (services/sealing.py), so that the data-quality report and the dead-letter
topic both show it. A rule returns such a decision where it would otherwise return nothing.
"""

from collections.abc import Mapping

from broker.rules.family import Addressee, ContactRole, Decision, Family, OrgKind
from broker.rules.table import Route
from schemas.notices import NoticeType, Severity

FALLBACK_REASON = "fallback_reason"
INTENDED_FOR = "intended_for"
# The authority code whose front door the directory lacks, on a decision addressed to nobody.
NO_FRONT_DOOR = "no_front_door"
# The organisation id such a decision is addressed to: empty, which no organisation's id is
# (the directory refuses an empty id), so that no contact can ever match it.
NOBODY = ""
NO_FRONT_DOOR_WHO = ("nobody can be: the notice is dead-lettered and the data-quality report "
                     "names the authority whose front door is missing")  # fmt: skip
ROUTES = (
    Route("*.fallback", "nobody to receive a notice: an under-five with no health visiting "
          "registration, an area with no front door the broker knows", "the front door of the "
          "children's area (else the family's own), with the reason",
          NoticeType.FRONT_DOOR_REFERRAL, ContactRole.DUTY_MANAGER, tuple(Severity)),
    Route("*.no_front_door", "a front door's referral, or a stand-in for a reader nobody "
          "could reach, where no area of the family has a front door in the directory",
          NO_FRONT_DOOR_WHO, NoticeType.FRONT_DOOR_REFERRAL, ContactRole.DUTY_MANAGER,
          tuple(Severity)),
)  # fmt: skip
# Who at an organisation reads a notice when the role it was meant for has no contact there,
# in order: a school's key adult is its designated safeguarding lead.
FALLBACK_ROLES = (ContactRole.SAFEGUARDING_LEAD, ContactRole.KEY_ADULT, ContactRole.DUTY_MANAGER)


def to_front_door(decision: Decision, family: Family, reason: str) -> Decision | None:
    """The decision re-addressed to the front door; None when there is no front door left to
    try (the decision was for that front door already, or was an out-of-hours alert beside
    its front door's own referral, or the family's areas have none)."""
    if decision.notice_type is NoticeType.OUT_OF_HOURS:
        return None  # its front door has the referral it stands beside
    door = _front_door_for(decision, family)
    if door is None or door == decision.addressee.org_id:
        return None
    facts = {**decision.facts, FALLBACK_REASON: reason, INTENDED_FOR: decision.addressee.org_id}
    return Decision(
        Addressee(door, ContactRole.DUTY_MANAGER),
        NoticeType.FRONT_DOOR_REFERRAL,
        decision.severity,
        f"{decision.rule_id}.fallback",
        decision.about,
        facts,
    )


def nobody_to_tell(
    rule_id: str, notice_type: NoticeType, severity: Severity, about: tuple[str, ...],
    facts: Mapping[str, str | int | bool], area: str | None,
) -> Decision:  # fmt: skip
    """The decision a rule keeps when no front door can be found for ``area`` (None: the
    family has no area at all): addressed to nobody, so that it is reported and parked, never
    dropped."""
    missing = {**facts, NO_FRONT_DOOR: area or "unknown"}
    return Decision(Addressee(NOBODY, ContactRole.DUTY_MANAGER), notice_type, severity,
                    f"{rule_id}.no_front_door", about, missing)  # fmt: skip


def missing_front_door(decision: Decision) -> str | None:
    """The authority code whose front door is missing, for a decision addressed to nobody;
    None for any other decision."""
    if decision.addressee.org_id != NOBODY or NO_FRONT_DOOR not in decision.facts:
        return None
    return str(decision.facts[NO_FRONT_DOOR])


def fallback_reason(decision: Decision) -> str | None:
    reason = decision.facts.get(FALLBACK_REASON)
    return str(reason) if reason else None


def _front_door_for(decision: Decision, family: Family) -> str | None:
    """The front door of the first person concerned who lives somewhere it has one of its
    own (a peer broker's takes transfers only: rules/peer_areas.py)."""
    for person_id in decision.about:
        person = family.person(person_id)
        if person and (door := _own(family, person.area)):
            return door
    return _own(family, family.area)


def _own(family: Family, area: str | None) -> str | None:
    door = family.front_door(area) if area else None
    return door if door and family.org_kinds.get(door) is not OrgKind.PEER_BROKER else None
