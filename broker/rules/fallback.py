"""Nothing silent: a notice whose reader cannot be reached goes to the front door. Pure.

A school with no key adult registered, an under-five with no health visiting registration, a
recipient whose key cannot be sealed to: the notice is not dropped but sent, with the reason,
to the front door of the area where the children concerned live (or the family's own), whose
duty manager can make sure someone acts on it. The facts say why and who it was meant for,
and the routing service records the gap for the data-quality report.
"""

from broker.rules.family import Addressee, ContactRole, Decision, Family
from broker.rules.table import Route
from schemas.notices import NoticeType, Severity

FALLBACK_REASON = "fallback_reason"
INTENDED_FOR = "intended_for"
ROUTES = (
    Route("*.fallback", "nobody to receive a notice: an under-five with no health visiting "
          "registration, an area with no front door the broker knows", "the front door of the "
          "children's area (else the family's own), with the reason",
          NoticeType.FRONT_DOOR_REFERRAL, ContactRole.DUTY_MANAGER, tuple(Severity)),
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


def fallback_reason(decision: Decision) -> str | None:
    reason = decision.facts.get(FALLBACK_REASON)
    return str(reason) if reason else None


def _front_door_for(decision: Decision, family: Family) -> str | None:
    """The front door of the first person concerned who lives somewhere it has one."""
    for person_id in decision.about:
        person = family.person(person_id)
        if person and (door := family.front_door(person.area) if person.area else None):
            return door
    return family.front_door()
