"""A peer broker takes transfers only. Pure: no I/O, no clock.

The directory reaches an area a peer broker serves through that peer (``Family.front_doors``),
which is right for a move's transfer and for nothing else: the peer's gateway refuses any other
notice, so a referral addressed there would reach nobody. Every other notice the rules address
to a peer comes instead to this partnership's front door for an area the family lived in before
(it knew them, and can pass the concern on across the border), saying which area's front door
it stands in for; with none, to nobody, reported and parked (rules/fallback.py), never sent.
"""

from dataclasses import replace

from broker.rules.fallback import nobody_to_tell
from broker.rules.family import Addressee, ContactRole, Decision, Family, OrgKind
from broker.rules.table import Route
from schemas.notices import NoticeType, Severity

PEER_AREA = "area_served_by_peer"  # the area whose front door a peer broker is
ROUTES = (
    Route("*.peer_area", "a notice other than a transfer for the front door of an area a peer "
          "broker serves (the peer takes transfers only)", "this partnership's front door for "
          "an area the family lived in before, naming the area, to pass it on",
          NoticeType.FRONT_DOOR_REFERRAL, ContactRole.DUTY_MANAGER, tuple(Severity)),
)  # fmt: skip


def kept_at_home(decisions: list[Decision], family: Family) -> list[Decision]:
    """The decisions, none but transfers addressed to a peer broker."""
    return [_at_home(d, family) if _to_peer(d, family) else d for d in decisions]


def home_doors(family: Family) -> frozenset[str]:
    """This partnership's front doors for the areas the family lived in before (from its
    own chronology, never an event's word): those ``kept_at_home`` may address."""
    return frozenset(d for a in family.history.previous_areas if (d := own_front_door(family, a)))


def own_front_door(family: Family, area: str | None) -> str | None:
    """This partnership's own front door for the area; None where a peer serves it."""
    door = family.front_door(area) if area else None
    return door if door is not None and not _is_peer(door, family) else None


def _to_peer(decision: Decision, family: Family) -> bool:
    return decision.notice_type is not NoticeType.TRANSFER and _is_peer(
        decision.addressee.org_id, family
    )


def _is_peer(org_id: str, family: Family) -> bool:
    return family.org_kinds.get(org_id) is OrgKind.PEER_BROKER


def _at_home(decision: Decision, family: Family) -> Decision:
    peer = decision.addressee.org_id
    area = next((a for a, org in sorted(family.front_doors.items()) if org == peer), None)
    facts = {**decision.facts, PEER_AREA: area or "unknown"}
    # Newest first: the front door that knew the family last.
    earlier = reversed(family.history.previous_areas)
    door = next((d for a in earlier if (d := own_front_door(family, a))), None)
    # A referral to pass on, whatever the peer's front door would have had (as a fallback is).
    referral = NoticeType.FRONT_DOOR_REFERRAL
    if door is None:
        return nobody_to_tell(decision.rule_id, referral, decision.severity, decision.about,
                              facts, area)  # fmt: skip
    return replace(decision, addressee=Addressee(door, ContactRole.DUTY_MANAGER),
                   notice_type=referral, rule_id=f"{decision.rule_id}.peer_area",
                   facts=facts)  # fmt: skip
