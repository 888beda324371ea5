"""Which kinds of organisation may publish which events. Pure: a table, read as policy.

The producer's signature proves which organisation sent an event; this table says whether an
organisation of that kind may say such a thing at all (only acute trusts report emergency
department attendances, for example).
"""

from broker.rules.family import OrgKind
from schemas.events import EventType

HEALTH_SERVICES = frozenset({OrgKind.ACUTE_TRUST, OrgKind.HEALTH_VISITING, OrgKind.SCHOOL_NURSING})

MAY_PUBLISH: dict[EventType, frozenset[OrgKind]] = {
    # crisis teams and liaison psychiatry, police, GPs
    EventType.PARENT_MENTAL_HEALTH_CRISIS: frozenset(
        {
            OrgKind.MENTAL_HEALTH,
            OrgKind.POLICE,
            OrgKind.ACUTE_TRUST,
            OrgKind.GP_PRACTICE,
        }
    ),
    # any service may announce that it is withdrawing
    EventType.SERVICE_WITHDRAWAL: frozenset(OrgKind),
    # the originating local authority, schools, GPs and housing see families move
    EventType.FAMILY_MOVING_AREA: frozenset(
        {
            OrgKind.FRONT_DOOR,
            OrgKind.SCHOOL,
            OrgKind.GP_PRACTICE,
            OrgKind.HOUSING,
        }
    ),
    EventType.ED_ATTENDANCE: frozenset({OrgKind.ACUTE_TRUST}),
    # outpatients, community health and nurseries (schools' early years)
    EventType.APPOINTMENT_OUTCOME: HEALTH_SERVICES | {OrgKind.SCHOOL},
    # Operation Encompass: only the police attend and report a domestic abuse incident
    EventType.POLICE_DOMESTIC_ABUSE_INCIDENT: frozenset({OrgKind.POLICE}),
    # Pregnancy and unborn babies: only maternity services book a pregnancy (a GP or health
    # visitor who learns of one tells maternity, or the front door directly)
    EventType.PREGNANCY_NOTIFICATION: frozenset({OrgKind.MATERNITY}),
}


def may_publish(kind: OrgKind | None, event_type: EventType) -> bool:
    return kind is not None and kind in MAY_PUBLISH[event_type]
