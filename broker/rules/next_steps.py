"""What a notice's reader owes once it has acknowledged it, by when, and what the referring
agency learns. Pure: times come in as arguments.

A front door decides what to do with a referral within one working day of receiving it
(Working Together 2023): no further action, early help, an assessment, a strategy discussion,
or a transfer elsewhere; the agency that referred learns the decision, who acknowledged and
when. A referral for a high-risk domestic abuse incident also owes, in the same day, the
front door's consideration of a referral to the MARAC (the multi-agency risk assessment
conference for high-risk victims): a task that is tracked and chased, not a line to skim.
After a transfer, the receiving authority holds a transfer-in conference within 15 working
days (England and Wales) and, where either authority is in Wales, written information
follows within 3 working days. A step not met by its time escalates like a missed
acknowledgement: a referral's steps to the front door's safeguarding lead, a transfer's
steps to the originating authority, which must chase them. A move to an authority the
partnership cannot reach makes the originating front door owe the sending of the history to
it within one working day (the time a transfer has to be acknowledged): its own safeguarding
lead chases it.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from broker.rules.deadlines import (
    OFFICE_HOURS,
    WorkingHours,
    add_working_hours,
    close_of_working_days,
    nation_of,
)
from broker.rules.london_time import london
from schemas.notices import NextStep, NoticeBody, NoticeType, ReferralOutcome

TRANSFER_CONFERENCE_WORKING_DAYS = 15
WALES_WRITTEN_INFORMATION_WORKING_DAYS = 3
# The fact a rule sets on a front-door referral that owes a MARAC consideration.
CONSIDER_MARAC = "consider_marac_referral"
# The fact a move sets on the transfer its originating front door must send by hand
# (rules/move.py), and the one naming the authority for whoever chases it.
SEND_HISTORY_TO = "send_history_to"
TASK = "task"
WORDING_PREFIX = "outcome."  # "outcome.early_help": the recipient's system words the decision

STEP_WORDS = {
    NextStep.DECISION: "the front door's decision on this referral",
    NextStep.WRITTEN_INFORMATION: "the written information on this transfer (Wales)",
    NextStep.TRANSFER_IN_CONFERENCE: "the transfer-in conference",
    NextStep.MARAC_REFERRAL_CONSIDERED: "the front door's consideration of a MARAC referral",
    NextStep.HISTORY_SENT: "the history sent to the authority the family moved to",
}
OUTCOME_WORDS = {
    ReferralOutcome.NO_FURTHER_ACTION: "no further action by children's social care",
    ReferralOutcome.EARLY_HELP: "early help",
    ReferralOutcome.ASSESSMENT: "an assessment by children's social care",
    ReferralOutcome.STRATEGY_DISCUSSION: "a strategy discussion",
    ReferralOutcome.TRANSFERRED: "transferred to another authority",
}


def steps_owed(
    notice_type: NoticeType,
    received_at: datetime,
    facts: Mapping[str, str | int | bool],
    nation: str = "ENG",
    hours: WorkingHours = OFFICE_HOURS,
) -> dict[NextStep, datetime]:
    """The next steps a notice of this type owes its first reader, each with its time. A
    follow-up (escalation, re-route) owes none of its own: the steps belong to the chain."""
    match notice_type:
        case NoticeType.FRONT_DOOR_REFERRAL:
            decision_by = add_working_hours(received_at, _day(hours), nation, hours)
            steps = {NextStep.DECISION: decision_by}
            if facts.get(CONSIDER_MARAC) is True:
                steps[NextStep.MARAC_REFERRAL_CONSIDERED] = decision_by
            return steps
        case NoticeType.TRANSFER if facts.get(SEND_HISTORY_TO):
            # Its reader, the originating front door, holds no conference: it sends the
            # history, which the receiving authority's own procedures then follow.
            return {NextStep.HISTORY_SENT: add_working_hours(received_at, _day(hours), nation,
                                                             hours)}  # fmt: skip
        case NoticeType.TRANSFER:
            steps = {NextStep.TRANSFER_IN_CONFERENCE: close_of_working_days(
                received_at, TRANSFER_CONFERENCE_WORKING_DAYS, nation, hours)}  # fmt: skip
            if _touches_wales(facts):
                steps[NextStep.WRITTEN_INFORMATION] = close_of_working_days(
                    received_at, WALES_WRITTEN_INFORMATION_WORKING_DAYS, nation, hours
                )
            return steps
        case _:
            return {}


def _day(hours: WorkingHours) -> float:
    return hours.length.total_seconds() / 3600


def _touches_wales(facts: Mapping[str, str | int | bool]) -> bool:
    areas = (str(facts.get("from_authority") or ""), str(facts.get("to_authority") or ""))
    return any(nation_of(area) == "WLS" for area in areas)


@dataclass(frozen=True)
class Decider:
    """The front door that decided: its id, its name, and how to reach it."""

    org_id: str
    name: str
    contact: str


def outcome_body(
    referral: NoticeBody,
    outcome: ReferralOutcome,
    decided_at: datetime,
    by: Decider,
    acknowledged_at: datetime | None,
    reference: str,
) -> NoticeBody:
    """What the referring agency reads, from the front door: its referral's reference and
    when it happened (it sent both), who acknowledged it and when, and the decision; nobody's
    detail, no history."""
    acknowledged = f"acknowledged {london(acknowledged_at)}; " if acknowledged_at else ""
    summary = (
        f"Your referral (reference {reference}) was {acknowledged}the front door "
        f"({by.name}) decided on {london(decided_at)}: {OUTCOME_WORDS[outcome]}."
    )
    facts: dict[str, str | int | bool | float] = {
        "referral_reference": reference,
        "outcome": outcome.value,
        "decided_at": decided_at.isoformat(),
        "decided_by": by.name,
    }
    if acknowledged_at is not None:
        facts["acknowledged_at"] = acknowledged_at.isoformat()
    return NoticeBody(
        summary=summary,
        event_type=referral.event_type,
        occurred_at=referral.occurred_at,
        source_org=by.org_id,
        facts=facts,
        who_to_call=by.contact,
        wording=(f"{WORDING_PREFIX}{outcome.value}",),
    )


def overdue_body(original: NoticeBody, step: NextStep, due: datetime, owed_by: str) -> NoticeBody:
    """The notice, for whoever must chase a next step that is overdue: which step, when it
    was due and who owes it."""
    words = STEP_WORDS[step]
    if step is NextStep.HISTORY_SENT and original.facts.get(TASK):
        words = f'the task "{original.facts[TASK]}"'  # names the authority
    summary = (
        f"Overdue: {words} was due by {london(due)} from {owed_by} and is not "
        f"recorded. Please make sure it happens. {original.summary}"
    )
    facts = {**original.facts, "overdue_step": step.value, "step_due": due.isoformat(),
             "step_owed_by": owed_by}  # fmt: skip
    return original.model_copy(update={"summary": summary, "facts": facts})
