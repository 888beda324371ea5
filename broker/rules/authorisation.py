"""Which kinds of organisation may publish which events. Pure: a table, read as policy.

The producer's signature proves which organisation sent an event; this table says whether an
organisation of that kind may say such a thing at all (only acute trusts report emergency
department attendances, for example).
"""

from broker.rules.family import OrgKind
from schemas.events import EventType

HEALTH_SERVICES = frozenset({OrgKind.ACUTE_TRUST, OrgKind.HEALTH_VISITING, OrgKind.SCHOOL_NURSING})
EDUCATION_PUBLISHERS = frozenset({OrgKind.SCHOOL, OrgKind.EDUCATION_SERVICE})
# Every kind of service. A peer broker is none: it only transfers the families moving in from
# its partnership (as a move it is a party to), and says nothing else here.
SERVICES = frozenset(OrgKind) - {OrgKind.PEER_BROKER}

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
    EventType.SERVICE_WITHDRAWAL: SERVICES,
    # the originating local authority, schools, GPs and housing see families move; a peer
    # broker sends the transfer of a family moving in from its partnership's area
    EventType.FAMILY_MOVING_AREA: frozenset(
        {
            OrgKind.FRONT_DOOR,
            OrgKind.SCHOOL,
            OrgKind.GP_PRACTICE,
            OrgKind.HOUSING,
            OrgKind.PEER_BROKER,
        }
    ),
    # emergency departments, and the urgent care and NHS 111 services that see the same children
    EventType.ED_ATTENDANCE: frozenset({OrgKind.ACUTE_TRUST, OrgKind.URGENT_CARE, OrgKind.NHS_111}),
    # outpatients, community health, GP practices (immunisations, reviews) and nurseries
    # (schools' early years)
    EventType.APPOINTMENT_OUTCOME: HEALTH_SERVICES | {OrgKind.SCHOOL, OrgKind.GP_PRACTICE},
    # Operation Encompass: only the police attend and report a domestic abuse incident
    EventType.POLICE_DOMESTIC_ABUSE_INCIDENT: frozenset({OrgKind.POLICE}),
    # Education: schools and nurseries (SCHOOL) see a pupil's attendance and who leaves their
    # roll; the local authority's education service tracks children missing education and
    # those educated at home. Nobody else knows a child's education first-hand.
    EventType.ATTENDANCE_CONCERN: EDUCATION_PUBLISHERS,
    EventType.CHILD_MISSING_EDUCATION: EDUCATION_PUBLISHERS,
    EventType.ELECTIVE_HOME_EDUCATION: EDUCATION_PUBLISHERS,
    # any practitioner may record a contact or a lateral check with another agency
    EventType.AGENCY_CONTACT: SERVICES,
    # Pregnancy and unborn babies: only maternity services book a pregnancy (a GP or health
    # visitor who learns of one tells maternity, or the front door directly)
    EventType.PREGNANCY_NOTIFICATION: frozenset({OrgKind.MATERNITY}),
}


def may_publish(kind: OrgKind | None, event_type: EventType) -> bool:
    return kind is not None and kind in MAY_PUBLISH[event_type]
