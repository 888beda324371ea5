"""When the front door convenes a strategy discussion the same day, and who else hears of it.
Pure: no I/O, no clock.

Working Together 2023: where there is reasonable cause to suspect that a child is suffering, or
is likely to suffer, significant harm, children's social care convenes a strategy discussion
with the police and health, at once where the child may be in danger. The broker cannot judge
that cause, but it can see three things that should prompt the front door to consider it the
same day:

- an injury to a baby not yet mobile (the emergency department rule's referral);
- a threat to kill a child (a crisis or a police-attended incident saying so);
- several thresholds crossed for one family within a short window: front-door referrals for
  the family within thirty days (this event's included) name three different rules or more
  (a crisis, a domestic abuse incident, the accumulation of concerns...), and this event
  crosses one the window had not seen. The same threshold crossed again (a further miss
  re-referring the accumulation) is no new threshold: the front door has been asked, and its
  decision says whether the discussion is held.

Then the event's referral to each front door is HIGH and says so (``convene_strategy_discussion``
and the reasons, which the front door's decision later answers as its outcome), and the police
force and the integrated care board's designated safeguarding professionals of each of those
areas are told that a strategy discussion is being convened, with the children it is about and
why: they take part in it; the front door shares the detail there.
"""

from collections.abc import Iterable
from datetime import datetime

from broker.rules.common import front_door_decision, front_door_route
from broker.rules.family import Addressee, ContactRole, Decision, Family
from broker.rules.table import Route
from broker.rules.thresholds import Thresholds
from schemas.events import Event
from schemas.notices import NoticeType, Severity

RULE = "strategy_discussion"
CONVENE = "convene_strategy_discussion"
NOT_YET_MOBILE_INJURY = "ed.injury_not_yet_mobile"
_DEFAULT = Thresholds()

_WHEN = (
    "an injury to a baby not yet mobile, a threat to kill a child, or "
    f"front-door referrals for the family under {_DEFAULT.strategy_thresholds} different rules "
    f"within {_DEFAULT.strategy_window.days} days"
)
ROUTES = (
    front_door_route(RULE, f"{_WHEN}: convene a strategy discussion today", (Severity.HIGH,)),
    Route(f"{RULE}.police", _WHEN, "the police force of the children's area: a strategy "
          "discussion is being convened", NoticeType.STRATEGY_DISCUSSION,
          ContactRole.SAFEGUARDING_LEAD, (Severity.HIGH,)),
    Route(f"{RULE}.health", _WHEN, "the integrated care board's designated safeguarding "
          "professionals of the children's area: a strategy discussion is being convened",
          NoticeType.STRATEGY_DISCUSSION, ContactRole.DESIGNATED_SAFEGUARDING, (Severity.HIGH,)),
)  # fmt: skip


def reasons(
    event: Event, decisions: Iterable[Decision], family: Family, received_at: datetime,
    limits: Thresholds,
) -> tuple[str, ...]:  # fmt: skip
    """Why this event calls for a strategy discussion (none: it does not)."""
    decisions = list(decisions)
    found = []
    if any(_names(d.rule_id, NOT_YET_MOBILE_INJURY) for d in decisions):
        found.append("injury_to_non_mobile_baby")
    if getattr(event, "threats_to_kill_a_child", False):
        found.append("threat_to_kill_a_child")
    if _thresholds_crossed(decisions, family, received_at, limits):
        found.append("several_thresholds")
    return tuple(found)


def with_strategy_discussion(
    event: Event, decisions: list[Decision], family: Family, received_at: datetime,
    limits: Thresholds = Thresholds(),
) -> list[Decision]:  # fmt: skip
    """The decisions, with each front-door referral raised to HIGH and asked to convene a
    strategy discussion, and police and health told, when the event calls for one."""
    why = reasons(event, decisions, family, received_at, limits)
    if not why or family.subject is None:
        return decisions
    facts: dict[str, str | int | bool] = {
        CONVENE: True,
        "strategy_discussion_reasons": ",".join(why),
    }
    if "several_thresholds" in why:
        crossed = _thresholds_crossed(decisions, family, received_at, limits)
        facts["thresholds_crossed"] = ",".join(sorted(crossed))
        facts["thresholds_window_days"] = limits.strategy_window.days
    referrals = [d for d in decisions if d.notice_type is NoticeType.FRONT_DOOR_REFERRAL]
    others = [d for d in decisions if d.notice_type is not NoticeType.FRONT_DOOR_REFERRAL]
    about = _about(referrals, family)
    if not referrals:
        referrals = front_door_decision(family, Severity.HIGH, RULE, about, facts)
    raised = [_convening(d, facts) for d in referrals]
    partners = _partners(raised, family, about, facts)
    return others + raised + partners


def _convening(referral: Decision, facts: dict[str, str | int | bool]) -> Decision:
    rule_id = referral.rule_id if _names(referral.rule_id, RULE) else (
        f"{referral.rule_id}+{RULE}.front_door")  # fmt: skip
    return Decision(referral.addressee, referral.notice_type, Severity.HIGH, rule_id,
                    referral.about, {**referral.facts, **facts})  # fmt: skip


def _partners(
    referrals: list[Decision], family: Family, about: tuple[str, ...],
    facts: dict[str, str | int | bool],
) -> list[Decision]:  # fmt: skip
    """Police and health of each area whose front door convenes it (the family's own when a
    referral went to a front door the family has no area for)."""
    areas: list[str | None] = [area for area, door in family.front_doors.items()
             if door in {r.addressee.org_id for r in referrals}] or [family.area]  # fmt: skip
    told: dict[Addressee, str] = {}
    for area in areas:
        if police := family.police_force(area):
            told.setdefault(Addressee(police, ContactRole.SAFEGUARDING_LEAD), f"{RULE}.police")
        if icb := family.icb(area):
            told.setdefault(Addressee(icb, ContactRole.DESIGNATED_SAFEGUARDING), f"{RULE}.health")
    return [Decision(addressee, NoticeType.STRATEGY_DISCUSSION, Severity.HIGH, rule_id, about,
                     facts) for addressee, rule_id in told.items()]  # fmt: skip


def _about(referrals: list[Decision], family: Family) -> tuple[str, ...]:
    """The people the referrals name, else the subject and the children."""
    named = tuple(dict.fromkeys(p for d in referrals for p in d.about))
    return named or (*family.subjects, *(c.person_id for c in family.children))


def _thresholds_crossed(
    decisions: list[Decision], family: Family, received_at: datetime, limits: Thresholds
) -> frozenset[str]:
    """The rules of the family's front-door referrals in the window, when there are enough of
    them and this event adds one the window had not seen; else none."""
    referral = NoticeType.FRONT_DOOR_REFERRAL
    now = _thresholds(d.rule_id for d in decisions if d.notice_type is referral)
    start = received_at - limits.strategy_window
    earlier = _thresholds(n.rule_id for n in family.history.notices
                          if n.at >= start and n.notice_type is referral)  # fmt: skip
    crossed = now | earlier
    if now - earlier and len(crossed) >= limits.strategy_thresholds:
        return crossed
    return frozenset()


def _thresholds(rule_ids: Iterable[str]) -> frozenset[str]:
    """The rules a referral's (possibly merged) rule ids name: "crisis.front_door+
    accumulation.front_door" crossed "crisis" and "accumulation"."""
    parts = (p for rule_id in rule_ids for p in rule_id.split("+") if p)
    names = (p.removesuffix(".out_of_hours").removesuffix(".front_door") for p in parts)
    return frozenset(n for n in names if n != RULE)


def _names(rule_id: str, prefix: str) -> bool:
    """Whether a (possibly merged: "a+b") rule id names a rule starting with ``prefix``."""
    return any(part.startswith(prefix) for part in rule_id.split("+"))
