"""What each kind of recipient may see: the minimum necessary, as tables. Pure.

A school sees the child, that something happened and when, whether the child was present,
and who to call: no diagnosis, medication or clinical detail (Operation Encompass). A GP sees
the clinical summary of its own patient's event; of anyone else's, only what concerns its
patients (third-party information). A front door and a receiving authority see the whole
history.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, ConfigDict, TypeAdapter

from broker.rules.accuracy import UNREAD, Reading, wording_key
from broker.rules.family import Decision
from broker.rules.language import transfer_wording
from schemas.common import check_storable
from schemas.events import Event
from schemas.notices import HistoryDigest, NoticeBody, NoticeType, PersonView, Relation

# A language need goes with the person: every reader who sees someone can speak with them.
IDENTITY = frozenset({"given_name", "family_name", "date_of_birth", "role", "present",
                      "preferred_language", "interpreter_needed"})  # fmt: skip
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
    NoticeType.OUTCOME: frozenset(),  # the referrer knows whom it referred: the id is enough
    NoticeType.STRATEGY_DISCUSSION: CLINICAL_IDENTITY,
    NoticeType.EDUCATION_SAFEGUARDING: IDENTITY,  # the officer finds the child by name and age
}

# A school may know its own pupil's SEND or education, health and care plan (it meets them);
# a parent's learning disability is health information, not the school's.
SCHOOL_SAFE_FACTS = frozenset({"child_present", "consider_childrens_needs", "child_has_send",
                               "child_has_ehcp"})  # fmt: skip
FACT_FIELDS: dict[NoticeType, frozenset[str]] = {
    NoticeType.SCHOOL_SUPPORT: SCHOOL_SAFE_FACTS,
    # Any agency involved with the household (housing, police, early help...) hears why a
    # service withdrew and a child's needs, not a parent's learning disability: that is health
    # information, for the GPs, health teams and the front door.
    NoticeType.AGENCY_INFORMATION: frozenset({"reason", "child_has_send", "child_has_ehcp",
                                              "to_authority", "to_authority_name"}),  # a move's
    **{kind: EVERYTHING for kind in NoticeType
       if kind not in (NoticeType.SCHOOL_SUPPORT, NoticeType.AGENCY_INFORMATION)},
}  # fmt: skip

CLINICAL_DETAIL = frozenset({
    "sectioned", "admitted", "suicidal_ideation", "threats_to_kill", "threats_to_harm_others",
    "domestic_abuse", "substance_misuse", "clinical_summary", "presenting_category",
    "arrived_at", "accompanied_by", "service", "reason", "withdrawn_on", "booked_for", "outcome",
    "intent", "not_yet_mobile", "incident_at", "place", "police_reference", "risk_level",
    "setting", "threats_to_kill_a_child",
})  # fmt: skip
# A pregnancy (maternity services): its stage, the expected date, how many babies and the
# concerns maternity recorded are clinical detail of the mother's care.
PREGNANCY_DETAIL = frozenset({"stage", "expected_on", "babies", "concerns"})
CLINICAL_DETAIL |= PREGNANCY_DETAIL
# A lead professional or action owner (often early help or social care) hears what happened,
# not the clinicians' notes.
CONCERN_WITHOUT_CLINICAL_NOTES = CLINICAL_DETAIL - {"clinical_summary", "accompanied_by"}
# Education events (attendance, missing education, home education): the education
# safeguarding officer acts on all of it. Health (the child's GP, health visiting or school
# nursing) needs what the child is missing and since when, and whether the child has an
# education, health and care plan; not which school's roll the child left or on what ground.
EDUCATION_DETAIL = frozenset({
    "setting", "concern", "attendance_percent", "previous_percent", "period_from", "period_to",
    "missing_since", "missing_reason", "whereabouts_known", "last_school", "declared_on",
    "previous_school", "has_ehcp",
})  # fmt: skip
EDUCATION_FOR_HEALTH = EDUCATION_DETAIL - {"missing_reason", "last_school", "previous_school"}
# A contact or lateral check, told only to a plan's lead: with whom, when, by whom, what was said.
CONTACT_DETAIL = frozenset({"contact_kind", "with_org", "contacted_at", "practitioner_role",
                            "outcome"})  # fmt: skip
DETAIL_FIELDS: dict[NoticeType, frozenset[str]] = {
    NoticeType.SCHOOL_SUPPORT: frozenset(),
    NoticeType.HEALTH_VISITING: CLINICAL_DETAIL | EDUCATION_FOR_HEALTH,
    NoticeType.GP_INFORMATION: CLINICAL_DETAIL | EDUCATION_FOR_HEALTH,
    NoticeType.AGENCY_INFORMATION: frozenset({"service", "reason", "withdrawn_on"}),
    NoticeType.FRONT_DOOR_REFERRAL: EVERYTHING,
    NoticeType.TRANSFER: EVERYTHING,
    NoticeType.PLAN_OWNER: CONCERN_WITHOUT_CLINICAL_NOTES | EDUCATION_DETAIL | CONTACT_DETAIL,
    NoticeType.OUT_OF_HOURS: EVERYTHING,  # the emergency duty team stands in for the front door
    NoticeType.OUTCOME: frozenset(),  # what the referrer sent it knows; it learns the decision
    # Police and health partners learn which children and why a discussion is convened; the
    # front door shares the rest in the discussion itself.
    NoticeType.STRATEGY_DISCUSSION: frozenset(),
    NoticeType.EDUCATION_SAFEGUARDING: EDUCATION_DETAIL,
}

SUMMARIES: dict[NoticeType, str] = {
    NoticeType.SCHOOL_SUPPORT: (
        "Something has happened at home that may affect this child. Please make sure a key "
        "adult is ready to offer quiet support."  # worded by what happened: school_notice.py
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
    NoticeType.OUTCOME: "What the front door decided about your referral.",
    NoticeType.STRATEGY_DISCUSSION: (
        "The front door is convening a strategy discussion today about children in your area. "
        "Please be ready to take part: it will share what it knows there."
    ),
    NoticeType.EDUCATION_SAFEGUARDING: (
        "An education safeguarding concern for a child in your area: attendance, a child "
        "missing education or elective home education."
    ),
}

# Where a rule's notice is not what its type's summary says: a contact recorded for a plan's
# lead is no new concern.
RULE_SUMMARIES: dict[str, str] = {
    "move.send_history": (
        "A family with a safeguarding history is moving to an authority this partnership "
        "cannot reach: send it the history (the task names it), then record it as sent."
    ),
    "move.involved_agency": "A family your service works with is moving to another area.",
    "contact.plan_lead": (
        "A practitioner recorded a contact or a check with another agency about a child whose "
        "plan you own: for the plan's record, not a new concern."
    ),
}

# A school learns that something happened, not which kind of service was involved or what
# kind of event it was: naming a mental health service would disclose a diagnosis. It is told
# to call the front door, which can share more if the child needs it.
DISCREET = frozenset({NoticeType.SCHOOL_SUPPORT})
DISCREET_EVENT_LABEL = "family_circumstances"

# A rule's name says what happened ("crisis.child", "ed.parent_presentation.child",
# "withdrawal.child"): a discreet reader is given it only when every rule joined in it is of
# a kind named here, whose name reveals no one's condition (a child joining the school, a
# step-down plan the school has a part in, an Operation Encompass notice: the scheme tells the
# school that police attended a domestic abuse incident, and the rule's name says no more).
# Otherwise the body names no rule and the notice's id is the reference to quote.
RULES_NAMED_TO_DISCREET = frozenset({"move", "step_down", "domestic_abuse"})


@dataclass(frozen=True)
class View:
    """What one kind of reader may see: fields of each person, facts, event detail, digest."""

    person: frozenset[str]
    facts: frozenset[str]
    detail: frozenset[str]
    digest: frozenset[str] = EVERYTHING
    third_party: bool = False


# Since October 2023 patients read new GP record entries online. A practice told of someone
# who is not its patient (its patient's mother in crisis) files it in its patient's record:
# third-party information, marked not to be shown through online access, with none of the
# event's detail (clinical summary and flags, a domestic-abuse disclosure, any address or
# diagnosis an event may come to carry), none of the risks the patterns name and none of that
# person's history; only the facts that concern its own patients, the children. Allow-lists,
# so that a field added to an event later stays out until someone decides otherwise.
# What concerns the children: who was there, their age and plans, whether anyone is left to
# care for them, and whether they are brought to their appointments (a brother's or sister's
# was-not-brought pattern is told to each child's practice with that child's own rate).
CHILD_CENTRED_FACTS = frozenset({
    "child_present", "child_under_one", "child_protection_plan", "sole_carer_unavailable",
    "consider_childrens_needs", "attendance_rate_percent", "booked", "attended",
    "was_not_brought", "window_days", "siblings_attendance_rate_percent", "siblings_booked",
    "siblings_attended", "children_with_appointments", "cancelled_by_parent",
    "child_has_send", "child_has_ehcp",  # the practice's own patient's needs, not the parent's
})  # fmt: skip
# The father's practice hears of its patient's unborn child: when it is due, how many, and
# that a pre-birth assessment is to be considered; never the mother's concerns or history.
UNBORN_CHILD_FACTS = frozenset({"unborn_expected_on", "unborn_babies",
                                "consider_pre_birth_assessment"})  # fmt: skip
GP_THIRD_PARTY = View(
    person=CLINICAL_IDENTITY,
    facts=CHILD_CENTRED_FACTS | UNBORN_CHILD_FACTS,
    detail=frozenset(),
    digest=frozenset({"earlier_incidents_12_months", "plans"}),
    third_party=True,
)
THIRD_PARTY_VIEWS: dict[NoticeType, View] = {NoticeType.GP_INFORMATION: GP_THIRD_PARTY}
THIRD_PARTY_WORDING = "third_party.not_for_online_record_access"


def view_for(kind: NoticeType, relation: Relation | None) -> View:
    """The notice type's own view, or its third-party view when the event is not about the
    recipient's own people."""
    if relation not in (None, Relation.SELF) and kind in THIRD_PARTY_VIEWS:
        return THIRD_PARTY_VIEWS[kind]
    return View(PERSON_FIELDS[kind], FACT_FIELDS[kind], DETAIL_FIELDS[kind])


ENVELOPE_FIELDS = frozenset({"event_id", "event_type", "schema_version", "source_org",
                             "occurred_at", "received_at", "correlation_id"})  # fmt: skip
# A domestic abuse incident's adults and children travel as people (``about``), never as
# detail: a reader sees only the people its notice is about, with presence per child.
PEOPLE_FIELDS = frozenset({"subject", "members", "children_present", "victim",
                           "alleged_perpetrator", "children"})  # fmt: skip
PEOPLE_FIELDS |= {"mother", "father"}  # a pregnancy's parents, likewise
# Facts that ask the reader to act, also given as the fixed wording key its system words.
PROMPTS: dict[str, str] = {
    "consider_pre_birth_assessment": "pregnancy.consider_pre_birth_assessment",
}
# Plans travel structured, in the body's ``history`` and ``step_down`` (plan_bodies.py),
# never as flattened keys ("plans.0.child.upn").
STRUCTURED_FIELDS = frozenset({"plans", "step_down"})


def compose_body(
    decision: Decision,
    event: Event,
    people: Mapping[str, PersonView],
    source_contact: str | None,
    front_door_contact: str | None = None,
    digest: HistoryDigest | None = None,
    reading: Reading = UNREAD,
    *,
    detail: Mapping[str, str | int | bool | None] | None = None,
) -> NoticeBody:
    """The body ``decision``'s recipient may read; ``reading`` says whose event it is to the
    recipient's people and which children were present; ``detail``: the event's own
    ``event_detail`` where the caller has made it already (the same for all its bodies)."""
    kind = decision.notice_type
    discreet = kind in DISCREET
    view = view_for(kind, reading.relation)
    facts = _allowed(decision.facts, view.facts)
    accuracy = _accuracy(kind, reading, view)
    accuracy["wording"] += tuple(PROMPTS[name] for name in facts if name in PROMPTS)
    accuracy["wording"] += transfer_wording(facts)  # a move's, in the receiving nation's terms
    # Built without validating again what was validated already (the event, its detail, the
    # people's views, the digest, the tables): a body's validation re-checked every field, a
    # tenth of routing. The facts and the contact line, which come from outside these
    # tables, are validated here as NoticeBody's own fields would validate them.
    return _BLANK_BODY.model_copy(update={
        "summary": RULE_SUMMARIES.get(decision.rule_id, SUMMARIES[kind]),
        "event_type": DISCREET_EVENT_LABEL if discreet else event.event_type.value,
        "occurred_at": event.occurred_at,
        "source_org": None if discreet else event.source_org,
        "about": _about(decision, people, view, reading),
        "facts": _FACTS.validate_python(facts),
        "detail": _DETAIL.validate_python(
            _allowed(event_detail(event) if detail is None else detail, view.detail)
        ),
        "who_to_call": _LINE.validate_python(front_door_contact if discreet else source_contact),
        "digest": _digest(digest, view.digest),
        "rule_id": rule_for_reader(decision.rule_id, kind),
        **accuracy,
    })  # fmt: skip


# What a body holds where compose_body sets nothing (its defaults: area, languages, school,
# history, step_down); each body is a copy of it with its own fields set, which is several
# times cheaper than model_construct (it deep-copies each default).
_BLANK_BODY = NoticeBody(summary="-", event_type="-", occurred_at=datetime(2000, 1, 1, tzinfo=UTC))
# As NoticeBody's own fields validate them (schemas/common.py's Contract: stripped, no NUL).
_AS_CONTRACT = ConfigDict(str_strip_whitespace=True, hide_input_in_errors=True)
# NoticeBody's own annotations of these fields (tests/unit/test_minimisation.py checks).
FACTS_TYPE = dict[str, str | int | bool | float]
DETAIL_TYPE = dict[str, str | int | bool | None]
LINE_TYPE = str | None
W = TypeVar("W")


def _storable(value: W) -> W:
    check_storable(value)
    return value


_STORABLE = AfterValidator(_storable)
_FACTS = TypeAdapter[dict[str, Any]](Annotated[FACTS_TYPE, _STORABLE], config=_AS_CONTRACT)
# The detail is the event's own, each of its texts checked when the event was read: its
# types are checked again (a field added to an event must fit a body), its texts not.
_DETAIL = TypeAdapter[dict[str, Any]](DETAIL_TYPE, config=_AS_CONTRACT)
_LINE = TypeAdapter[str | None](Annotated[LINE_TYPE, _STORABLE], config=_AS_CONTRACT)


def rule_for_reader(rule_id: str, kind: NoticeType) -> str | None:
    """The rule as a reader of this kind may see it in the body, or None."""
    if kind not in DISCREET:
        return rule_id
    kinds = {part.split(".")[0] for part in rule_id.split("+")}
    return rule_id if kinds <= RULES_NAMED_TO_DISCREET else None


def _accuracy(kind: NoticeType, reading: Reading, view: View) -> dict[str, Any]:
    """The body's accuracy block: the relation, the third-party mark and their wording."""
    wording = [wording_key(reading.relation, kind)] if reading.relation else []
    wording += [THIRD_PARTY_WORDING] if view.third_party else []
    return {"relation": reading.relation, "third_party": view.third_party,
            "wording": tuple(wording)}  # fmt: skip


def _about(
    decision: Decision, people: Mapping[str, PersonView], view: View, reading: Reading
) -> tuple[PersonView, ...]:
    return tuple(
        _person_view(people[p], view.person, _was_present(p, people[p], reading))
        for p in decision.about
        if p in people
    )


def _was_present(person_id: str, person: PersonView, reading: Reading) -> bool | None:
    if reading.present is None or person.role != "child":
        return None
    return person_id in reading.present


def _digest(digest: HistoryDigest | None, allowed: frozenset[str]) -> HistoryDigest | None:
    if digest is None or allowed == EVERYTHING:
        return digest
    # The digest was validated when it was made: the allowed fields are kept as they are,
    # the others take their defaults.
    kept = {name: getattr(digest, name) for name in HistoryDigest.model_fields if name in allowed}
    return HistoryDigest().model_copy(update=kept)


def event_detail(event: Event) -> dict[str, str | int | bool | None]:
    """The event's own facts, flattened to dotted keys, without envelope or people."""
    dumped = event.model_dump(
        mode="json", exclude=set(ENVELOPE_FIELDS | PEOPLE_FIELDS | STRUCTURED_FIELDS)
    )
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


def _person_view(person: PersonView, allowed: frozenset[str], present: bool | None) -> PersonView:
    # The directory's view of the person was validated when it was read: what the reader may
    # not see goes back to its default (None), nothing is validated again.
    shown = {"present": present} if "present" in allowed else {}
    return person.model_copy(update=_hidden(allowed) | shown)


@lru_cache(maxsize=64)
def _hidden(allowed: frozenset[str]) -> dict[str, Any]:
    """Each field of a person's view not in ``allowed``, with its default (None, immutable):
    what a view made of the allowed fields alone holds there."""
    return {name: field.default for name, field in PersonView.model_fields.items()
            if name not in allowed}  # fmt: skip
