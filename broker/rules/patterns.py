"""Family-level patterns, applied after the rule for the event type. Pure: no I/O, no clock.

- Co-occurrence ("toxic trio"): mental ill health, domestic abuse and substance misuse in one
  household within a window raise every notice's severity and add the front door.
- Accumulation: repeated concerns about one household within a window (three in three months
  by default) go to the front door. Disguised compliance shows as repeated medium concerns as
  much as low ones, so both count; a HIGH referral is not counted, having reached the front
  door on its own (a pattern that needs made HIGH, told to health alone, still counts). A
  planned ending (a completed piece of work, a step-down) is news for the other agencies but
  no concern: this event's ``signals`` and the chronology mark it ``NOT_A_CONCERN``, and it
  neither counts nor starts a referral. Each further concern in the
  window refers again.
- Step-down: a new concern inside a step-down window also goes to the plan's lead professional
  and action owners; an open plan's lead hears of patterns like missed appointments.
- One incident, one referral: every front-door referral an event calls for, from its own rule
  and from any pattern, becomes one referral per front door (``merged``), about everyone any of
  them named, as severe as the most severe, with every fact and every rule named. A second
  referral for the same incident would come with a second deadline.
Severity only ever rises here: nothing about a family, its children included, lowers it.
"""

from collections.abc import Iterable
from datetime import datetime

from broker.rules.common import front_door_decision, front_door_route
from broker.rules.ed_attendance import is_parent_crisis
from broker.rules.family import (
    FRONT_DOOR_TYPES,
    NOT_A_CONCERN,
    Addressee,
    ContactRole,
    Decision,
    Family,
)
from broker.rules.table import Route
from broker.rules.thresholds import Thresholds
from schemas.events import (
    EdAttendance,
    Event,
    ParentMentalHealthCrisis,
    PoliceDomesticAbuseIncident,
)
from schemas.notices import NoticeType, Severity

TOXIC_TRIO = frozenset({"mental_health", "domestic_abuse", "substance_misuse"})
ORDER = (Severity.LOW, Severity.MEDIUM, Severity.HIGH)
_DEFAULT = Thresholds()  # the table states the defaults; a partnership may set its own
ROUTES = (
    front_door_route("co_occurrence", "two of mental ill health, domestic abuse and substance "
                     f"misuse in one household within {_DEFAULT.co_occurrence_window.days} days "
                     "(all three: high); every other notice is raised one step",
                     (Severity.MEDIUM, Severity.HIGH)),
    front_door_route("accumulation", f"{_DEFAULT.accumulation_events} low or medium concerns "
                     f"about the household in {_DEFAULT.accumulation_window.days} days (a planned "
                     "ending is no concern)", (Severity.MEDIUM,)),
    Route("step_down.concern_returned", "a new concern inside a step-down window",
          "the plan's lead professional and action owners", NoticeType.PLAN_OWNER,
          ContactRole.SAFEGUARDING_LEAD, (Severity.MEDIUM, Severity.HIGH)),
)  # fmt: skip


def event_signals(event: Event) -> frozenset[str]:
    """The household risk signals this event itself carries."""
    match event:
        case ParentMentalHealthCrisis():
            flags = {"mental_health": True, "domestic_abuse": event.domestic_abuse,
                     "substance_misuse": event.substance_misuse}  # fmt: skip
            return frozenset(name for name, raised in flags.items() if raised)
        case EdAttendance() if is_parent_crisis(event):  # a deliberate overdose included
            return frozenset({"mental_health"})
        case PoliceDomesticAbuseIncident():
            return frozenset({"domestic_abuse"})
        case _:
            return frozenset()


def apply_patterns(
    decisions: list[Decision],
    signals: frozenset[str],
    family: Family,
    received_at: datetime,
    limits: Thresholds,
    new_concern: bool = True,
) -> list[Decision]:
    decisions = co_occurrence(decisions, signals, family, received_at, limits)
    decisions = accumulation(decisions, signals, family, received_at, limits)
    if new_concern:
        decisions = plan_owners(decisions, family, received_at)
    return merged(decisions)


def co_occurrence(
    decisions: list[Decision], signals: frozenset[str], family: Family, received_at: datetime,
    limits: Thresholds,
) -> list[Decision]:  # fmt: skip
    if not signals & TOXIC_TRIO:
        return decisions
    present = (family.history.signals_since(received_at - limits.co_occurrence_window)
               | signals) & TOXIC_TRIO  # fmt: skip
    if len(present) < 2:
        return decisions
    severity = Severity.HIGH if present == TOXIC_TRIO else Severity.MEDIUM
    facts: dict[str, str | int | bool] = {"co_occurring": ",".join(sorted(present))}
    raised = [_with(d, raise_one(d.severity), facts) for d in decisions]
    about = family.subjects + tuple(c.person_id for c in family.children)
    referral = front_door_decision(family, severity, "co_occurrence", about, facts,
                                   _children_areas(family))  # fmt: skip
    return raised + referral


def accumulation(
    decisions: list[Decision], signals: frozenset[str], family: Family, received_at: datetime,
    limits: Thresholds,
) -> list[Decision]:  # fmt: skip
    if not decisions or NOT_A_CONCERN in signals:
        return decisions
    if any(d.severity is Severity.HIGH and d.notice_type in FRONT_DOOR_TYPES for d in decisions):
        return decisions  # a high referral: the front door has it already
    earlier = family.history.concerns_since(received_at - limits.accumulation_window)
    if earlier + 1 < limits.accumulation_events:
        return decisions
    facts: dict[str, str | int | bool] = {
        "concerns": earlier + 1,
        "concerns_window_days": limits.accumulation_window.days,
    }
    about = family.subjects + tuple(c.person_id for c in family.children)
    referral = front_door_decision(family, Severity.MEDIUM, "accumulation", about, facts,
                                   _children_areas(family))  # fmt: skip
    return decisions + referral


def plan_owners(decisions: list[Decision], family: Family, received_at: datetime) -> list[Decision]:
    """Step-down windows: the lead professional and action owners hear of any new concern."""
    if not decisions:
        return decisions
    on = received_at.date()
    severity = max((d.severity for d in decisions), key=ORDER.index)
    severity = max(severity, Severity.MEDIUM, key=ORDER.index)
    extra = []
    for plan in family.plans:
        if not plan.in_step_down_window(on):
            continue
        facts: dict[str, str | int | bool] = {
            "plan": plan.kind, "step_down_until": str(plan.step_down_until),
        }  # fmt: skip
        for org in _owners(plan.lead_org, plan.owner_orgs):
            extra.append(Decision(Addressee(org, ContactRole.SAFEGUARDING_LEAD),
                                  NoticeType.PLAN_OWNER, severity, "step_down.concern_returned",
                                  (plan.person_id,), facts))  # fmt: skip
    return decisions + extra


def _children_areas(family: Family) -> tuple[str | None, ...]:
    return family.children_areas(family.subjects[0]) if family.subjects else (None,)


def _owners(lead: str | None, owners: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(o for o in (lead, *owners) if o))


def raise_one(severity: Severity) -> Severity:
    return ORDER[min(ORDER.index(severity) + 1, len(ORDER) - 1)]


def _with(decision: Decision, severity: Severity, facts: dict[str, str | int | bool]) -> Decision:
    return Decision(decision.addressee, decision.notice_type, severity, decision.rule_id,
                    decision.about, {**decision.facts, **facts})  # fmt: skip


# The notice record keeps a rule id in 100 characters, and a follow-up (escalation, reroute)
# appends its own suffix: a merged rule id keeps within this.
RULE_ID_LIMIT = 80


def merged(decisions: list[Decision]) -> list[Decision]:
    """One notice per addressee, kind and people: the most severe, with every reason. A front
    door gets one referral per event, about everyone its referrals named."""
    groups: dict[tuple[Addressee, NoticeType, tuple[str, ...]], list[Decision]] = {}
    for d in decisions:
        groups.setdefault(_merge_key(d), []).append(d)
    return [_merge(group) for group in groups.values()]


def _merge_key(decision: Decision) -> tuple[Addressee, NoticeType, tuple[str, ...]]:
    one_referral = decision.notice_type is NoticeType.FRONT_DOOR_REFERRAL
    return decision.addressee, decision.notice_type, () if one_referral else decision.about


def _merge(group: list[Decision]) -> Decision:
    if len(group) == 1:
        return group[0]
    first = group[0]
    about = tuple(dict.fromkeys(p for d in group for p in d.about))
    rule_id = joined_rule_ids([d.rule_id for d in group])
    facts = {k: v for d in group for k, v in d.facts.items()}
    severity = max((d.severity for d in group), key=ORDER.index)
    return Decision(first.addressee, first.notice_type, severity, rule_id, about, facts)


def joined_rule_ids(rule_ids: Iterable[str]) -> str:
    """Every rule named once, joined with '+'. Should that be too long to store, a suffix the
    rules share (".front_door") is written once: "crisis+co_occurrence.front_door"."""
    distinct = list(dict.fromkeys(rule_ids))
    joined = "+".join(distinct)
    if len(joined) <= RULE_ID_LIMIT:
        return joined
    suffix = "." + distinct[0].rsplit(".", 1)[-1]
    if all(r.endswith(suffix) for r in distinct):
        joined = "+".join(r.removesuffix(suffix) for r in distinct) + suffix
    return joined[:RULE_ID_LIMIT]
