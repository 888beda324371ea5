"""The two partnerships the federation tests run: Newport in Wales (broker A), where the Morgan
family lives with a child on the child protection register, and Bristol in England (broker B),
whose school and GP the family will join, with a family of its own (the Ashbys).

Data only: organisations, recipients (each with a key of its own, made per run), people,
plans and the history A holds before a move. Every name and number is invented, NHS numbers
from the 999 test range; the area codes are the real ONS codes of the two authorities, as the
table of authorities will name them.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from producers import crypto
from schemas.directory import (
    ContactSpec,
    DirectorySpec,
    HouseholdMemberSpec,
    HouseholdSpec,
    OrganisationSpec,
    PersonSpec,
    PlanOwnerSpec,
    PlanSpec,
    RegistrationSpec,
    SigningKeySpec,
)
from schemas.events import Event, EventAdapter, FamilyMovingArea, ParentMentalHealthCrisis

NEWPORT, BRISTOL = "W06000022", "E06000023"  # ONS codes: Newport (Wales), Bristol (England)

# The roles each kind of organisation has a recipient for; safeguarding_lead otherwise.
ROLES = {
    "front_door": ("duty_manager", "safeguarding_lead", "emergency_duty_team"),
    "school": ("key_adult", "deputy_key_adult"),
}


@dataclass(frozen=True)
class Member:
    record_id: str
    nhs_number: str
    given_name: str
    family_name: str
    age_years: int
    role: str  # in the household: parent_or_carer or child
    gp: str
    school: str | None = None
    health_team: str | None = None  # a child under five not at school: health visiting


@dataclass(frozen=True)
class Partnership:
    """One partnership's directory, as plain data; ``directory`` makes it a DirectorySpec."""

    name: str  # A or B
    title: str  # the partnership, as people name it
    area: str
    organisations: tuple[tuple[str, str, str], ...]  # (id, name, kind)
    household_id: str
    members: tuple[Member, ...]
    mental_health: str  # the service that publishes a parent's crisis here
    plans_of: tuple[str, ...] = ()  # record ids of the children on a child protection plan

    @property
    def front_door(self) -> str:
        return self.org("front_door")

    def org(self, kind: str) -> str:
        """The id of the partnership's (first) organisation of ``kind``: school, gp_practice."""
        return next(org for org, _, its_kind in self.organisations if its_kind == kind)

    def contacts(self) -> list[tuple[str, str, str]]:
        """(contact id, organisation id, role) for every recipient."""
        return [
            (f"{org}:{role}", org, role)
            for org, _, kind in self.organisations
            for role in ROLES.get(kind, ("safeguarding_lead",))
        ]

    def member(self, role: str) -> Member:
        """The household's first member in ``role`` (parent_or_carer, child)."""
        return next(m for m in self.members if m.role == role)


WALES = Partnership(
    name="A",
    title="Newport Safeguarding Children Partnership",
    area=NEWPORT,
    organisations=(
        ("newport-front-door", "Newport Children's Services Front Door", "front_door"),
        ("school-glan-yr-afon", "Ysgol Gynradd Glan-yr-Afon", "school"),
        ("gp-usk-vale", "Usk Vale Surgery", "gp_practice"),
        ("mh-gwent", "Gwent Community Mental Health Team", "mental_health"),
        ("hv-aneurin", "Aneurin Bevan Health Visiting Team", "health_visiting"),
    ),
    household_id="h-morgan",
    members=(
        Member("p-carys", "9991000003", "Carys", "Morgan", 29, "parent_or_carer", "gp-usk-vale"),
        Member(
            "p-owen",
            "9991000011",
            "Owen",
            "Morgan",
            7,
            "child",
            "gp-usk-vale",
            school="school-glan-yr-afon",
        ),
        Member(
            "p-elin",
            "9991000038",
            "Elin",
            "Morgan",
            3,
            "child",
            "gp-usk-vale",
            health_team="hv-aneurin",
        ),
    ),
    mental_health="mh-gwent",
    plans_of=("p-owen",),
)

ENGLAND = Partnership(
    name="B",
    title="Bristol Safeguarding Children Partnership",
    area=BRISTOL,
    organisations=(
        ("bristol-front-door", "Bristol Children's Front Door", "front_door"),
        ("school-avonside", "Avonside Primary School", "school"),
        ("gp-harbourside", "Harbourside Medical Practice", "gp_practice"),
        ("mh-avon", "Avon Community Mental Health Service", "mental_health"),
    ),
    household_id="h-ashby",
    members=(
        Member("p-ruth", "9991000046", "Ruth", "Ashby", 35, "parent_or_carer", "gp-harbourside"),
        Member(
            "p-sam",
            "9991000054",
            "Sam",
            "Ashby",
            8,
            "child",
            "gp-harbourside",
            school="school-avonside",
        ),
    ),
    mental_health="mh-avon",
)


@dataclass(frozen=True)
class Keys:
    """A partnership's agencies' and recipients' own keys: the directory holds only the
    public halves. Each partnership has its own, made per run."""

    producers: dict[str, Ed25519PrivateKey]
    recipients: dict[str, X25519PrivateKey]

    @classmethod
    def made_for(cls, partnership: Partnership) -> "Keys":
        return cls(
            {org: Ed25519PrivateKey.generate() for org, _, _ in partnership.organisations},
            {cid: X25519PrivateKey.generate() for cid, _, _ in partnership.contacts()},
        )


def directory(partnership: Partnership, keys: Keys, today: date) -> DirectorySpec:
    """The partnership's organisations (with their signing keys), recipients, household and
    plans, ages counted back from ``today``."""
    return DirectorySpec(
        organisations=tuple(_organisation(partnership, org, i, keys)
                            for i, org in enumerate(partnership.organisations)),
        contacts=tuple(
            ContactSpec(id=cid, org_id=org, role=role,
                        hpke_public_key=crypto.encode_public(keys.recipients[cid].public_key()))
            for cid, org, role in partnership.contacts()
        ),
        people=tuple(_person(m, today) for m in partnership.members),
        households=(HouseholdSpec(id=partnership.household_id, area=partnership.area, members=tuple(
            HouseholdMemberSpec(person_id=m.record_id, role=m.role) for m in partnership.members
        )),),
        registrations=tuple(_registrations(partnership)),
        plans=tuple(_plan(partnership, child, today) for child in partnership.plans_of),
    )  # fmt: skip


def _organisation(
    partnership: Partnership, org: tuple[str, str, str], i: int, keys: Keys
) -> OrganisationSpec:
    org_id, name, kind = org
    signing = SigningKeySpec(public_key=crypto.encode_public(keys.producers[org_id].public_key()))
    return OrganisationSpec(id=org_id, name=name, kind=kind, area=partnership.area,
                            phone=f"01632 960{i:03d}", signing_keys=(signing,))  # fmt: skip


def _person(member: Member, today: date) -> PersonSpec:
    born = today - timedelta(days=int(member.age_years * 365.25) + 40)
    return PersonSpec(id=member.record_id, nhs_number=member.nhs_number,
                      given_name=member.given_name, family_name=member.family_name,
                      date_of_birth=born)  # fmt: skip


def _registrations(partnership: Partnership) -> list[RegistrationSpec]:
    gps = [RegistrationSpec(person_id=m.record_id, kind="gp", org_id=m.gp)
           for m in partnership.members]  # fmt: skip
    schools = [RegistrationSpec(person_id=m.record_id, kind="school", org_id=m.school)
               for m in partnership.members if m.school]  # fmt: skip
    health = [RegistrationSpec(person_id=m.record_id, kind="health_team", org_id=m.health_team)
              for m in partnership.members if m.health_team]  # fmt: skip
    return gps + schools + health


def _plan(partnership: Partnership, child: str, today: date) -> PlanSpec:
    """A child protection plan (in Wales: on the child protection register) since eight months,
    led by a social worker of the partnership's front door."""
    lead = PlanOwnerSpec(name="Rhian Pritchard", role="social worker",
                         org_id=partnership.front_door, phone="01632 960999")  # fmt: skip
    return PlanSpec(id=f"plan-{child}", person_id=child, kind="child_protection",
                    area=partnership.area, started_on=today - timedelta(days=240),
                    lead_professional=lead)  # fmt: skip


def crisis(partnership: Partnership, at: datetime | None = None) -> ParentMentalHealthCrisis:
    """The household's parent in mental health crisis with suicidal ideation, published by the
    partnership's mental health service: the school, the GPs and the front door are told."""
    return ParentMentalHealthCrisis.model_validate({
        "event_type": "parent_mental_health_crisis", "event_id": str(uuid.uuid4()),
        "source_org": partnership.mental_health,
        "occurred_at": (at or datetime.now(UTC)).isoformat(),
        "subject": {"nhs_number": partnership.member("parent_or_carer").nhs_number},
        "suicidal_ideation": True,
    })  # fmt: skip


def history(partnership: Partnership, now: datetime) -> list[Event]:
    """What the partnership holds about its family before a move: the parent's crisis three
    weeks ago, and the child at school not brought to two appointments since."""
    child = partnership.member("child")

    def not_brought(days_ago: int) -> dict[str, Any]:
        return {"event_type": "appointment_outcome", "event_id": str(uuid.uuid4()),
                "source_org": child.gp, "occurred_at": (now - timedelta(days=days_ago)).isoformat(),
                "subject": {"nhs_number": child.nhs_number}, "service": "community paediatrics",
                "booked_for": (now - timedelta(days=days_ago)).isoformat(),
                "outcome": "was_not_brought"}  # fmt: skip

    return [
        crisis(partnership, now - timedelta(days=21)),
        EventAdapter.validate_python(not_brought(14)),
        EventAdapter.validate_python(not_brought(7)),
    ]


def move(origin: Partnership, destination: Partnership, moved_on: date) -> FamilyMovingArea:
    """The origin's front door reports the household moving to the destination's area, with
    its plans, the school the children leave, and the destination's school and GP it will join
    (ids in the destination's directory)."""
    members = [{"nhs_number": m.nhs_number} for m in origin.members]
    plans = [{"kind": "child_protection", "category": "neglect",
              "child": {"nhs_number": _member(origin, child).nhs_number},
              "started_on": (moved_on - timedelta(days=240)).isoformat()}
             for child in origin.plans_of]  # fmt: skip
    return FamilyMovingArea.model_validate({
        "event_type": "family_moving_area", "event_id": str(uuid.uuid4()),
        "source_org": origin.front_door, "occurred_at": datetime.now(UTC).isoformat(),
        "members": members, "from_authority": origin.area, "to_authority": destination.area,
        "moved_on": moved_on.isoformat(), "plans": plans,
        "previous_school": origin.org("school"), "new_school": destination.org("school"),
        "new_gp": destination.org("gp_practice"),
    })  # fmt: skip


def _member(partnership: Partnership, record_id: str) -> Member:
    return next(m for m in partnership.members if m.record_id == record_id)
