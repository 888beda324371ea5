"""Who hears of a notice nobody acknowledged in time, or one its recipient rejected. Pure.

Not acknowledged by the deadline: a school's key adult -> the school's deputy -> the local
authority's safeguarding lead; a transfer -> the originating authority's duty manager; an
out-of-hours alert -> the authority's safeguarding lead -> the front door's duty manager; a
GP or health visiting notice -> the integrated care board's designated safeguarding
professionals (the front door's duty manager where no ICB is known); any other notice -> the
family's front door duty manager. When a chain runs out, the authority's safeguarding lead
(its emergency duty team out of hours) is alerted once; it never ends in a log line. Each
step is a notice of its own with its own deadline. A rejection never ends a notice: it goes
to the front door concerned (for a transfer, the authority the family left), or, when the
front door itself rejects it, to that authority's safeguarding lead.
"""

from datetime import datetime, timedelta

from broker.rules.deadlines import OTHER_PERIODS
from broker.rules.family import Addressee, ContactRole, Decision, Family, OrgKind
from broker.rules.london_time import london
from schemas.notices import FollowUp, NoticeBody, NoticeType

ESCALATION_PERIOD = timedelta(hours=4)
# A school's first notice escalates this long before its deadline (the start of the school's
# session), so that the deputy can still act before the children arrive.
SCHOOL_ESCALATION_LEAD = timedelta(minutes=60)
MAX_REASON_CHARS = 1000


def alert_deadline(
    sent_at: datetime, notice_type: NoticeType, period: timedelta = ESCALATION_PERIOD
) -> datetime:
    """When the alert at the end of a chain is due: the escalation period after it is sent;
    to an emergency duty team, out of hours, within its own real-time period (an hour)."""
    if notice_type is NoticeType.OUT_OF_HOURS:
        return sent_at + OTHER_PERIODS[NoticeType.OUT_OF_HOURS]
    return sent_at + period


def escalation_chain(decision: Decision, family: Family) -> tuple[Addressee, ...]:
    """The people told, in turn, while the notice stays unacknowledged past each deadline."""
    front_door = family.front_door()
    match decision.notice_type:
        case NoticeType.SCHOOL_SUPPORT:
            steps = [
                (decision.addressee.org_id, ContactRole.DEPUTY_KEY_ADULT),
                (front_door, ContactRole.SAFEGUARDING_LEAD),
            ]
        case NoticeType.TRANSFER:
            steps = [(_originating_front_door(decision, family), ContactRole.DUTY_MANAGER)]
        case NoticeType.GP_INFORMATION | NoticeType.HEALTH_VISITING if family.icb():
            # Health notices go to the integrated care board's designated professionals, who
            # hold health's own safeguarding duty; the front door only where no ICB is known.
            steps = [(family.icb(), ContactRole.DESIGNATED_SAFEGUARDING)]
        case NoticeType.OUT_OF_HOURS:  # the duty desk is closed: the senior manager on call
            steps = [(decision.addressee.org_id, ContactRole.SAFEGUARDING_LEAD),
                     (front_door, ContactRole.DUTY_MANAGER)]  # fmt: skip
        case _:
            steps = [(front_door, ContactRole.DUTY_MANAGER)]
    chain = _distinct(steps, decision.addressee)
    if chain or front_door is None:
        return chain
    return _distinct([(front_door, ContactRole.SAFEGUARDING_LEAD)], decision.addressee)


def reroute_target(decision: Decision, family: Family) -> Addressee | None:
    """Where a rejected notice goes next: the front door concerned, never nowhere."""
    if decision.notice_type is NoticeType.TRANSFER:
        front_door = _originating_front_door(decision, family)
    else:
        front_door = family.front_door()
    if front_door is None:
        return None
    if front_door == decision.addressee.org_id:
        return Addressee(front_door, ContactRole.SAFEGUARDING_LEAD)
    return Addressee(front_door, ContactRole.DUTY_MANAGER)


def escalated_body(
    original: NoticeBody, level: int, missed_deadline: datetime, missed_by: str
) -> NoticeBody:
    """The original notice, as its recipient saw it, with why it has come to this person."""
    facts = {
        **original.facts,
        "escalation_level": level,
        "missed_deadline": missed_deadline.isoformat(),
        "not_acknowledged_by": missed_by,
    }
    summary = (
        f"Not acknowledged by its deadline ({london(missed_deadline)}, London time): please "
        f"make sure someone acts on it. {original.summary}"
    )
    return original.model_copy(update={"summary": summary, "facts": facts})


def exhausted_body(
    original: NoticeBody, level: int, missed_deadline: datetime, missed_by: str
) -> NoticeBody:
    """The notice for the authority when everyone in its chain has let it lapse."""
    escalated = escalated_body(original, level, missed_deadline, missed_by)
    summary = (
        "Nobody in this notice's chain of escalation acknowledged it: no one is known to be "
        f"acting on it. {original.summary}"
    )
    facts = {**escalated.facts, "escalation_exhausted": True}
    return escalated.model_copy(update={"summary": summary, "facts": facts})


def rerouted_body(original: NoticeBody, rejected_by: str, reason: str) -> NoticeBody:
    """The rejected notice for the front door, with who rejected it and why."""
    facts = {**original.facts, "rejected_by": rejected_by, "rejection_reason": reason}
    summary = (
        "A recipient rejected this notice, so it comes to you to decide who should act: "
        f"{original.summary}"
    )
    return original.model_copy(update={"summary": summary, "facts": facts})


def follow_up_rule(rule_id: str, kind: FollowUp, level: int) -> str:
    return f"{rule_id}.{kind.value}{level if kind is FollowUp.ESCALATION else ''}"


def _originating_front_door(decision: Decision, family: Family) -> str | None:
    origin = decision.facts.get("from_authority")
    door = family.front_door(str(origin)) if origin else family.front_door()
    if door is not None and family.org_kinds.get(door) is OrgKind.PEER_BROKER:
        # A transfer a peer broker sent here: the peer escalates at its own authority when
        # no receipt reaches it (issue 16); here the notice stays with this front door.
        return family.front_door()
    return door


def _distinct(
    steps: list[tuple[str | None, ContactRole]], addressee: Addressee
) -> tuple[Addressee, ...]:
    seen = {addressee}
    chain: list[Addressee] = []
    for org_id, role in steps:
        step = Addressee(org_id, role) if org_id else None
        if step is not None and step not in seen:
            seen.add(step)
            chain.append(step)
    return tuple(chain)


def onward_from_front_door(target: Addressee) -> Addressee | None:
    """After a re-routed notice: the authority's safeguarding lead, unless that is who had it."""
    if target.role is ContactRole.SAFEGUARDING_LEAD:
        return None
    return Addressee(target.org_id, ContactRole.SAFEGUARDING_LEAD)
