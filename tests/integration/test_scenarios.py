"""Every scenario in tests/scenarios replayed through the real routing service and a throwaway
SQLite database: each step must produce exactly the notices the domain brief calls for, due
when the scenario says, to no one it forbids, and school notices must never carry clinical
detail."""

from pathlib import Path

import pytest

from broker.rules.deadlines import LONDON
from broker.rules.minimisation import rule_for_reader
from broker.rules.wording import MATTER_PREFIX, english
from broker.services.scenario import Scenario, StepResult, Told
from schemas.notices import NoticeHeader, NoticeType
from tests.scenario_runs import SCENARIO_DIR, SCENARIOS, results_of

pytestmark = pytest.mark.integration

SCHOOL_ROLES = frozenset({"key_adult", "deputy_key_adult"})


def describe(result: StepResult) -> str:
    failures = "; ".join(result.verdict.failures())
    return f"step {result.index} ({result.event_type}): {failures}"


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
async def test_scenario(path: Path) -> None:
    results = await results_of(path)
    failures = [describe(r) for r in results if not r.passed]
    assert not failures, f"{path.name}:\n" + "\n".join(failures)


def is_school_notice(header: NoticeHeader) -> bool:
    role = header.recipient_id.rsplit(":", 1)[-1]
    return header.notice_type is NoticeType.SCHOOL_SUPPORT or role in SCHOOL_ROLES


def clinical_summaries(scenario: Scenario) -> set[str]:
    return {
        str(step.event["clinical_summary"])
        for step in scenario.steps
        if step.event.get("clinical_summary")
    }


async def test_school_notices_carry_no_clinical_detail() -> None:
    """Operation Encompass: a school hears that something happened, never the clinical
    detail; school_support bodies carry no event detail at all."""
    problems: list[str] = []
    school_notices = 0
    for path in SCENARIOS:
        summaries = clinical_summaries(Scenario.load(path))
        for result in await results_of(path):
            for told in result.notices:
                header, body = told.header, told.body
                if not is_school_notice(header):
                    continue
                school_notices += 1
                where = f"{path.stem} step {result.index} {header.recipient_id} {told.rule}"
                if header.notice_type is NoticeType.SCHOOL_SUPPORT and body.detail != {}:
                    problems.append(f"{where}: detail {body.detail}")
                text = body.model_dump_json()
                problems += [f"{where}: quotes {s!r}" for s in summaries if s in text]
    assert school_notices > 0
    assert not problems, "\n".join(problems)


# The deadlines the domain brief sets, as London wall-clock times ("Deadlines and escalation").
EXPECTED_DEADLINES: dict[tuple[str, int, str], str] = {
    # Schools: the school's session start on its next school day (weekends, bank holidays,
    # its own term dates). Oakfield starts at 08:45; Ashgrove at 08:30, with an INSET day on
    # 5 Jan 2027 and one on 7 Jun 2027.
    ("school_deadlines_holidays", 0, "school-oakfield:key_adult"): "2026-11-02 08:45",
    ("school_deadlines_holidays", 0, "school-ashgrove:key_adult"): "2026-11-02 08:30",
    ("school_deadlines_holidays", 1, "school-oakfield:key_adult"): "2027-01-05 08:45",
    ("school_deadlines_holidays", 1, "school-ashgrove:key_adult"): "2027-01-06 08:30",
    ("school_deadlines_holidays", 2, "school-oakfield:key_adult"): "2027-04-12 08:45",
    ("school_deadlines_holidays", 2, "school-ashgrove:key_adult"): "2027-04-12 08:30",
    ("school_deadlines_holidays", 3, "school-oakfield:key_adult"): "2027-05-04 08:45",
    ("school_deadlines_holidays", 3, "school-ashgrove:key_adult"): "2027-05-04 08:30",
    ("school_deadlines_holidays", 4, "school-oakfield:key_adult"): "2027-06-07 08:45",
    ("school_deadlines_holidays", 4, "school-ashgrove:key_adult"): "2027-06-08 08:30",
    ("school_deadlines_holidays", 5, "school-oakfield:key_adult"): "2027-06-08 08:45",
    ("school_deadlines_holidays", 5, "school-ashgrove:key_adult"): "2027-06-08 08:30",
    ("school_deadlines_holidays", 6, "school-oakfield:key_adult"): "2027-06-09 08:45",
    ("school_deadlines_holidays", 6, "school-ashgrove:key_adult"): "2027-06-09 08:30",
    ("crisis_friday_evening", 0, "school-oakfield:key_adult"): "2027-05-10 08:45",
    ("ed_parent_self_harm", 0, "school-oakfield:key_adult"): "2027-03-09 08:45",
    ("ed_child_overdose", 0, "school-brookside:key_adult"): "2027-03-11 08:45",
    # Front door, high: 4 working hours (09:00-17:00 on working days).
    ("crisis_separated_parents", 0, "la-front-door:duty_manager"): "2027-01-14 13:00",
    ("ed_injury_not_yet_mobile", 0, "la-front-door:duty_manager"): "2027-02-10 12:00",
    ("ed_child_overdose", 0, "la-front-door:duty_manager"): "2027-03-11 10:00",
    # A plan's lead: as the front door, by severity (high: 4 working hours).
    ("ed_child_on_cp_plan", 0, "la-front-door:safeguarding_lead"): "2027-03-02 15:00",
    # Front door, medium: 24 working hours.
    ("withdrawal_non_engagement_parent_mental_health", 0, "la-front-door:duty_manager"): (
        "2027-01-22 14:00"
    ),
    # Transfers: one working day, across the early May bank holiday.
    ("move_to_known_area", 0, "la-elsewhere:duty_manager"): "2027-05-04 15:00",
    # (the front door also gets the proposal to confirm, so the rule names the notice meant)
    ("move_destination_unknown", 0, "la-front-door:duty_manager#move.destination_unknown"): (
        "2027-03-04 12:00"
    ),
}


def notice_for(results: list[StepResult], step: int, recipient: str) -> Told:
    """The step's notice to ``recipient``, or to "recipient#rule" when it gets several."""
    recipient, _, rule = recipient.partition("#")
    found = [t for t in results[step].notices
             if t.header.recipient_id == recipient and rule in t.rule]  # fmt: skip
    assert found, f"step {step}: no notice to {recipient}"
    return found[0]


@pytest.mark.parametrize(
    ("stem", "step", "recipient", "expected"),
    [(*key, value) for key, value in EXPECTED_DEADLINES.items()],
    ids=[f"{stem}-{step}-{recipient}" for stem, step, recipient in EXPECTED_DEADLINES],
)
async def test_deadlines(stem: str, step: int, recipient: str, expected: str) -> None:
    results = await results_of(SCENARIO_DIR / f"{stem}.json")
    deadline = notice_for(results, step, recipient).header.deadline.astimezone(LONDON)
    assert deadline.strftime("%Y-%m-%d %H:%M") == expected


WNB_THRESHOLD_PERCENT = 75  # the default rate (Thresholds.wnb_min_attendance_rate)


async def test_was_not_brought_notices_state_the_rate() -> None:
    """A was-not-brought notice states the rate that fired it, below the threshold: the child's
    own (attended of booked), or the rate across the brothers and sisters. Its health reader
    reads the rule in the body."""
    notices = [
        (told.body.rule_id, told.body.facts)
        for path in SCENARIOS
        for result in await results_of(path)
        for told in result.notices
        if "was_not_brought" in told.rule
    ]
    assert notices
    for rule_id, facts in notices:
        assert rule_id is not None
        own = facts["attended"], facts["booked"]
        assert facts["attendance_rate_percent"] == round(100 * own[0] / own[1]), rule_id
        fired = [r.split(".")[1] for r in rule_id.split("+")]  # gp, health, plan_lead, siblings
        if "siblings" in fired:
            assert facts["siblings_attendance_rate_percent"] < WNB_THRESHOLD_PERCENT, rule_id
        if set(fired) - {"siblings"}:
            assert facts["attendance_rate_percent"] < WNB_THRESHOLD_PERCENT, rule_id


CHILD_B_RATES = {
    "was_not_brought_child_b_24_percent": 24,
    "was_not_brought_twin_62_percent": 62,
    "was_not_brought_twin_50_percent": 50,
}


@pytest.mark.parametrize(("stem", "percent"), CHILD_B_RATES.items(), ids=list(CHILD_B_RATES))
async def test_the_child_b_review_rates_are_caught(stem: str, percent: int) -> None:
    """The rates the Child B review found (24%, 62%, 50%) are caught: the last appointment of
    each scenario tells the child's GP the rate."""
    results = await results_of(SCENARIO_DIR / f"{stem}.json")
    gp = notice_for(results, len(results) - 1, "gp-northgate:safeguarding_lead")
    assert gp.body.facts["attendance_rate_percent"] == percent


async def test_one_referral_per_front_door_per_event() -> None:
    """One incident is one referral: no event sends a front door two referrals. A notice that
    another recipient could not receive, passed to the front door in its place (its facts
    say for whom it was meant), stands for that notice, not for a second referral. (A round
    of the timer is no incident: it escalates each notice nobody acknowledged, on its own.)"""
    for path in SCENARIOS:
        for result in await results_of(path):
            doors = [t.header.recipient_id for t in result.notices
                     if t.header.notice_type is NoticeType.FRONT_DOOR_REFERRAL
                     and t.header.follow_up is None
                     and "intended_for" not in t.body.facts]  # fmt: skip
            assert len(doors) == len(set(doors)), f"{path.stem} step {result.index}: {doors}"


@pytest.mark.parametrize(
    ("stem", "step", "rule_id", "severity"),
    [
        ("crisis_repeated_medium", 3, "crisis.front_door+repeated_crises.front_door", "high"),
        (
            "accumulation_planned_discharges",
            4,
            "withdrawal.front_door+accumulation.front_door",
            "medium",
        ),
    ],
)
async def test_a_pattern_joins_the_events_own_referral(
    stem: str, step: int, rule_id: str, severity: str
) -> None:
    """A pattern firing on an event with its own referral adds its reason to that referral,
    which keeps the more severe grading of the two; the front door reads both in the body."""
    results = await results_of(SCENARIO_DIR / f"{stem}.json")
    referral = notice_for(results, step, "la-front-door:duty_manager")
    assert (referral.rule, referral.header.severity.value) == (rule_id, severity)
    assert referral.body.rule_id == rule_id


def is_school(told: Told) -> bool:
    """The scenarios' schools, by the demo directory's naming."""
    return told.header.recipient_org.startswith("school-")


async def test_each_body_names_its_rule_where_its_reader_may_see_it() -> None:
    """Every notice of every scenario: the rule the broker recorded is in the opened body for
    a reader allowed it, and absent from a school's body where it names what happened."""
    school_bodies_without_rule = 0
    for path in SCENARIOS:
        for result in await results_of(path):
            for told in result.notices:
                where = f"{path.stem} step {result.index} {told.header.recipient_id}"
                kind = told.header.notice_type
                # A school reads as a school whatever the notice (a plan it owns a part of).
                reader = NoticeType.SCHOOL_SUPPORT if is_school(told) else kind
                assert told.body.rule_id == rule_for_reader(told.rule, reader), where
                if kind is NoticeType.SCHOOL_SUPPORT and told.body.rule_id is None:
                    school_bodies_without_rule += 1
                    assert told.rule.split(".")[0] in {"crisis", "ed", "withdrawal"}, where
    assert school_bodies_without_rule > 0


# Whom a school is told to call, and the notice the scenario step must then hold: someone who
# received the event's notices (the front door, a plan's lead), or the service that referred
# it, or the authority's education safeguarding officer.
TOLD_BY_CALLER = {
    "school.call.front_door": {NoticeType.FRONT_DOOR_REFERRAL, NoticeType.TRANSFER},
    "school.call.lead_professional": {NoticeType.PLAN_OWNER},
}


async def test_school_notices_say_what_to_do_and_whom_to_call() -> None:
    """Every school notice in every scenario carries a reference, what to do and by when (its
    deadline, in London time, never "today" unless it is due that day), and whom to call:
    someone the step told, when it names a front door or a plan's lead."""
    problems: list[str] = []
    for path in SCENARIOS:
        for result in await results_of(path):
            types = {t.header.notice_type for t in result.notices}
            for told in result.notices:
                if told.header.notice_type is not NoticeType.SCHOOL_SUPPORT:
                    continue
                where = f"{path.stem} step {result.index} {told.header.recipient_id}"
                school = told.body.school
                if school is None or not school.reference or not school.actions:
                    problems.append(f"{where}: no reference or actions")
                    continue
                if school.act_by != told.header.deadline:
                    problems.append(f"{where}: acts by {school.act_by}, due at another time")
                if "today" in told.body.summary.lower():
                    problems.append(f"{where}: says today")
                needed = TOLD_BY_CALLER.get(school.who_to_call_role or "")
                if needed and not needed & types:
                    problems.append(f"{where}: calls {school.who_to_call_role}, who was not told")
    assert not problems, "\n".join(problems)


def wording_keys(told: Told) -> set[str]:
    """Every wording key a notice's body carries, for its reader's page to word."""
    school = told.body.school
    keys = set(told.body.wording)
    if school:
        keys |= {*school.actions, school.act_by_wording, MATTER_PREFIX + school.matter.value}
        keys |= {school.who_to_call_role} if school.who_to_call_role else set()
    return keys


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
async def test_every_wording_key_has_english(path: Path) -> None:
    """A notice's reader sees sentences: every key the scenario's notices carry is worded in
    the catalogue (a new key without a text fails here)."""
    results = await results_of(path)
    carried = {key for r in results for told in r.notices for key in wording_keys(told)}
    assert not carried - set(english()), f"{path.name}: no English for these keys"
