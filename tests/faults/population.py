"""A partnership of many households for the fault tests, its events, and what each must produce.

Every household has the demo family's shape (two parents, a school-age child, a young child
under health visiting), spread over several schools, GP practices, health visiting teams and
mental health services, so that events land on every partition of the events topic and
notices on every partition of the notices topic. Each household gets exactly one event: with
no history, what it must produce depends on the directory alone, and the expectation is the
pure rules (``broker.rules.routing.decide``) run over a ``Family`` built here from the same
spec, not anything the system under test computes or stores.
"""

import random
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from broker.rules.escalation import escalation_chain, follow_up_rule, reroute_target
from broker.rules.family import Decision, Family, HouseholdRole, Member, OrgKind
from broker.rules.history import PersonHistory
from broker.rules.out_of_hours import front_door_open
from broker.rules.routing import decide
from producers import crypto
from schemas.directory import (
    ContactSpec,
    DirectorySpec,
    HouseholdMemberSpec,
    HouseholdSpec,
    InvolvementSpec,
    OrganisationSpec,
    PersonSpec,
    RegistrationSpec,
    SigningKeySpec,
    Term,
)
from schemas.events import (
    Event,
    ParentMentalHealthCrisis,
    PersonRef,
    ServiceWithdrawal,
    WithdrawalReason,
)
from schemas.nhs import check_digit
from schemas.notices import FollowUp, NoticeType

AREA = "E09000099"
FRONT_DOOR = "fd-demo"
ROLES = {
    "front_door": (
        "duty_manager",
        "safeguarding_lead",
        "education_safeguarding_officer",
        "emergency_duty_team",
    ),
    "school": ("key_adult", "deputy_key_adult"),
}

WEBHOOK_CONTACTS = ("school-", "hv-")  # the schools' and health visiting teams' contacts

# (event id, recipient contact id, rule id, the key of the notice it follows or None)
NoticeKey = tuple[str, str, str, "NoticeKey | None"]


@dataclass(frozen=True)
class Shape:
    """How many of each organisation the partnership has; ``others`` are further
    organisations as (id, kind, area), such as a neighbouring authority's front door."""

    schools: int = 8
    gp_practices: int = 8
    health_visiting: int = 3
    mental_health: int = 2
    others: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class Household:
    id: str
    mother: PersonSpec
    father: PersonSpec
    pupil: PersonSpec
    young_child: PersonSpec
    gps: dict[str, str]  # person id -> practice
    school: str
    health_visiting: str
    mental_health: str


@dataclass
class Population:
    """The directory spec with its keys, and each household waiting for its one event."""

    spec: DirectorySpec
    households: list[Household]
    recipient_keys: dict[str, X25519PrivateKey]
    producer_keys: dict[str, Ed25519PrivateKey]
    today: date
    contacts: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.contacts = {(c.org_id, c.role): c.id for c in self.spec.contacts}


class NhsNumbers:
    """Distinct valid NHS numbers from the 999 test range."""

    def __init__(self, rng: random.Random) -> None:
        self._rng, self._seen = rng, set[str]()

    def next(self) -> str:
        while True:
            first = "999" + f"{self._rng.randrange(10**6):06d}"
            digit = check_digit(first)
            if digit is not None and first not in self._seen:
                self._seen.add(first)
                return f"{first}{digit}"


def build(
    households: int,
    seed: int = 5,
    today: date | None = None,
    webhook_url: Callable[[str], str] | None = None,
    shape: Shape = Shape(),
) -> Population:
    """``households`` households; with ``webhook_url``, the schools and the health visiting
    teams take their notices by webhook as well, at the URL it gives for each contact."""
    rng = random.Random(seed)
    today = today or datetime.now(UTC).date()
    orgs = _organisations(today, shape)
    # Keys from the seed as well, so that the same seed always makes the same directory.
    recipient_keys = {
        f"{org.id}:{role}": X25519PrivateKey.from_private_bytes(rng.randbytes(32))
        for org in orgs
        for role in ROLES.get(org.kind, ("safeguarding_lead",))
    }
    producer_keys = {
        org.id: Ed25519PrivateKey.from_private_bytes(rng.randbytes(32)) for org in orgs
    }
    orgs = [
        org.model_copy(
            update={
                "signing_keys": (
                    SigningKeySpec(
                        public_key=crypto.encode_public(producer_keys[org.id].public_key())
                    ),
                )
            }
        )
        for org in orgs
    ]
    contacts = [
        ContactSpec(
            id=cid,
            org_id=cid.split(":")[0],
            role=cid.split(":")[1],
            hpke_public_key=crypto.encode_public(key.public_key()),
            webhook_url=webhook_url(cid)
            if webhook_url and cid.startswith(WEBHOOK_CONTACTS)
            else None,
        )
        for cid, key in recipient_keys.items()
    ]
    numbers = NhsNumbers(rng)
    homes = [_household(i, rng, numbers, today, shape) for i in range(households)]
    spec = DirectorySpec(
        organisations=tuple(orgs),
        contacts=tuple(contacts),
        people=tuple(p for h in homes for p in (h.mother, h.father, h.pupil, h.young_child)),
        households=tuple(
            HouseholdSpec(
                id=h.id,
                area=AREA,
                members=(
                    HouseholdMemberSpec(person_id=h.mother.id, role="parent_or_carer"),
                    HouseholdMemberSpec(person_id=h.father.id, role="parent_or_carer"),
                    HouseholdMemberSpec(person_id=h.pupil.id, role="child"),
                    HouseholdMemberSpec(person_id=h.young_child.id, role="child"),
                ),
            )
            for h in homes
        ),
        registrations=tuple(
            r
            for h in homes
            for r in (
                *(RegistrationSpec(person_id=p, kind="gp", org_id=gp) for p, gp in h.gps.items()),
                RegistrationSpec(person_id=h.pupil.id, kind="school", org_id=h.school),
                RegistrationSpec(
                    person_id=h.young_child.id, kind="health_team", org_id=h.health_visiting
                ),
            )
        ),
        involvements=tuple(
            InvolvementSpec(
                person_id=h.mother.id, org_id=h.mental_health, opened_on=today - timedelta(days=400)
            )
            for h in homes
        ),
    )
    return Population(spec, homes, recipient_keys, producer_keys, today)


def _organisations(today: date, shape: Shape) -> list[OrganisationSpec]:
    """Every school's term starts in two days' time, so that no school notice falls due (and
    escalates) while a fault runs, whatever the day and hour: only GP notices do, by design."""
    term = Term(starts_on=today + timedelta(days=2), ends_on=today + timedelta(days=200))
    kinds = [(FRONT_DOOR, "front_door", AREA)]
    kinds += [(f"school-{i}", "school", AREA) for i in range(shape.schools)]
    kinds += [(f"gp-{i}", "gp_practice", AREA) for i in range(shape.gp_practices)]
    kinds += [(f"hv-{i}", "health_visiting", AREA) for i in range(shape.health_visiting)]
    kinds += [(f"mh-{i}", "mental_health", AREA) for i in range(shape.mental_health)]
    return [
        OrganisationSpec(
            id=org,
            name=f"Organisation {org}",
            kind=kind,
            area=area,
            session_start=time(8, 45) if kind == "school" else None,
            terms=(term,) if kind == "school" else (),
        )
        for org, kind, area in [*kinds, *shape.others]
    ]


def _household(
    i: int, rng: random.Random, numbers: NhsNumbers, today: date, shape: Shape
) -> Household:
    def person(role: str, days_old: int) -> PersonSpec:
        return PersonSpec(
            id=f"p{i}-{role}",
            nhs_number=numbers.next(),
            given_name="Test",
            family_name=f"Family{i}",
            date_of_birth=today - timedelta(days=days_old),
        )

    mother = person("mother", rng.randrange(25 * 365, 40 * 365))
    father = person("father", rng.randrange(25 * 365, 45 * 365))
    pupil = person("pupil", rng.randrange(6 * 365 + 30, 10 * 365))
    # Half the young children are babies (a high-risk signal in a parent's crisis).
    young = person("young", rng.choice((rng.randrange(60, 300), rng.randrange(500, 1000))))
    children_gp = f"gp-{rng.randrange(shape.gp_practices)}"
    return Household(
        id=f"h{i}",
        mother=mother,
        father=father,
        pupil=pupil,
        young_child=young,
        gps={
            mother.id: f"gp-{rng.randrange(shape.gp_practices)}",
            father.id: f"gp-{rng.randrange(shape.gp_practices)}",
            pupil.id: children_gp,
            young.id: children_gp,
        },
        school=f"school-{rng.randrange(shape.schools)}",
        health_visiting=f"hv-{rng.randrange(shape.health_visiting)}",
        mental_health=f"mh-{rng.randrange(shape.mental_health)}",
    )


def event_for(home: Household, rng: random.Random, now: datetime) -> Event:
    """The household's one event: the mother in crisis, or her mental health service
    withdrawing, with flags and reasons varied so severities and fan-outs differ."""
    envelope = {
        "event_id": uuid.uuid4(),
        "source_org": home.mental_health,
        "occurred_at": now - timedelta(minutes=rng.randrange(5, 600)),
        "correlation_id": uuid.uuid4(),
    }
    mother = PersonRef(nhs_number=home.mother.nhs_number)
    if rng.random() < 0.7:
        flags = ("admitted", "suicidal_ideation", "domestic_abuse", "substance_misuse")
        young = PersonRef(nhs_number=home.young_child.nhs_number)
        return ParentMentalHealthCrisis(
            event_type="parent_mental_health_crisis",
            **envelope,
            subject=mother,
            **{flag: rng.random() < 0.3 for flag in flags},
            children_present=(young,) if rng.random() < 0.3 else (),
        )
    reason = rng.choice([r for r in WithdrawalReason if r is not WithdrawalReason.STEPPED_DOWN])
    return ServiceWithdrawal(
        event_type="service_withdrawal",
        **envelope,
        subject=mother,
        service="Community mental health",
        reason=reason,
        withdrawn_on=now.date(),
    )


def family_of(population: Population, home: Household, event: Event) -> Family:
    """The family as the rules must see it, from the directory spec."""
    by_nhs = {p.nhs_number: p.id for p in (home.mother, home.father, home.pupil, home.young_child)}

    def member(spec: PersonSpec, role: HouseholdRole) -> Member:
        return Member(
            person_id=spec.id,
            role=role,
            household_id=home.id,
            date_of_birth=spec.date_of_birth,
            gp=home.gps[spec.id],
            school=home.school if spec is home.pupil else None,
            health_visiting=home.health_visiting if spec is home.young_child else None,
            involved=(home.mental_health,) if spec is home.mother else (),
            area=AREA,
        )

    parent, child = HouseholdRole.PARENT_OR_CARER, HouseholdRole.CHILD
    kinds = {org.id: OrgKind(org.kind) for org in population.spec.organisations}
    return Family(
        subjects=tuple(by_nhs[p.nhs_number] for p in event.people() if p.nhs_number),
        members=(
            member(home.mother, parent),
            member(home.father, parent),
            member(home.pupil, child),
            member(home.young_child, child),
        ),
        area=AREA,
        front_doors={AREA: FRONT_DOOR},
        org_kinds=kinds,
    )


@dataclass
class Expectation:
    """Every notice the events must produce, and every escalation of those left
    unacknowledged past a short deadline, as multisets of notice keys."""

    notices: Counter[NoticeKey] = field(default_factory=Counter)
    escalations: Counter[NoticeKey] = field(default_factory=Counter)

    def add(
        self,
        population: Population,
        home: Household,
        event: Event,
        received_at: datetime,
        escalating: frozenset[NoticeType],
    ) -> None:
        family = family_of(population, home, event)
        for decision in self.decisions(home, event, family, received_at):
            recipient = population.contacts[
                decision.addressee.org_id, decision.addressee.role.value
            ]
            key: NoticeKey = (str(event.event_id), recipient, decision.rule_id, None)
            self.notices[key] += 1
            if decision.notice_type not in escalating:
                continue
            rule, level = decision.rule_id, 0
            for level, step in enumerate(escalation_chain(decision, family), start=1):
                # Each step escalates the notice before it, and its rule id says so.
                rule = follow_up_rule(rule, FollowUp.ESCALATION, level)
                step_recipient = population.contacts[step.org_id, step.role.value]
                key = (str(event.event_id), step_recipient, rule, key)
                self.escalations[key] += 1
            # The chain runs out: its authority's safeguarding lead is alerted, or its
            # emergency duty team while the front door is closed, once.
            authority = reroute_target(decision, family)
            if authority is None:
                continue
            closed = not front_door_open(authority.org_id, family, received_at)
            role = "emergency_duty_team" if closed else "safeguarding_lead"
            rule = follow_up_rule(rule, FollowUp.ESCALATION, level + 1) + ".exhausted"
            alerted = population.contacts[authority.org_id, role]
            self.escalations[(str(event.event_id), alerted, rule, key)] += 1

    def decisions(
        self, home: Household, event: Event, family: Family, received_at: datetime
    ) -> list[Decision]:
        """What the rules decide for the household's event (a poisoned directory's
        expectation re-addresses or drops some: tests/faults/poison.py)."""
        return decide(event, family, PersonHistory(), received_at)
