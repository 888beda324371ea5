"""Alerts that tell a person a notice is waiting, and carry nothing of it. Pure: no I/O, no clock.

"Delivered" to an inbox is not "told" (domain brief, second edition): a person is alerted by
email or SMS. An alert travels over channels the partnership does not control (mail relays,
phone networks, a locked screen's preview), so it says only whose inbox has a notice and by
when it must be acknowledged: the organisation's name and the contact's role, the due time in
London time, and a link to the inbox. Never a child, a family, a person, the event's kind, the
notice's type or severity, or the rule that sent it: ``alert_text`` takes none of them, so it
cannot leak them.

A notice not yet acknowledged is alerted again once before its deadline: two hours before it,
or, for a school's morning deadline, the evening before, so the key adult can plan the morning.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from broker.rules.deadlines import LONDON
from broker.rules.family import ContactRole

SUBJECT = "A safeguarding notice is waiting"
NOTICE_PATH = "/inbox/notices/{notice_id}"
REMINDER_LEAD = timedelta(hours=2)
EVENING_BEFORE = time(18, 0)  # London: the evening before a school's morning deadline
MORNING_ENDS = time(12, 0)  # a school deadline before noon is a "morning" one


class Trigger(StrEnum):
    """Why a person is alerted; each (notice, trigger, channel) is alerted at most once."""

    NEW_NOTICE = "new_notice"
    ESCALATION = "escalation"
    DEADLINE_APPROACHING = "deadline_approaching"


class ChannelKind(StrEnum):
    EMAIL = "email"
    SMS = "sms"


# The role as the alert names it: a role, never a person.
ROLE_WORDS: dict[str, str] = {
    ContactRole.KEY_ADULT: "key adult",
    ContactRole.DEPUTY_KEY_ADULT: "deputy key adult",
    ContactRole.SAFEGUARDING_LEAD: "safeguarding lead",
    ContactRole.DUTY_MANAGER: "duty manager",
    ContactRole.EDUCATION_SAFEGUARDING_OFFICER: "education safeguarding officer",
    ContactRole.EMERGENCY_DUTY: "emergency duty team",
    ContactRole.DESIGNATED_SAFEGUARDING: "designated safeguarding professionals",
}

OPENINGS: dict[Trigger, str] = {
    Trigger.NEW_NOTICE: "A safeguarding notice is waiting for {org} ({role})",
    Trigger.ESCALATION: "A safeguarding notice has been escalated to {org} ({role})",
    Trigger.DEADLINE_APPROACHING: "A safeguarding notice for {org} ({role}) is still waiting "
    "to be acknowledged",
}


@dataclass(frozen=True)
class AlertFacts:
    """All an alert may say: whose inbox, by when, and where to open it."""

    trigger: Trigger
    org_name: str
    role: str
    deadline: datetime
    session_start: time | None  # a school's, when the recipient is a school
    link: str


def alert_text(facts: AlertFacts, now: datetime) -> str:
    """ "A safeguarding notice is waiting for Oakfield Primary School (key adult), due before
    school on Monday at 08:45", then the link on its own line."""
    opening = OPENINGS[facts.trigger].format(org=facts.org_name, role=role_words(facts.role))
    return f"{opening}, {due_words(facts.deadline, facts.session_start, now)}.\n{facts.link}"


def role_words(role: str) -> str:
    return ROLE_WORDS.get(role, role.replace("_", " "))


def due_words(deadline: datetime, session_start: time | None, now: datetime) -> str:
    """ "due before school tomorrow at 08:45", "due today at 14:00", "overdue since
    yesterday at 17:00": London time, the day in words a reader cannot misread."""
    local = deadline.astimezone(LONDON)
    day = day_words(local.date(), now.astimezone(LONDON).date())
    clock = f"{local:%H:%M}"
    if deadline <= now:
        return f"overdue since {day} at {clock}"
    if session_start is not None and local.time() == session_start:
        return f"due before school {day} at {clock}"
    return f"due {day} at {clock}"


def day_words(day: date, today: date) -> str:
    """today, tomorrow, yesterday, "on Monday" within the week ahead, else "on Mon 7 Dec"."""
    gap = (day - today).days
    named = {0: "today", 1: "tomorrow", -1: "yesterday"}
    if gap in named:
        return named[gap]
    if 1 < gap < 7:
        return f"on {day:%A}"
    return f"on {day:%a} {day.day} {day:%b}"


def reminder_at(created_at: datetime, deadline: datetime, school: bool) -> datetime | None:
    """When a notice still unacknowledged is alerted again: the first of (the evening before
    a school's morning deadline, two hours before the deadline) that falls after the notice
    was created; None when neither does (its first alert is reminder enough)."""
    candidates = [deadline - REMINDER_LEAD]
    local = deadline.astimezone(LONDON)
    if school and local.time() < MORNING_ENDS:
        evening = datetime.combine(local.date() - timedelta(days=1), EVENING_BEFORE, LONDON)
        candidates.append(evening)
    later = [moment for moment in sorted(candidates) if created_at < moment < deadline]
    return later[0] if later else None


def worth_sending(trigger: Trigger, deadline: datetime, answered: bool, now: datetime) -> bool:
    """Whether an alert still has a point at ``now``: not once the notice is acknowledged or
    rejected (someone has it in hand); a reminder not once the deadline has passed (the
    escalation, alerted in its own right, takes over). A new notice or an escalation past
    its deadline is still alerted: it waits all the more."""
    if answered:
        return False
    return trigger is not Trigger.DEADLINE_APPROACHING or now < deadline


def notice_link(base_url: str, notice_id: str) -> str:
    return base_url.rstrip("/") + NOTICE_PATH.format(notice_id=notice_id)
