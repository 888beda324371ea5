"""What a publisher's word may change: the directory, and who is told. Pure: no I/O, no clock.

An event is a claim by its source. It may tell the organisations the directory already links
to the family (registrations, open involvements, plan owners, the front doors of the areas
where the family lives); it never chooses recipients of its own. A move or a step-down is a
proposal to change the directory:

- from an organisation with no link to the family it is refused (an unrelated school or GP
  could otherwise move any household away from its front door, or make itself a plan owner);
- from the family's own front door it is applied at once (the front door is who confirms);
- a move from a peer broker is applied at once too: it is the transfer of the family it
  carries, vouched for by the other partnership's front door (the peer verified and signed
  it), and the peer is never linked to the family in this directory, so without this every
  transfer in would tell the receiving front door its source is unlinked;
- from any other linked organisation it waits for the family's front door to confirm it,
  because it changes the household's area or the owners of a plan, or names a new school,
  GP or receiving authority: those are told only once the front door has confirmed.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from broker.rules import peer_areas
from broker.rules.fallback import NOBODY, nobody_to_tell
from broker.rules.family import Addressee, ContactRole, Decision, Family, OrgKind
from broker.rules.move import originating_front_door
from broker.rules.patterns import ORDER
from broker.rules.peers import receiving_front_door
from schemas.events import Event, FamilyMovingArea, ServiceWithdrawal
from schemas.notices import NoticeType, Severity

RULE = "proposal"


class ProposalKind(StrEnum):
    MOVE = "move"
    STEP_DOWN = "step_down"


class Verdict(StrEnum):
    APPLY = "applied"  # from the family's own front door
    AWAIT = "pending"  # from a linked organisation: the front door confirms or rejects it
    REFUSE = "refused"  # from an organisation the directory does not link to the family


@dataclass(frozen=True)
class Proposal:
    """A change to the directory that an event asks for, and the organisations it would
    newly link to the family (a receiving front door, a new school or GP, plan owners)."""

    kind: ProposalKind
    source_org: str
    front_door: str | None  # the family's front door: who confirms
    to_area: str | None = None  # a move's new area, when it changes the household's
    named_orgs: frozenset[str] = frozenset()
    about: tuple[str, ...] = ()


def linked_orgs(family: Family) -> frozenset[str]:
    """Every organisation the directory links to the family: each member's GP, school and
    health team, the agencies involved, the owners of the children's plans, and the front
    door, police force and integrated care board of every area where the family lives (the
    statutory safeguarding partners, as the directory has them: never an event's word)."""
    registered = {o for m in family.members for o in (m.gp, m.school, m.health_visiting) if o}
    involved = {o for m in family.members for o in m.involved}
    owners = {o for p in family.plans for o in (p.lead_org, *p.owner_orgs) if o}
    areas = {m.area for m in family.members if m.area} | ({family.area} if family.area else set())
    front_doors = {fd for a in areas if (fd := family.front_door(a))}
    partners = {o for a in areas for o in (family.police_force(a), family.icb(a)) if o}
    return frozenset(registered | involved | owners | front_doors | partners)


def proposal_for(event: Event, family: Family) -> Proposal | None:
    """The directory change the event asks for, if any."""
    if family.subject is None:
        return None
    if isinstance(event, FamilyMovingArea):
        return _move(event, family)
    if isinstance(event, ServiceWithdrawal) and event.step_down is not None:
        step_down = event.step_down
        owners = (step_down.lead_professional, *step_down.action_owners)
        return Proposal(ProposalKind.STEP_DOWN, event.source_org, family.front_door(),
                        named_orgs=frozenset(o.org_id for o in owners),
                        about=family.subjects)  # fmt: skip
    return None


def _move(event: FamilyMovingArea, family: Family) -> Proposal | None:
    homes = family.moving_households()
    areas = {m.area for m in family.members if m.household_id in homes and m.area}
    current = min(areas) if areas else family.area
    to_area = event.to_authority if event.to_authority not in (None, *areas) else None
    receiving = family.front_door(to_area) if to_area else None
    named = frozenset(o for o in (receiving, event.new_school, event.new_gp) if o)
    if to_area is None and not named:
        return None  # nothing in the directory would change, and nobody new is told
    about = tuple(m.person_id for m in family.movers()) or family.subjects
    return Proposal(ProposalKind.MOVE, event.source_org, family.front_door(current), to_area,
                    named, about)  # fmt: skip


def judge(proposal: Proposal, family: Family) -> Verdict:
    if _peer_transfer(proposal, family):
        return Verdict.APPLY
    if proposal.source_org not in linked_orgs(family):
        return Verdict.REFUSE
    if proposal.front_door is not None and proposal.source_org == proposal.front_door:
        return Verdict.APPLY
    return Verdict.AWAIT


def _peer_transfer(proposal: Proposal, family: Family) -> bool:
    """A peer broker's move: the transfer of the family it carries."""
    from_peer = family.org_kinds.get(proposal.source_org) is OrgKind.PEER_BROKER
    return from_peer and proposal.kind is ProposalKind.MOVE


def receiving_door(event: Event, family: Family) -> frozenset[str]:
    """A peer's transfer may tell the front door it transfers the family to, known or not
    (a family new here is linked to nobody yet)."""
    door = receiving_front_door(event, family)
    return frozenset({door}) if door else frozenset()


def stand_in_door(event: Event, family: Family) -> frozenset[str]:
    """A move's originating front door found by the event's word alone (the authority it says
    the family leaves, where the directory has no front door for the family): told of a move
    from an organisation linked to the family, lest the history be lost with nobody told."""
    if not isinstance(event, FamilyMovingArea) or event.source_org not in linked_orgs(family):
        return frozenset()
    found = originating_front_door(event, family)
    return frozenset({found[0]}) if found else frozenset()


def may_be_told(
    family: Family, proposal: Proposal | None, verdict: Verdict | None
) -> frozenset[str]:
    """The organisations this event's notices may go to: those linked to the family, and
    the ones a move or step-down names once it stands."""
    named = proposal.named_orgs if proposal and verdict is Verdict.APPLY else frozenset()
    return linked_orgs(family) | named


def split_by_recipient(
    decisions: Iterable[Decision], allowed: frozenset[str]
) -> tuple[list[Decision], list[Decision]]:
    """The decisions to send, and those withheld because their addressee is not allowed."""
    kept: list[Decision] = []
    withheld: list[Decision] = []
    for decision in decisions:
        (kept if decision.addressee.org_id in allowed else withheld).append(decision)
    return kept, withheld


def told_on_confirmation(decisions: Iterable[Decision], proposal: Proposal) -> list[Decision]:
    """What the front door's confirmation releases: the notices to the organisations the
    proposal named (the receiving front door, the new school and GP)."""
    return [d for d in decisions if d.addressee.org_id in proposal.named_orgs]


def front_door_notice(
    proposal: Proposal, verdict: Verdict, withheld: Sequence[Decision], area: str | None = None
) -> Decision | None:
    """Tells the family's front door of a proposal it must confirm, or of one refused as
    coming from an organisation with no link to the family (someone should look into it);
    with no front door for the family's ``area``, nobody, so that it is reported, never lost
    (rules/fallback.py)."""
    if verdict is Verdict.APPLY:
        return None
    severity = max((Severity.MEDIUM, *(d.severity for d in withheld)), key=ORDER.index)
    awaiting = verdict is Verdict.AWAIT
    facts: dict[str, str | int | bool] = {
        "proposal": proposal.kind.value,
        "proposed_by": proposal.source_org,
        "to_authority": proposal.to_area or "unchanged",
        "named_organisations": ",".join(sorted(proposal.named_orgs)),
        "awaiting_confirmation": awaiting,
        "notices_withheld": len(withheld),
    }
    rule_id = f"{RULE}.awaiting_confirmation" if awaiting else f"{RULE}.unlinked_source"
    if proposal.front_door is None:
        return nobody_to_tell(rule_id, NoticeType.FRONT_DOOR_REFERRAL, severity, proposal.about,
                              facts, area)  # fmt: skip
    return Decision(Addressee(proposal.front_door, ContactRole.DUTY_MANAGER),
                    NoticeType.FRONT_DOOR_REFERRAL, severity, rule_id, proposal.about,
                    facts)  # fmt: skip


@dataclass(frozen=True)
class Screened:
    """An event's decisions once screened: those to send, those withheld, and the
    directory change it proposes with what that proposal is worth."""

    decisions: list[Decision]
    withheld: list[Decision]
    proposal: Proposal | None = None
    verdict: Verdict | None = None


def screen(event: Event, family: Family, decisions: Sequence[Decision]) -> Screened:
    """Keeps the notices to organisations the family is linked to (and to those a proposal
    from its own front door names); adds the front door's notice of a proposal held for it
    or refused."""
    proposal = proposal_for(event, family)
    verdict = judge(proposal, family) if proposal else None
    allowed = may_be_told(family, proposal, verdict) | receiving_door(event, family)
    allowed |= {NOBODY} | stand_in_door(event, family)  # nothing silent (rules/fallback.py)
    allowed |= peer_areas.home_doors(family)  # standing in for a peer's front door
    kept, withheld = split_by_recipient(decisions, allowed)
    if proposal and verdict and (notice := front_door_notice(proposal, verdict, withheld,
                                                              family.area)):  # fmt: skip
        kept += peer_areas.kept_at_home([notice], family)
    return Screened(kept, withheld, proposal, verdict)
