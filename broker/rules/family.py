"""The plain data the rules decide over: a family as the directory knows it, and decisions.

No I/O here. A ``Family`` is everything routing needs about the people an event names: the
households they live in, each member's GP, school and health visiting team, the agencies
involved, and the front door of each local authority area.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from broker.rules.deadlines import WorkingHours
from schemas.notices import NoticeType, ProfessionalView, Severity


class OrgKind(StrEnum):
    SCHOOL = "school"
    GP_PRACTICE = "gp_practice"
    HEALTH_VISITING = "health_visiting"
    SCHOOL_NURSING = "school_nursing"
    FRONT_DOOR = "front_door"
    MENTAL_HEALTH = "mental_health"
    TALKING_THERAPY = "talking_therapy"
    EARLY_HELP = "early_help"
    ACUTE_TRUST = "acute_trust"
    POLICE = "police"
    HOUSING = "housing"
    ICB = "icb"  # integrated care board: health notices nobody acknowledged escalate here
    # Urgent treatment centres, walk-in centres and minor injury units; NHS 111: they see the
    # children an emergency department sees, and report attendances as it does.
    URGENT_CARE = "urgent_care"
    NHS_111 = "nhs_111"
    # The local authority's education service (attendance, children missing education, home
    # education): it publishes education events. Not a front door: it may not read
    # chronologies or the matching queue, as the front door's kind would let it.
    EDUCATION_SERVICE = "education_service"
    MATERNITY = "maternity"  # maternity services: a pregnancy's booking and concerns
    # Another partnership's broker: it receives transfers for the areas it serves, and sends
    # families moving in (broker.rules.peers).
    PEER_BROKER = "peer_broker"


class ContactRole(StrEnum):
    KEY_ADULT = "key_adult"
    DEPUTY_KEY_ADULT = "deputy_key_adult"
    SAFEGUARDING_LEAD = "safeguarding_lead"
    DUTY_MANAGER = "duty_manager"
    EDUCATION_SAFEGUARDING_OFFICER = "education_safeguarding_officer"
    EMERGENCY_DUTY = "emergency_duty_team"  # the authority's out-of-hours service (EDT)
    DESIGNATED_SAFEGUARDING = "designated_safeguarding"  # an ICB's designated professionals


class HouseholdRole(StrEnum):
    PARENT_OR_CARER = "parent_or_carer"
    CHILD = "child"


@dataclass(frozen=True)
class Member:
    person_id: str
    role: HouseholdRole
    household_id: str
    date_of_birth: date | None = None
    gp: str | None = None
    school: str | None = None
    health_visiting: str | None = None
    involved: tuple[str, ...] = ()
    area: str | None = None
    unborn: bool = False  # a child not yet born, expected on ``expected_on``
    expected_on: date | None = None
    # Additional needs (the directory's): a child's SEND or education, health and care plan,
    # a parent's learning disability. They raise was-not-brought and withdrawal notices.
    has_send: bool = False
    has_ehcp: bool = False
    learning_disability: bool = False

    def age_in_years(self, on: date) -> int | None:
        if self.date_of_birth is None:
            return None
        born = self.date_of_birth
        return on.year - born.year - ((on.month, on.day) < (born.month, born.day))

    def age_in_months(self, on: date) -> int | None:
        if self.date_of_birth is None:
            return None
        born = self.date_of_birth
        return (on.year - born.year) * 12 + on.month - born.month - (on.day < born.day)


@dataclass(frozen=True)
class Tie:
    """A family tie that holds wherever people live: ``parent_of`` (a parent or carer to a
    child, with or without parental responsibility) or ``sibling_of``."""

    person_id: str
    kind: str  # parent_of | sibling_of
    related_person_id: str
    parental_responsibility: bool | None = None


@dataclass(frozen=True)
class PlanView:
    """A plan as routing needs it: whose, what kind, when, and who owns it."""

    plan_id: str
    person_id: str
    kind: str
    started_on: date
    ended_on: date | None = None
    step_down_until: date | None = None
    lead_org: str | None = None
    owner_orgs: tuple[str, ...] = ()
    # What the plan's owners act on: who leads it and how to reach them, each action owner's
    # action, what to do if concerns return (a step-down's plan, or the directory's).
    lead: ProfessionalView | None = None
    action_owners: tuple[ProfessionalView, ...] = ()
    if_concerns_return: str | None = None

    def is_open(self, on: date) -> bool:
        return self.started_on <= on and (self.ended_on is None or self.ended_on >= on)

    def in_step_down_window(self, on: date) -> bool:
        return self.step_down_until is not None and self.started_on <= on <= self.step_down_until


# The notices by which the front door itself hears of an event (in or out of its hours).
FRONT_DOOR_TYPES = frozenset({NoticeType.FRONT_DOOR_REFERRAL, NoticeType.OUT_OF_HOURS})

# A chronology signal: the event was a planned ending (work completed, a step-down), news for
# the other agencies but not a concern, so accumulation does not count it.
NOT_A_CONCERN = "not_a_concern"


@dataclass(frozen=True)
class PastEvent:
    """An earlier event about the household, as the chronology recorded it."""

    at: datetime
    event_type: str
    signals: frozenset[str] = frozenset()
    event_id: str = ""


@dataclass(frozen=True)
class PastNotice:
    at: datetime
    event_id: str
    severity: Severity
    notice_type: NoticeType
    rule_id: str = ""


@dataclass(frozen=True)
class HouseholdHistory:
    """What the broker already knows about the family's households, oldest first."""

    events: tuple[PastEvent, ...] = ()
    notices: tuple[PastNotice, ...] = ()
    previous_areas: tuple[str, ...] = ()

    def signals_since(self, start: datetime) -> frozenset[str]:
        return frozenset().union(*(e.signals for e in self.events if e.at >= start))

    def concerns_since(self, start: datetime) -> int:
        """Earlier events since ``start`` that were concerns: each sent notices, none of them
        a HIGH referral to the front door (that one reached the front door on its own; a
        pattern raised to HIGH by a child's or parent's needs did not), and was no planned
        ending."""
        planned = {e.event_id for e in self.events if NOT_A_CONCERN in e.signals}
        by_event: dict[str, bool] = {}
        for n in self.notices:
            if n.at >= start and n.event_id not in planned:
                referred = n.severity is Severity.HIGH and n.notice_type in FRONT_DOOR_TYPES
                by_event[n.event_id] = by_event.get(n.event_id, False) or referred
        return sum(1 for referred in by_event.values() if not referred)

    def since(self, start: datetime) -> "HouseholdHistory":
        return HouseholdHistory(
            events=tuple(e for e in self.events if e.at >= start),
            notices=tuple(n for n in self.notices if n.at >= start),
            previous_areas=self.previous_areas,
        )


@dataclass(frozen=True)
class Family:
    """The households of the people an event names, merged ("think family")."""

    subjects: tuple[str, ...]
    members: tuple[Member, ...]
    area: str | None
    front_doors: Mapping[str, str] = field(default_factory=dict)
    org_kinds: Mapping[str, OrgKind] = field(default_factory=dict)
    plans: tuple[PlanView, ...] = ()
    history: HouseholdHistory = field(default_factory=lambda: HouseholdHistory())
    org_lines: Mapping[str, str] = field(default_factory=dict)
    unmatched: tuple[str, ...] = ()  # ids of people the event named whom nobody knows yet
    ties: tuple[Tie, ...] = ()
    working_hours: Mapping[str, WorkingHours] = field(default_factory=dict)  # by organisation
    icbs: Mapping[str, str] = field(default_factory=dict)  # area -> integrated care board
    police: Mapping[str, str] = field(default_factory=dict)  # area -> police force

    def person(self, person_id: str) -> Member | None:
        return next((m for m in self.members if m.person_id == person_id), None)

    @property
    def subject(self) -> Member | None:
        return self.person(self.subjects[0]) if self.subjects else None

    @property
    def children(self) -> tuple[Member, ...]:
        return unique(m for m in self.members if m.role is HouseholdRole.CHILD)

    @property
    def parents(self) -> tuple[Member, ...]:
        return unique(m for m in self.members if m.role is HouseholdRole.PARENT_OR_CARER)

    def households_of(self, person_id: str) -> frozenset[str]:
        """The person's homes. Someone the directory knows only by a tie is placed in no
        household (an empty id): that is no home, and nobody shares it."""
        return frozenset(
            m.household_id for m in self.members if m.person_id == person_id and m.household_id
        )

    def children_of(self, person_id: str) -> tuple[Member, ...]:
        """This person's children wherever they live ("think family"): the children in any
        of the person's households, and any child the person is a parent or carer of."""
        homes = self.households_of(person_id)
        linked = {t.related_person_id for t in self._ties("parent_of") if t.person_id == person_id}
        return unique(
            m
            for m in self.members
            if m.role is HouseholdRole.CHILD
            and (m.household_id in homes or m.person_id in linked)
            and m.person_id != person_id
        )

    def parents_of(self, child_id: str) -> tuple[Member, ...]:
        """The child's parents and carers: those the child lives with, and those the
        directory ties to the child wherever they live."""
        homes = self.households_of(child_id)
        linked = {t.person_id for t in self._ties("parent_of") if t.related_person_id == child_id}
        return unique(
            m
            for m in self.members
            if m.person_id != child_id
            and (
                m.person_id in linked
                or (m.role is HouseholdRole.PARENT_OR_CARER and m.household_id in homes)
            )
        )

    def other_parents(self, person_id: str) -> tuple[Member, ...]:
        """The other parents or carers of this person's children, wherever they live."""
        return unique(
            parent
            for child in self.children_of(person_id)
            for parent in self.parents_of(child.person_id)
            if parent.person_id != person_id
        )

    def siblings_of(self, child_id: str) -> tuple[Member, ...]:
        """Brothers and sisters wherever they live: children who share a home or a parent
        with this child, or whom the directory ties to it as siblings."""
        homes = self.households_of(child_id)
        parents = {p.person_id for p in self.parents_of(child_id)}
        stated = {
            other
            for t in self._ties("sibling_of")
            for one, other in ((t.person_id, t.related_person_id),
                               (t.related_person_id, t.person_id))
            if one == child_id
        }  # fmt: skip
        return unique(
            m
            for m in self.members
            if m.role is HouseholdRole.CHILD
            and m.person_id != child_id
            and (
                m.household_id in homes
                or m.person_id in stated
                or parents & {p.person_id for p in self.parents_of(m.person_id)}
            )
        )

    def moving_households(self) -> frozenset[str]:
        """The homes a move of the named people takes with it: the named parents' and
        carers' (the named children's when no adult is named). A child's other home, where
        a parent stays, does not move, nor does the home of a child whose parent moves alone."""
        named = [m for m in self.members if m.person_id in self.subjects and m.household_id]
        adults = [m for m in named if m.role is HouseholdRole.PARENT_OR_CARER]
        return frozenset(m.household_id for m in adults or named)

    def movers(self) -> tuple[Member, ...]:
        """Who moves: the named people and everyone living in the homes that move."""
        homes = self.moving_households()
        return unique(
            m for m in self.members if m.household_id in homes or m.person_id in self.subjects
        )

    def _ties(self, kind: str) -> tuple[Tie, ...]:
        return tuple(t for t in self.ties if t.kind == kind)

    def front_door(self, area: str | None = None) -> str | None:
        return self.front_doors.get(area or self.area or "")

    def police_force(self, area: str | None = None) -> str | None:
        """The police force of the area (by default the family's own), if known."""
        return self.police.get(area or self.area or "")

    def icb(self, area: str | None = None) -> str | None:
        """The integrated care board of the area (by default the family's own), if known."""
        return self.icbs.get(area or self.area or "")

    def children_areas(self, person_id: str) -> tuple[str, ...]:
        """Every area where this person's children live (a child may live in two homes in two
        areas), or the family's area."""
        children = {c.person_id for c in self.children_of(person_id)}
        areas = dict.fromkeys(m.area for m in self.members if m.person_id in children and m.area)
        return tuple(areas) or ((self.area,) if self.area else ())

    def open_plans(self, on: date) -> tuple[PlanView, ...]:
        return tuple(p for p in self.plans if p.is_open(on))


def unique(members: Iterable[Member]) -> tuple[Member, ...]:
    """Each person once (a child in two households appears once per household)."""
    seen: dict[str, Member] = {}
    for member in members:
        seen.setdefault(member.person_id, member)
    return tuple(seen.values())


@dataclass(frozen=True)
class Addressee:
    org_id: str
    role: ContactRole


@dataclass(frozen=True)
class Decision:
    """One notice the rules want sent: to whom, what kind, how urgent, why, about whom."""

    addressee: Addressee
    notice_type: NoticeType
    severity: Severity
    rule_id: str
    about: tuple[str, ...]
    facts: Mapping[str, str | int | bool] = field(default_factory=dict)
