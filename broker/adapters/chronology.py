"""The households' multi-agency chronology in SQL: every event received and every notice
sent, with who was told, what kind of notice, why and when. Ids, types and facts only.

It is also the memory that family-level patterns and history digests read back.
"""

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import BindParameter, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import db
from broker.adapters.bulk import Row
from broker.ports import ChronologyLine
from broker.rules.admission import Arrival
from broker.rules.family import Decision, HouseholdHistory, PastEvent, PastNotice
from schemas.notices import NoticeHeader, NoticeType, Severity


class Line(Protocol):
    """What a household's history reads of a chronology line (``HISTORY_COLUMNS``): a row of
    those columns, or a whole ``db.ChronologyEntry``."""

    id: int
    household_id: str
    at: datetime
    kind: str
    event_id: str
    event_type: str
    notice_id: str | None
    notice_type: str | None
    severity: str | None
    rule_id: str | None
    signals: str | None


_c = db.ChronologyEntry
# Not the facts (JSON, the longest column) nor the recipient: a history does not read them.
HISTORY_COLUMNS = (_c.id, _c.household_id, _c.at, _c.kind, _c.event_id, _c.event_type,
                   _c.notice_id, _c.notice_type, _c.severity, _c.rule_id, _c.signals)  # fmt: skip


def history_lines(households: Collection[str] | BindParameter[Any]) -> Select[*tuple[Any, ...]]:
    return select(*HISTORY_COLUMNS).where(db.ChronologyEntry.household_id.in_(households))


def areas_left(households: Collection[str] | BindParameter[Any]) -> Select[str, str, date | None]:
    """The areas the households moved out of, with when."""
    a = db.HouseholdArea
    return select(a.household_id, a.area, a.moved_out).where(
        a.household_id.in_(households), a.moved_out.is_not(None)
    )


# The two for a group's households (``households``), built once: building a statement costs
# more than sending it, and a routing group reads both.
HISTORY_LINES = history_lines(bindparam("households", expanding=True))
AREAS_LEFT = areas_left(bindparam("households", expanding=True))


async def household_history(session: AsyncSession, households: set[str]) -> HouseholdHistory:
    if not households:
        return HouseholdHistory()
    query = history_lines(households).order_by(db.ChronologyEntry.at, db.ChronologyEntry.id)
    rows: Sequence[Line] = (await session.execute(query)).all()
    areas = await session.execute(areas_left(households).order_by(db.HouseholdArea.moved_out))
    return history_of(rows, tuple(dict.fromkeys(a.area for a in areas)))


def history_of(rows: Sequence[Line], previous_areas: tuple[str, ...] = ()) -> HouseholdHistory:
    """The history these lines tell, read in the order of (at, id)."""
    return HouseholdHistory(
        events=tuple(_past_events(rows)),
        notices=tuple(_past_notices(rows)),
        previous_areas=previous_areas,
    )


def _past_events(rows: Sequence[Line]) -> Iterable[PastEvent]:
    seen: set[str] = set()
    for row in rows:
        if row.kind == "event" and row.event_id not in seen:
            seen.add(row.event_id)
            signals = frozenset(filter(None, (row.signals or "").split(",")))
            yield PastEvent(at=row.at, event_type=row.event_type, signals=signals,
                            event_id=row.event_id)  # fmt: skip


def _past_notices(rows: Sequence[Line]) -> Iterable[PastNotice]:
    seen: set[str] = set()
    for row in rows:
        if row.kind == "notice" and row.notice_id and row.notice_id not in seen:
            seen.add(row.notice_id)
            yield PastNotice(
                at=row.at,
                event_id=row.event_id,
                severity=Severity(row.severity or "low"),
                notice_type=NoticeType(row.notice_type or "agency_information"),
                rule_id=row.rule_id or "",
            )


def record(
    session: AsyncSession,
    households: Iterable[str],
    header: Arrival,
    occurred_at: datetime,
    signals: frozenset[str],
    sent: Sequence[tuple[NoticeHeader, Decision]],
    *,
    with_event: bool = True,
) -> None:
    """Adds the lines of ``lines`` to the session, for a caller writing one event at a time."""
    rows = lines(households, header, occurred_at, signals, sent, with_event=with_event)
    session.add_all(db.ChronologyEntry(**row) for row in rows)


# Every line names every column, so that a group's lines go in as one statement.
_EMPTY: dict[str, object] = dict.fromkeys(
    ("notice_id", "recipient_id", "notice_type", "severity", "rule_id", "facts", "signals")
)


def lines(
    households: Iterable[str],
    header: Arrival,
    occurred_at: datetime,
    signals: frozenset[str],
    sent: Sequence[tuple[NoticeHeader, Decision]],
    *,
    with_event: bool = True,
) -> list[Row]:
    """One line for the event, when it happened, and one per notice, when it was sent, in
    every household of the family (only the notices' lines, ``with_event`` false, for the
    notices an event's confirmed proposal released later)."""
    rows: list[Row] = []
    for household_id in households:
        if with_event:
            rows.append(_EMPTY | {
                "household_id": household_id, "at": occurred_at, "kind": "event",
                "event_id": str(header.event_id), "event_type": header.event_type.value,
                "source_org": header.source_org, "signals": ",".join(sorted(signals)) or None,
            })  # fmt: skip
        for notice, decision in sent:
            rows.append(_EMPTY | {
                "household_id": household_id, "at": notice.created_at, "kind": "notice",
                "event_id": str(header.event_id), "event_type": header.event_type.value,
                "source_org": header.source_org, "notice_id": str(notice.notice_id),
                "recipient_id": notice.recipient_id, "notice_type": notice.notice_type.value,
                "severity": notice.severity.value, "rule_id": decision.rule_id,
                "facts": json.dumps(dict(decision.facts), sort_keys=True),
            })  # fmt: skip
    return rows


def with_lines(
    history: HouseholdHistory, rows: Sequence[Row], households: Iterable[str]
) -> HouseholdHistory:
    """The history read from the database, and the lines not yet written (of a group's
    earlier events) for these households after it: as if they had been written first."""
    homes = set(households)
    pending = [db.ChronologyEntry(**row) for row in rows if row["household_id"] in homes]
    if not pending:
        return history
    # Unwritten lines would have come after every line read (their ids are later): a
    # stable sort by time keeps them after those at the same time, and the first line of
    # each event is kept, as when they are read in the order of (at, id). A notice is in
    # one group only (its record's id is unique), so its lines need no such care.
    events = sorted([*history.events, *_past_events(pending)], key=lambda e: e.at)
    notices = sorted([*history.notices, *_past_notices(pending)], key=lambda n: n.at)
    firsts = {e.event_id: e for e in reversed(events)}
    kept = tuple(e for e in events if firsts[e.event_id] is e)
    return replace(history, events=kept, notices=tuple(notices))


async def chronology_of(session: AsyncSession, household_id: str) -> list[ChronologyLine]:
    """Every event and notice for the household, with each notice's receipts and
    escalation, in time order."""
    rows = (await session.scalars(
        select(db.ChronologyEntry).where(db.ChronologyEntry.household_id == household_id)
    )).all()  # fmt: skip
    notice_ids = [r.notice_id for r in rows if r.notice_id]
    records = {n.notice_id: n for n in (await session.scalars(
        select(db.NoticeRecord).where(db.NoticeRecord.notice_id.in_(notice_ids))
    )).all()}  # fmt: skip
    lines = [_line(r, records.get(r.notice_id or "")) for r in rows]
    for row in rows:
        record = records.get(row.notice_id or "")
        if record is not None:
            lines += _receipts(row, record)
    lines += await _next_steps(session, rows)
    return sorted(lines, key=lambda line: (line.at, _KIND_ORDER[line.kind]))


RECEIPTS = ("delivered", "viewed", "acknowledged", "rejected", "escalated", "outcome",
            "step_met", "step_overdue")  # fmt: skip
_KIND_ORDER = {"event": 0, "notice": 1} | {kind: 2 + i for i, kind in enumerate(RECEIPTS)}


def _line(row: db.ChronologyEntry, record: db.NoticeRecord | None) -> ChronologyLine:
    return ChronologyLine(
        at=row.at, kind=row.kind, event_id=row.event_id, event_type=row.event_type,
        source_org=row.source_org, notice_id=row.notice_id, recipient_id=row.recipient_id,
        notice_type=row.notice_type, severity=row.severity, rule_id=row.rule_id,
        facts=json.loads(row.facts) if row.facts else None,
        deadline=record.deadline if record else None,
    )  # fmt: skip


def _receipts(row: db.ChronologyEntry, record: db.NoticeRecord) -> list[ChronologyLine]:
    times = {"delivered": record.delivered_at, "viewed": record.viewed_at,
             "acknowledged": record.acknowledged_at, "rejected": record.rejected_at,
             "escalated": record.escalated_at}  # fmt: skip
    return [
        ChronologyLine(at=at, kind=kind, event_id=row.event_id, event_type=row.event_type,
                       source_org=row.source_org, notice_id=row.notice_id,
                       recipient_id=row.recipient_id)
        for kind, at in times.items() if at
    ]  # fmt: skip


async def _next_steps(
    session: AsyncSession, rows: Sequence[db.ChronologyEntry]
) -> list[ChronologyLine]:
    """The front door's decision on each referral (``outcome``, with the decision), a
    transfer's steps met (``step_met``), and steps that went overdue (``step_overdue``)."""
    by_notice = {r.notice_id: r for r in rows if r.notice_id}
    found = (await session.scalars(
        select(db.NoticeMilestone).where(db.NoticeMilestone.notice_id.in_(list(by_notice)))
    )).all()  # fmt: skip
    return [line for m in found for line in _step_lines(m, by_notice[m.notice_id])]


def _step_lines(milestone: db.NoticeMilestone, row: db.ChronologyEntry) -> list[ChronologyLine]:
    met = "outcome" if milestone.outcome else "step_met"
    facts: dict[str, object] = {"step": milestone.step, "due": milestone.due_at.isoformat()}
    said = {met: (milestone.met_at, milestone.met_by, {"outcome": milestone.outcome}),
            "step_overdue": (milestone.escalated_at, row.recipient_id, {})}  # fmt: skip
    return [
        ChronologyLine(at=at, kind=kind, event_id=row.event_id, event_type=row.event_type,
                       source_org=row.source_org, notice_id=row.notice_id, recipient_id=by,
                       facts={**facts, **{k: v for k, v in extra.items() if v}})
        for kind, (at, by, extra) in said.items() if at is not None
    ]  # fmt: skip
