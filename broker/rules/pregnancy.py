"""Who is told of a pregnancy maternity services booked, or a concern raised during it. Pure.

Child B's review: the parents told maternity at booking that their child had been on a child
protection plan, the midwife's lateral checks were never recorded and no referral was made
under the Safeguarding Unborn Baby procedures, so no pre-birth assessment was done although
"the threshold was clearly met". Here a pregnancy in a family with a previous child protection
plan (open or ended, the directory's or disclosed at booking, or earlier children removed), a
parent's mental health crisis, domestic abuse or substance misuse (the "toxic trio") in the
family's history or in what maternity recorded reaches the unborn child's health visiting team,
both parents' GPs and the front door, asked to consider a pre-birth assessment.

Any other pregnancy tells the health visiting team alone, at low severity: health visiting
offers every family its antenatal contact (universal services), and the GPs and the front door
have no safeguarding reason to hear of a routine booking.

The unborn child is the directory's record (a child of its parents' household, flagged unborn
with its expected date): the notices are about it. Without one, the front door hears instead,
with the reason, so that the record is added and nobody is left untold ("nothing silent").
"""

from datetime import date

from broker.rules.common import (
    children_contacts,
    front_door_decision,
    front_door_route,
    gp_decisions,
    gp_route,
)
from broker.rules.fallback import FALLBACK_REASON, nobody_to_tell
from broker.rules.family import (
    Addressee,
    ContactRole,
    Decision,
    Family,
    HouseholdHistory,
    Member,
)
from broker.rules.table import Route, Rule
from schemas.events import EventType, PlanKind, PregnancyConcern, PregnancyNotification
from schemas.notices import NoticeType, Severity

RULE = "pregnancy"
CONSIDER_PRE_BIRTH = "consider_pre_birth_assessment"  # worded by minimisation.PROMPTS
NO_UNBORN_RECORD = "unborn_child_not_in_directory"

# Why a pregnancy needs a pre-birth assessment considered, each named as a fact.
PREVIOUS_CP = "previous_child_protection_plan"
MENTAL_HEALTH = "parent_mental_health_crisis"
DOMESTIC_ABUSE = "domestic_abuse"
SUBSTANCE_MISUSE = "substance_misuse"

# What maternity recorded, read as the same reasons.
CONCERN_REASONS: dict[PregnancyConcern, str] = {
    PregnancyConcern.PREVIOUS_CHILD_PROTECTION: PREVIOUS_CP,
    PregnancyConcern.PREVIOUS_CHILDREN_REMOVED: PREVIOUS_CP,
    PregnancyConcern.MENTAL_HEALTH: MENTAL_HEALTH,
    PregnancyConcern.DOMESTIC_ABUSE: DOMESTIC_ABUSE,
    PregnancyConcern.SUBSTANCE_MISUSE: SUBSTANCE_MISUSE,
}
# What the family's chronology recorded, read as the same reasons: a crisis (or a parent's
# crisis presentation at ED, recorded as "mental_health"), a police domestic abuse incident or
# a crisis's domestic-abuse flag, a crisis's substance-misuse flag.
HISTORY_REASONS: dict[str, str] = {
    EventType.PARENT_MENTAL_HEALTH_CRISIS.value: MENTAL_HEALTH,
    "mental_health": MENTAL_HEALTH,
    EventType.POLICE_DOMESTIC_ABUSE_INCIDENT.value: DOMESTIC_ABUSE,
    "domestic_abuse": DOMESTIC_ABUSE,
    "substance_misuse": SUBSTANCE_MISUSE,
}


def route_pregnancy(
    event: PregnancyNotification, family: Family, received_on: date
) -> list[Decision]:
    parents = tuple(m for i in family.subjects if (m := family.person(i)))
    unborn = unborn_children(family)
    why = reasons(event, family)
    severity = Severity.MEDIUM if why else Severity.LOW
    facts = pregnancy_facts(event, why)
    decisions = children_contacts(unborn, family, received_on, severity, RULE, facts)
    if not unborn:  # the front door adds the record; until then it is told in its place
        decisions += _no_unborn_record(family, severity, facts)
    if not why:
        return decisions
    about = tuple(m.person_id for m in (*unborn, *parents))
    decisions += gp_decisions(parents, severity, RULE, facts, family.subjects[0])
    return decisions + front_door_decision(family, severity, RULE, about, facts)


def unborn_children(family: Family) -> tuple[Member, ...]:
    """The mother's unborn children the directory holds (twins: two records)."""
    mother = family.subjects[0] if family.subjects else None
    return tuple(c for c in family.children_of(mother) if c.unborn) if mother else ()


def reasons(event: PregnancyNotification, family: Family) -> frozenset[str]:
    """Why a pre-birth assessment should be considered; empty for a routine pregnancy."""
    told = {CONCERN_REASONS[c] for c in event.concerns if c in CONCERN_REASONS}
    recorded = history_reasons(family.history)
    return frozenset(told | recorded | ({PREVIOUS_CP} if had_child_protection(family) else set()))


def history_reasons(history: HouseholdHistory) -> frozenset[str]:
    return frozenset(
        HISTORY_REASONS[name]
        for e in history.events
        for name in (e.event_type, *e.signals)
        if name in HISTORY_REASONS
    )


def had_child_protection(family: Family) -> bool:
    """Whether a child of either parent has ever been on a child protection plan the directory
    holds, open or ended (Child B's plan as an unborn baby counts)."""
    children = {c.person_id for p in family.subjects for c in family.children_of(p)}
    return any(p.kind == PlanKind.CHILD_PROTECTION and p.person_id in children
               for p in family.plans)  # fmt: skip


def pregnancy_facts(
    event: PregnancyNotification, why: frozenset[str]
) -> dict[str, str | int | bool]:
    facts: dict[str, str | int | bool] = {"unborn_expected_on": event.expected_on.isoformat(),
                                          "unborn_babies": event.babies}  # fmt: skip
    facts |= dict.fromkeys(sorted(why), True)
    return facts | ({CONSIDER_PRE_BIRTH: True} if why else {})


def _no_unborn_record(
    family: Family, severity: Severity, facts: dict[str, str | int | bool]
) -> list[Decision]:
    """No unborn record: the front door of the family's area hears in health visiting's place,
    with the reason, about the mother (joined to its own referral, if any, by ``merged``)."""
    door = family.front_door()
    why = {**facts, FALLBACK_REASON: NO_UNBORN_RECORD}
    if door is None:  # reported and parked, never nothing (rules/fallback.py)
        return [nobody_to_tell(f"{RULE}.{NO_UNBORN_RECORD}", NoticeType.FRONT_DOOR_REFERRAL,
                               severity, family.subjects[:1], why, family.area)]  # fmt: skip
    return [Decision(Addressee(door, ContactRole.DUTY_MANAGER), NoticeType.FRONT_DOOR_REFERRAL,
                     severity, f"{RULE}.{NO_UNBORN_RECORD}", family.subjects[:1], why)]  # fmt: skip


_WHEN = "maternity services booked a pregnancy or raised a concern during it"
_CONCERN = (
    "a pregnancy in a family with a previous child protection plan (open or ended), a parent's "
    "mental health crisis, domestic abuse or substance misuse (in its history or maternity's "
    "record)"
)
PREGNANCY = Rule(
    PregnancyNotification,
    lambda event, family, _history, received_on, _limits: route_pregnancy(
        event, family, received_on
    ),
    (
        Route(f"{RULE}.child", f"{_WHEN} (low when none of the reasons below)",
              "the unborn child's health visiting team", NoticeType.HEALTH_VISITING,
              ContactRole.SAFEGUARDING_LEAD, (Severity.LOW, Severity.MEDIUM)),
        Route(f"{RULE}.{NO_UNBORN_RECORD}",
              f"{_WHEN}, and the directory holds no unborn child of the mother",
              "the front door's duty manager, in health visiting's place (to add the record)",
              NoticeType.FRONT_DOOR_REFERRAL, ContactRole.DUTY_MANAGER,
              (Severity.LOW, Severity.MEDIUM)),
        gp_route(RULE, _CONCERN, "the mother's GP and the father's (third-party view)",
                 (Severity.MEDIUM,)),
        front_door_route(RULE, f"{_CONCERN}: consider a pre-birth assessment",
                         (Severity.MEDIUM,)),
    ),
)  # fmt: skip
