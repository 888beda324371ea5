"""Scenario files: a directory, a timeline of events and the notices each must produce,
replayed through the real routing service and a real (throwaway) SQLite database.

The Kafka hop is replaced by a collecting publisher, so a scenario runs in a second and reads
like the policy it checks. A scenario names its recipients' contacts without keys: fresh key
pairs are made for the run, and every notice is opened with its recipient's key to prove it.

    {"name": "...", "start": "2027-05-10T10:00:00+01:00", "base_directory": "demo",
     "directory": {... DirectorySpec, contacts may omit hpke_public_key ...},
     "steps": [{"after_days": 0, "event": {...}, "expect": [
         {"recipient": "school-oakfield:key_adult", "rule": "crisis.child", "severity": "high",
          "deadline": "2027-05-11T08:45"}],
       "may": [{"recipient": "la-front-door:duty_manager", "rule": "patterns"}],
       "must_not": ["school-brookside"]}]}

An expectation may also say what the notice's body must hold (``body``): fields that must be
present, fields that must be absent, values fields must have, and fixed wording keys, each
field a dotted path into the body as its recipient reads it::

    {"recipient": "gp-hillview:safeguarding_lead", "rule": "crisis.gp",
     "body": {"present": ["facts.child_present"], "absent": ["detail.clinical_summary"],
              "equals": {"relation": "co_parent", "third_party": true,
                         "about.*.given_name": ["Dan"]},
              "wording": ["third_party.not_for_online_record_access"]}}

Every notice the expectation matches must hold it.

Each step's notices are judged against it (``judge``): every ``expect`` must be met; a
``deadline`` is the London wall-clock time the notice must be due (e.g. "2027-01-18T08:45",
to the second when seconds are given), whatever the clocks; ``may`` lists notices allowed but
not required; any notice to a recipient (contact or organisation id) under ``must_not`` fails
the step; with ``only_these`` (the default) any other notice is unexpected. All fields but
``event`` are optional, so older files read as before. A step may instead be the family's
front door confirming what an earlier step proposed (a move or step-down from an organisation
other than the front door, held for it): ``{"front_door_confirms": 0, "expect": [...]}``; a
front door recording a next step on a notice an earlier step sent it, after which the
router's timer tells the referrer of a decision: ``{"front_door_records": {"step": 0,
"recipient": "la-front-door:duty_manager", "outcome": "early_help"}, "expect": [...]}``; or
a round of the router's timer at the step's time (``{"timer": true, ...}``): missed deadlines
and overdue next steps escalate; or recipients acknowledging notices earlier steps sent them
(``{"acknowledges": [{"step": 0, "recipient": "..."}]}``); or the directory's administrator
creating or replacing records (``{"directory_update": {"people": [...]}}``: a birth gives an
unborn child's record its date of birth and NHS number). Peer brokers the partnership has
registered are listed as ``"peers"`` (``schemas.peers.PeerSpec`` without its keys: fresh ones
are made, and the transfer a peer gets is opened with its broker key).
"""

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, NaiveDatetime, model_validator

from broker.adapters.directory_projection import DirectoryProjection
from broker.adapters.kafka import Topics
from broker.adapters.scenario_database import ScenarioDatabase, scenario_database
from broker.fixtures import partnership
from broker.ports import Message, UnitOfWork
from broker.rules import actors
from broker.rules.deadlines import LONDON
from broker.rules.thresholds import Thresholds
from broker.services import follow_ups, next_steps, peers, proposals, receipts, reminders
from broker.services.directory_admin import load_directory
from broker.services.directory_bulk import bulk_load_directory
from broker.services.outbox import Outbox
from broker.services.routing import RoutingDeps, route_event
from producers import crypto
from producers.envelopes import open_notice, seal_event, sign_event
from schemas.directory import DirectorySpec
from schemas.events import EventAdapter
from schemas.notices import (
    NextStep,
    NoticeBody,
    NoticeHeader,
    Receipt,
    ReferralOutcome,
    SealedNotice,
)
from schemas.peers import PeerSpec, peer_contact_id
from schemas.transport import EventHeader

SCENARIO_NAMESPACE = uuid.UUID("0c6f1f0e-3b7a-4d59-9d8e-5a0f0c2b9e41")
ABSENT: Any = object()  # a path that leads nowhere in the body
EMPTY: tuple[Any, ...] = (None, {}, [], "")


class BodyExpectation(BaseModel):
    """What a notice's body must hold. A field is present when its path leads to a value that
    is neither null nor empty (false is a value: it was said)."""

    model_config = ConfigDict(extra="forbid")
    present: list[str] = []
    absent: list[str] = []
    equals: dict[str, Any] = {}
    wording: list[str] = Field([], description="fixed wording keys the body must carry")

    def problems(self, body: NoticeBody) -> list[str]:
        read = body.model_dump(mode="json")
        return [
            *(f"{path} missing" for path in self.present if not _is_present(_at(read, path))),
            *(f"{path} present" for path in self.absent if _is_present(_at(read, path))),
            *(f"{path} is {_shown(_at(read, path))}, expected {value!r}"
              for path, value in self.equals.items() if _at(read, path) != value),
            *(f"wording {key} missing" for key in self.wording if key not in body.wording),
        ]  # fmt: skip


def _at(value: Any, path: str) -> Any:
    """The value at a dotted path; a ``*`` over a list gives the values of every item, sorted
    (``about.*.given_name``: everyone the notice is about, in no particular order)."""
    head, _, rest = path.partition(".*")
    if rest or path.endswith(".*"):
        items = _at(value, head)
        if not isinstance(items, list):
            return ABSENT
        found = [_at(item, rest.lstrip(".")) if rest else item for item in items]
        return sorted((v for v in found if v is not ABSENT), key=json.dumps)
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return ABSENT
    return value


def _is_present(value: Any) -> bool:
    return value is not ABSENT and all(value != empty for empty in EMPTY)


def _shown(value: Any) -> str:
    return "absent" if value is ABSENT else repr(value)


class Expectation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    recipient: str
    rule: str
    severity: Literal["low", "medium", "high"] | None = None
    notice_type: str | None = None
    deadline: NaiveDatetime | None = Field(None, description="London wall-clock time")
    body: BodyExpectation | None = None

    def matches(self, told: "Told") -> bool:
        """Whether this is the notice meant; its deadline is judged apart (``wrong_deadline``),
        so a notice due at the wrong time is reported as that, not as missing."""
        header = told.header
        return (
            header.recipient_id == self.recipient
            and self.rule in told.rule
            and self.severity in (None, header.severity.value)
            and self.notice_type in (None, header.notice_type.value)
        )

    def wrong_deadline(self, notices: Sequence["Told"]) -> "DeadlineMismatch | None":
        """Every notice this expectation matches must be due at its deadline, if it sets one."""
        actual = tuple(london_time(t.header.deadline) for t in notices if self.matches(t))
        if self.deadline is None or all(due == self.deadline for due in actual):
            return None
        return DeadlineMismatch(self, actual)

    def wrong_body(self, notices: Sequence["Told"]) -> "BodyMismatch | None":
        """Every notice this expectation matches must hold its body expectation, if any."""
        if self.body is None:
            return None
        found = [(t, p) for t in notices if self.matches(t) and (p := self.body.problems(t.body))]
        return BodyMismatch(self, found) if found else None

    def describe(self) -> str:
        facts = [self.notice_type, self.severity]
        return f"{self.recipient} {self.rule} ({', '.join(f for f in facts if f) or 'any'})"


class Records(BaseModel):
    """A front door records a next step on a notice an earlier step sent it: its decision on
    a referral (with the outcome), or a transfer's written information or conference."""

    model_config = ConfigDict(extra="forbid")
    step: int = Field(description="the earlier step whose notice it is")
    recipient: str
    next_step: NextStep = NextStep.DECISION
    outcome: ReferralOutcome | None = None


class Earlier(BaseModel):
    """A notice an earlier step sent: that step's index and the recipient."""

    model_config = ConfigDict(extra="forbid")
    step: int
    recipient: str


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    after_days: float = 0
    event: dict[str, Any] = {}
    front_door_confirms: int | None = Field(
        None,
        description="the earlier step whose proposed move or step-down the family's "
        "front door confirms, instead of an event",
    )
    front_door_records: Records | None = Field(
        None, description="a front door's next step; the router's timer then tells the referrer"
    )
    acknowledges: list[Earlier] = Field(
        [], description="recipients acknowledging notices earlier steps sent them"
    )
    timer: bool = Field(
        False, description="the router's timer runs at the step's time: missed deadlines and "
        "overdue next steps escalate, step-down review reminders then due are sent"
    )  # fmt: skip
    directory_update: dict[str, Any] = Field(
        {}, description="records the directory's administrator creates or replaces (a "
        "DirectorySpec's parts): a birth gives the unborn record its date of birth"
    )  # fmt: skip
    expect: list[Expectation] = []
    may: list[Expectation] = []
    must_not: list[str] = Field([], description="contact or organisation ids never to be told")
    only_these: bool = True

    @model_validator(mode="after")
    def _event_or_confirmation(self) -> "Step":
        done = (bool(self.event), self.front_door_confirms is not None,
                self.front_door_records is not None, self.timer,
                bool(self.acknowledges), bool(self.directory_update))  # fmt: skip
        if sum(done) > 1:
            raise ValueError("a step is one of: an event, a front door's confirmation, a front "
                             "door's next step, acknowledgements, the timer, a directory "
                             "update")  # fmt: skip
        return self

    @model_validator(mode="after")
    def _not_both_wanted_and_forbidden(self) -> "Step":
        for wanted in (*self.expect, *self.may):
            if self.forbids_recipient(wanted.recipient, wanted.recipient.split(":")[0]):
                raise ValueError(f"{wanted.recipient} is both expected and under must_not")
        return self

    def forbids_recipient(self, recipient_id: str, org_id: str) -> bool:
        return recipient_id in self.must_not or org_id in self.must_not


def london_time(moment: datetime) -> datetime:
    """A moment as the wall-clock time in London, as scenario files write deadlines."""
    return moment.astimezone(LONDON).replace(tzinfo=None)


@dataclass(frozen=True)
class Told:
    """A notice a step produced: its header, the body its recipient opened, and the rule that
    decided it, as the broker recorded it (no header names the rule; a school's body may not
    either)."""

    header: NoticeHeader
    body: NoticeBody
    rule: str


@dataclass(frozen=True)
class DeadlineMismatch:
    expectation: Expectation
    actual: tuple[datetime, ...]  # London wall-clock times of the notices it matched

    def describe(self) -> str:
        expected = _clock(self.expectation.deadline)
        was = ", ".join(_clock(due) for due in self.actual)
        return f"{self.expectation.describe()}: expected due {expected}, was {was} (London)"


@dataclass(frozen=True)
class BodyMismatch:
    expectation: Expectation
    found: list[tuple[Told, list[str]]]  # each notice it matched, with what is wrong

    def describe(self) -> str:
        wrong = "; ".join(f"{t.rule}: {', '.join(p)}" for t, p in self.found)
        return f"{self.expectation.describe()}: {wrong}"


def _clock(moment: datetime | None) -> str:
    return moment.strftime("%a %Y-%m-%d %H:%M:%S").removesuffix(":00") if moment else "-"


@dataclass(frozen=True)
class Verdict:
    """How a step's notices compare with what the step says."""

    missing: list[Expectation]
    unexpected: list[Told]
    forbidden: list[Told]  # to a must_not recipient, whatever else matched them
    wrong_deadlines: list[DeadlineMismatch]
    allowed: list[Told]  # met only a ``may``: neither required nor unexpected
    unchecked: list[Told] = field(default_factory=list)  # met nothing, not only_these
    wrong_bodies: list[BodyMismatch] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not (self.missing or self.unexpected or self.forbidden or self.wrong_deadlines
                    or self.wrong_bodies)  # fmt: skip

    def failures(self) -> list[str]:
        return [
            *(f"missing {e.describe()}" for e in self.missing),
            *(f"unexpected {_told(t)}" for t in self.unexpected),
            *(f"must not be told: {_told(t)}" for t in self.forbidden),
            *(f"wrong deadline: {m.describe()}" for m in self.wrong_deadlines),
            *(f"wrong body: {m.describe()}" for m in self.wrong_bodies),
        ]


def _told(told: Told) -> str:
    header = told.header
    return (
        f"{header.recipient_id} {told.rule} ({header.notice_type.value}, {header.severity.value})"
    )


def judge(step: Step, notices: Sequence[Told]) -> Verdict:
    """Compares the notices a step produced with its expectations. Pure."""
    forbidden = [
        t for t in notices if step.forbids_recipient(t.header.recipient_id, t.header.recipient_org)
    ]
    rest = [t for t in notices if t not in forbidden]
    expected = [h for h in rest if any(e.matches(h) for e in step.expect)]
    allowed = [h for h in rest if h not in expected and any(m.matches(h) for m in step.may)]
    unexpected = [h for h in rest if h not in expected and h not in allowed]
    return Verdict(
        missing=[e for e in step.expect if not any(e.matches(t) for t in notices)],
        unexpected=unexpected if step.only_these else [],
        forbidden=forbidden,
        wrong_deadlines=[
            m for e in (*step.expect, *step.may) if (m := e.wrong_deadline(notices)) is not None
        ],
        allowed=allowed,
        unchecked=[] if step.only_these else unexpected,
        wrong_bodies=[
            b for e in (*step.expect, *step.may) if (b := e.wrong_body(notices)) is not None
        ],
    )


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    start: AwareDatetime
    base_directory: Literal["demo"] | None = None
    directory: dict[str, Any] = {}
    peers: list[dict[str, Any]] = Field([], description="PeerSpec fields but the keys")
    steps: list[Step]

    @classmethod
    def load(cls, path: Path) -> "Scenario":
        return cls.model_validate_json(path.read_text())


@dataclass
class StepResult:
    index: int
    event_type: str
    notices: list[Told]
    verdict: Verdict

    @property
    def missing(self) -> list[Expectation]:
        return self.verdict.missing

    @property
    def unexpected(self) -> list[Told]:
        return self.verdict.unexpected

    @property
    def passed(self) -> bool:
        return self.verdict.passed


@dataclass
class CollectingPublisher:
    """Kafka stand-in for dry runs: keeps what would have been published."""

    messages: list[Message] = field(default_factory=list)

    async def publish(self, messages: Sequence[Message]) -> None:
        self.messages.extend(messages)


TOPICS = Topics.with_prefix("scenario.")


@dataclass(frozen=True)
class Replay:
    """What a scenario's steps run on: the throwaway broker (its database, keys and the
    router's directory in memory), Kafka's stand-in, and the keys of everyone in the
    scenario's directory, to sign its events and open its notices with."""

    database: ScenarioDatabase
    publisher: CollectingPublisher
    outbox: Outbox
    recipients: dict[str, X25519PrivateKey]
    producers: dict[str, Ed25519PrivateKey]
    limits: Thresholds
    projection: DirectoryProjection

    def routing(self, at: datetime) -> RoutingDeps:
        """The routing service's dependencies at a step's time: the one place they are built."""
        database = self.database
        units = partial(database.unit_of_work, self.projection)
        return RoutingDeps(units, database.keys, self.publisher, TOPICS, self.limits,
                           clock=_fixed(at), data_keys=database.data_keys,
                           outbox=self.outbox)  # fmt: skip


async def run_scenario(scenario: Scenario, limits: Thresholds = Thresholds()) -> list[StepResult]:
    async with scenario_database() as database:
        spec, recipients, producers = _directory(scenario)
        # The whole directory at once, as an import loads it: the same records and refusals
        # as record by record (a step's directory update still goes record by record).
        async with database.unit_of_work() as uow:
            await bulk_load_directory(uow, spec, actor="scenario")
        for peer in scenario.peers:
            async with database.unit_of_work() as uow:
                await _register_peer(uow, peer, scenario.start, recipients, producers)
        publisher = CollectingPublisher()
        outbox = Outbox(database.unit_of_work, publisher, TOPICS.notices,
                        database.keys.pseudonym_secret)  # fmt: skip
        # The directory in memory as a router holds it: scenarios exercise it.
        replay = Replay(database, publisher, outbox, recipients, producers, limits,
                        DirectoryProjection())  # fmt: skip
        results: list[StepResult] = []
        for index, step in enumerate(scenario.steps):
            at = scenario.start + timedelta(days=step.after_days)
            results.append(await _run_step(scenario, index, step, at, replay, results))
        return results


def _fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


async def _run_step(
    scenario: Scenario, index: int, step: Step, at: datetime, replay: Replay,
    earlier: Sequence[StepResult] = (),
) -> StepResult:  # fmt: skip
    publisher, deps = replay.publisher, replay.routing(at)
    before = len(publisher.messages)
    if step.front_door_confirms is not None:
        await _confirm(_event_id(scenario, step.front_door_confirms), deps, replay)
        kind = "front_door_confirms"
    elif step.front_door_records is not None:
        await _records(step.front_door_records, earlier, deps, replay)
        kind = "front_door_records"
    elif step.timer:
        await _timer(deps, replay)
        kind = "timer"
    elif step.acknowledges:
        await _acknowledge(step.acknowledges, earlier, deps, replay)
        kind = "acknowledges"
    elif step.directory_update:
        async with replay.database.unit_of_work() as uow:
            spec = DirectorySpec.model_validate(step.directory_update)
            await load_directory(uow, spec, actor="scenario")
        kind = "directory_update"
    else:
        payload = {"event_id": _event_id(scenario, index), "occurred_at": at.isoformat(),
                   **step.event}  # fmt: skip
        event = EventAdapter.validate_python(payload)
        header = EventHeader(event_id=event.event_id, event_type=event.event_type,
                             source_org=event.source_org, received_at=at,
                             broker_key_id=deps.keys.public.hpke_key_id)  # fmt: skip
        signed = sign_event(event, replay.producers[event.source_org])
        await route_event(seal_event(signed, header, deps.keys.public.hpke), deps)
        kind = event.event_type.value
    published = publisher.messages[before:]
    opened = [
        _open(SealedNotice.model_validate_json(m.value), replay.recipients, deps)
        for m in published if m.topic == deps.topics.notices
    ]  # fmt: skip
    rules = await _rules(replay, [str(header.notice_id) for header, _ in opened])
    notices = [Told(header, body, rules[str(header.notice_id)]) for header, body in opened]
    return StepResult(index, kind, notices, judge(step, notices))


async def _rules(replay: Replay, notice_ids: list[str]) -> dict[str, str]:
    """The rule of each notice, from the broker's own records: the header does not name it."""
    async with replay.database.unit_of_work() as uow:
        records = await uow.notice_records.of(notice_ids)
    return {notice_id: record.rule_id for notice_id, record in records.items()}


def _event_id(scenario: Scenario, index: int) -> str:
    return str(uuid.uuid5(SCENARIO_NAMESPACE, f"{scenario.name}/{index}"))


async def _confirm(event_id: str, deps: RoutingDeps, replay: Replay) -> None:
    """The family's front door confirms the step's proposal, as through its API, and the
    router's timer applies it."""
    async with replay.database.unit_of_work() as uow:
        held = await uow.proposals.get_for_update(event_id)
        if held is None:
            raise ValueError("the step named proposed nothing for a front door to confirm")
        await proposals.accept_confirmation(uow, held.front_door, event_id, held.front_door,
                                            deps.clock())  # fmt: skip
    notices, reports = await proposals.confirm(deps, event_id)
    await replay.outbox.publish([str(n.notice_id) for n in notices], also=reports)


def _follow_up_deps(deps: RoutingDeps) -> follow_ups.FollowUpDeps:
    return follow_ups.FollowUpDeps(deps.keys, deps.data_keys)


async def _records(
    records: Records, earlier: Sequence[StepResult], deps: RoutingDeps, replay: Replay
) -> None:
    """The front door records the step through its API, and the router's timer tells the
    referring agency of a decision."""
    [told] = [
        t for t in earlier[records.step].notices if t.header.recipient_id == records.recipient
    ]
    header, now, more = told.header, deps.clock(), _follow_up_deps(deps)
    async with replay.database.unit_of_work() as uow:
        await next_steps.record_step(uow, header.recipient_org, str(header.notice_id),
                                     records.next_step, records.outcome, now, more)  # fmt: skip
    async with replay.database.unit_of_work() as uow:
        pending = await next_steps.due_for_telling(uow)
    sent = []
    for notice_id, step in pending:
        async with replay.database.unit_of_work() as uow:
            sent.append(await next_steps.tell_referrer(uow, notice_id, step, more, now))
    await replay.outbox.publish([s for s in sent if s])


async def _acknowledge(
    which: Sequence[Earlier], earlier: Sequence[StepResult], deps: RoutingDeps, replay: Replay
) -> None:
    """Each recipient acknowledges its notice, as through the inbox API."""
    for ack in which:
        [told] = [t for t in earlier[ack.step].notices if t.header.recipient_id == ack.recipient]
        async with replay.database.unit_of_work() as uow:
            await receipts.record(uow, ack.recipient, told.header.notice_id,
                                  Receipt.ACKNOWLEDGED, deps.clock(), deps.data_keys)  # fmt: skip


async def _timer(deps: RoutingDeps, replay: Replay) -> None:
    """One round of the router's timer at the step's time, as ``consumers/follow_up_timer.py``
    runs it: review reminders, escalations, overdue next steps."""
    now, more = deps.clock(), _follow_up_deps(deps)
    async with replay.database.unit_of_work() as uow:
        reviews = await reminders.due(uow, now)
        due = await follow_ups.due_for_escalation(uow, now, more.school_lead)
        overdue = await next_steps.due_overdue(uow, now)
    sent = []
    for notice_id in reviews:
        async with replay.database.unit_of_work() as uow:
            sent.append(await reminders.send(uow, notice_id, more, now))
    for notice_id in due:
        async with replay.database.unit_of_work() as uow:
            sent.append(await follow_ups.escalate(uow, notice_id, more, now))
    for notice_id, step in overdue:
        async with replay.database.unit_of_work() as uow:
            sent.append(await next_steps.escalate_overdue(uow, notice_id, step, more, now))
    await replay.outbox.publish([s for s in sent if s])


def _open(
    sealed: SealedNotice, recipients: dict[str, X25519PrivateKey], deps: RoutingDeps
) -> tuple[NoticeHeader, NoticeBody]:
    recipient = NoticeHeader.model_validate_json(sealed.header).recipient_id
    return open_notice(sealed, recipients[recipient], deps.keys.public.signing)


def _directory(
    scenario: Scenario,
) -> tuple[DirectorySpec, dict[str, X25519PrivateKey], dict[str, Ed25519PrivateKey]]:
    """The scenario's directory, every contact and every organisation given fresh keys."""
    records: dict[str, list[dict[str, Any]]] = {}
    if scenario.base_directory == "demo":
        demo = partnership.directory({c: _placeholder() for c, _, _ in partnership.contacts()},
                                     scenario.start.date())  # fmt: skip
        records = json.loads(demo.model_dump_json())
    for kind, extra in scenario.directory.items():
        records[kind] = [*records.get(kind, []), *extra]
    recipients = {}
    for contact in records.get("contacts", []):
        key, public = _recipient_key(contact["id"])
        contact["hpke_public_key"] = public
        recipients[contact["id"]] = key
    producers = {}
    for organisation in records.get("organisations", []):
        signing, public = _signing_key(organisation["id"])
        organisation["signing_keys"] = [{"public_key": public}]
        producers[organisation["id"]] = signing
    return DirectorySpec.model_validate(records), recipients, producers


# Each contact's and organisation's key pair, made the first time a scenario names it and
# reused by the scenarios a process replays after (each on a database of its own): making
# and encoding them was a tenth of a replay. Each run still holds only its own directory's.
_recipient_keys: dict[str, tuple[X25519PrivateKey, str]] = {}
_signing_keys: dict[str, tuple[Ed25519PrivateKey, str]] = {}


def _recipient_key(contact_id: str) -> tuple[X25519PrivateKey, str]:
    if contact_id not in _recipient_keys:
        key = X25519PrivateKey.generate()
        _recipient_keys[contact_id] = key, crypto.encode_public(key.public_key())
    return _recipient_keys[contact_id]


def _signing_key(org_id: str) -> tuple[Ed25519PrivateKey, str]:
    if org_id not in _signing_keys:
        key = Ed25519PrivateKey.generate()
        _signing_keys[org_id] = key, crypto.encode_public(key.public_key())
    return _signing_keys[org_id]


async def _register_peer(
    uow: UnitOfWork, peer: dict[str, Any], at: datetime,
    recipients: dict[str, X25519PrivateKey], producers: dict[str, Ed25519PrivateKey],
) -> None:  # fmt: skip
    """Registers the peer as an administrator would, with fresh broker and signing keys."""
    broker_key, signing = X25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    spec = PeerSpec.model_validate({
        **peer, "broker_key": crypto.encode_public(broker_key.public_key()),
        "signing_keys": [{"public_key": crypto.encode_public(signing.public_key())}],
    })  # fmt: skip
    await peers.register_peer(uow, spec, actors.operator("scenario"), at)
    recipients[peer_contact_id(spec.id)] = broker_key
    producers[spec.id] = signing


def _placeholder() -> str:
    """A public key the demo directory is built with, replaced by the contact's own."""
    return _recipient_key("placeholder")[1]
