"""What each kind of recipient may see: the minimum necessary, as tables. Pure.

A school sees the child, that something happened and when, whether the child was present,
and who to call: no diagnosis, medication or clinical detail (Operation Encompass). A GP sees
the clinical summary. A front door and a receiving authority see the whole history.
"""

from collections.abc import Mapping
from typing import Any, TypeVar

from broker.rules.family import Decision
from schemas.events import Event
from schemas.notices import HistoryDigest, NoticeBody, NoticeType, PersonView

IDENTITY = frozenset({"given_name", "family_name", "date_of_birth", "role"})
CLINICAL_IDENTITY = IDENTITY | {"nhs_number"}
EVERYTHING = frozenset({"*"})

PERSON_FIELDS: dict[NoticeType, frozenset[str]] = {
    NoticeType.SCHOOL_SUPPORT: IDENTITY,
    NoticeType.HEALTH_VISITING: CLINICAL_IDENTITY,
    NoticeType.GP_INFORMATION: CLINICAL_IDENTITY,
    NoticeType.AGENCY_INFORMATION: CLINICAL_IDENTITY,
    NoticeType.FRONT_DOOR_REFERRAL: CLINICAL_IDENTITY,
    NoticeType.TRANSFER: CLINICAL_IDENTITY,
    NoticeType.PLAN_OWNER: CLINICAL_IDENTITY,
    NoticeType.OUT_OF_HOURS: CLINICAL_IDENTITY,
}

SCHOOL_SAFE_FACTS = frozenset({"child_present", "consider_childrens_needs"})
FACT_FIELDS: dict[NoticeType, frozenset[str]] = {
    NoticeType.SCHOOL_SUPPORT: SCHOOL_SAFE_FACTS,
    **{kind: EVERYTHING for kind in NoticeType if kind is not NoticeType.SCHOOL_SUPPORT},
}

CLINICAL_DETAIL = frozenset({
    "sectioned", "admitted", "suicidal_ideation", "threats_to_kill", "threats_to_harm_others",
    "domestic_abuse", "substance_misuse", "clinical_summary", "presenting_category",
    "arrived_at", "accompanied_by", "service", "reason", "withdrawn_on", "booked_for", "outcome",
    "intent", "not_yet_mobile",
})  # fmt: skip
# A lead professional or action owner (often early help or social care) hears what happened,
# not the clinicians' notes.
CONCERN_WITHOUT_CLINICAL_NOTES = CLINICAL_DETAIL - {"clinical_summary", "accompanied_by"}
DETAIL_FIELDS: dict[NoticeType, frozenset[str]] = {
    NoticeType.SCHOOL_SUPPORT: frozenset(),
    NoticeType.HEALTH_VISITING: CLINICAL_DETAIL,
    NoticeType.GP_INFORMATION: CLINICAL_DETAIL,
    NoticeType.AGENCY_INFORMATION: frozenset({"service", "reason", "withdrawn_on"}),
    NoticeType.FRONT_DOOR_REFERRAL: EVERYTHING,
    NoticeType.TRANSFER: EVERYTHING,
    NoticeType.PLAN_OWNER: CONCERN_WITHOUT_CLINICAL_NOTES,
    NoticeType.OUT_OF_HOURS: EVERYTHING,  # the emergency duty team stands in for the front door
}

SUMMARIES: dict[NoticeType, str] = {
    NoticeType.SCHOOL_SUPPORT: (
        "Something has happened at home that may affect this child. Please make sure a key "
        "adult is ready to offer quiet support today."
    ),
    NoticeType.HEALTH_VISITING: "A safeguarding-relevant event for a child your team sees.",
    NoticeType.GP_INFORMATION: "A safeguarding-relevant event for patients of your practice.",
    NoticeType.AGENCY_INFORMATION: "A service working with this family has withdrawn.",
    NoticeType.FRONT_DOOR_REFERRAL: "A safeguarding concern for children in your area.",
    NoticeType.TRANSFER: "A family with a safeguarding history is moving: transfer of history.",
    NoticeType.PLAN_OWNER: "A new concern about a child whose plan you own.",
    NoticeType.OUT_OF_HOURS: (
        "Out of hours: a high-risk safeguarding concern for children in your area, to act on "
        "now. The front door has it for its next working day."
    ),
}

# A school learns that something happened, not which kind of service was involved or what
# kind of event it was: naming a mental health service would disclose a diagnosis. It is told
# to call the front door, which can share more if the child needs it.
DISCREET = frozenset({NoticeType.SCHOOL_SUPPORT})
DISCREET_EVENT_LABEL = "family_circumstances"

# A rule's name says what happened ("crisis.child", "ed.parent_presentation.child",
# "withdrawal.child"): a discreet reader is given it only when every rule joined in it is of
# a kind named here, whose name reveals no one's condition (a child joining the school).
# Otherwise the body names no rule and the notice's id is the reference to quote.
RULES_NAMED_TO_DISCREET = frozenset({"move"})

ENVELOPE_FIELDS = frozenset({"event_id", "event_type", "schema_version", "source_org",
                             "occurred_at", "received_at", "correlation_id"})  # fmt: skip
PEOPLE_FIELDS = frozenset({"subject", "members", "children_present"})


def compose_body(
    decision: Decision,
    event: Event,
    people: Mapping[str, PersonView],
    source_contact: str | None,
    front_door_contact: str | None = None,
    digest: HistoryDigest | None = None,
) -> NoticeBody:
    kind = decision.notice_type
    discreet = kind in DISCREET
    return NoticeBody(
        summary=SUMMARIES[kind],
        event_type=DISCREET_EVENT_LABEL if discreet else event.event_type.value,
        occurred_at=event.occurred_at,
        source_org=None if discreet else event.source_org,
        about=tuple(_person_view(people[p], kind) for p in decision.about if p in people),
        facts=_allowed(decision.facts, FACT_FIELDS[kind]),
        detail=_allowed(event_detail(event), DETAIL_FIELDS[kind]),
        who_to_call=front_door_contact if discreet else source_contact,
        digest=digest,
        rule_id=rule_for_reader(decision.rule_id, kind),
    )


def rule_for_reader(rule_id: str, kind: NoticeType) -> str | None:
    """The rule as a reader of this kind may see it in the body, or None."""
    if kind not in DISCREET:
        return rule_id
    kinds = {part.split(".")[0] for part in rule_id.split("+")}
    return rule_id if kinds <= RULES_NAMED_TO_DISCREET else None


def event_detail(event: Event) -> dict[str, str | int | bool | None]:
    """The event's own facts, flattened to dotted keys, without envelope or people."""
    dumped = event.model_dump(mode="json", exclude=set(ENVELOPE_FIELDS | PEOPLE_FIELDS))
    return dict(_flatten(dumped))


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str | int | bool | None]]:
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in _flatten(v, f"{prefix}{k}.")]
    if isinstance(value, list):
        return [pair for i, v in enumerate(value) for pair in _flatten(v, f"{prefix}{i}.")]
    return [(prefix.rstrip("."), value)]


V = TypeVar("V")


def _allowed(values: Mapping[str, V], allowed: frozenset[str]) -> dict[str, V]:
    if allowed == EVERYTHING:
        return dict(values)
    return {k: v for k, v in values.items() if k.split(".")[0] in allowed}


def _person_view(person: PersonView, kind: NoticeType) -> PersonView:
    allowed = PERSON_FIELDS[kind]
    return PersonView.model_validate({k: v for k, v in person.model_dump().items() if k in allowed})
