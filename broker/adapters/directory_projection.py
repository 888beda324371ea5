"""The directory in memory: what resolving a family reads, held by each router.

Loaded whole at the router's start (one Core ``select`` per table, no ORM objects), then kept
current from the directory's change log: at the start of each routing transaction the changes
after the last one seen are read, and only the records they name are read again. Every
directory write names its record there (services/directory_changes.py), those routing makes
included; a change it cannot apply record by record (a kind it does not know, an id it cannot
parse, more changes than reading the records one by one is worth) reloads it whole, logged
and counted (``sgb_directory_projection_reloads``).

Only committed changes are read, at a transaction's start: a transaction that writes to the
directory reads the records its own change log rows name back into a state of its own, over
the shared one (``read_back``, ``SqlDirectory``), and one rolled back leaves the projection
as it was. A change log id allocated by a transaction that
commits after a later one (PostgreSQL sequences) is looked for again until it appears or
``GAP_PATIENCE`` has passed (change_log_gaps.py, shared with ``SqlDirectory.organisations``),
and so is one just below the newest, not yet committed when the projection loads.
"""

import asyncio
import gc
import sys
import time
from collections.abc import Collection, Sequence
from functools import cache
from typing import Any

import structlog
from prometheus_client import Counter
from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import db, metrics
from broker.adapters.change_log_gaps import advanced, unexpired, unseen
from broker.adapters.directory import (
    AREA_ONLY,
    ORGANISATION_ENTITIES,
    Organisations,
    read_organisations,
    recent_gaps,
)
from broker.adapters.directory_records import Membership, OwnerRow, PersonRow, PlanRow
from broker.adapters.directory_state import DirectoryState, tie_key
from broker.rules.family import Tie

log = structlog.get_logger(__name__)

RELOADS = Counter(
    "sgb_directory_projection_reloads",
    "Whole reloads of a router's directory projection, by reason.",
    ["reason"],
    registry=metrics.REGISTRY,
)

# More changes than this at once (a directory import) are read as a whole directory.
MOST_CHANGES_APPLIED_ONE_BY_ONE = 5000
IN_CHUNK = 900  # ids per IN list (SQLite's bound-parameter limit, with room to spare)

_intern = sys.intern


class DirectoryProjection:
    """One router's copy of the directory; ``refresh`` it at the start of each transaction."""

    def __init__(self) -> None:
        self.state = DirectoryState()
        self.organisations = Organisations({}, {}, {}, {}, {}, {})
        self.seen = 0  # the last change log id applied
        self._gaps: dict[int, float] = {}  # ids below ``seen`` not yet seen, and since when
        self._lock = asyncio.Lock()
        self.loaded = False

    async def load(self, session: AsyncSession) -> None:
        """Reads the whole directory (the change log's position first: a change made while
        it loads is applied again by the next refresh, which is harmless)."""
        async with self._lock:
            await self._load(session)

    async def refresh(self, session: AsyncSession) -> None:
        """Applies the changes committed since the last refresh (a first call loads)."""
        async with self._lock:
            if not self.loaded:
                await self._load(session)
                return
            changes = await _changes_after(session, self.seen, self._gaps)
            if not changes:
                self._forget_old_gaps()
                return
            plan = _plan(changes)
            if isinstance(plan, str) or len(changes) > MOST_CHANGES_APPLIED_ONE_BY_ONE:
                await self._reload(session, plan if isinstance(plan, str) else "many_changes")
            else:
                if "organisations" in plan:
                    self.organisations = await read_organisations(session)
                await _apply(session, self.state, plan)
            self._advance([c[0] for c in changes])

    async def read_back(
        self, session: AsyncSession, own: DirectoryState, changes: Sequence[tuple[str, str]]
    ) -> bool:
        """Reads the records these changes (entity, id) name into ``own``, a transaction's
        state over the shared one, inside the transaction that wrote them; False for changes
        not kept record by record (organisations, a kind it does not know): the transaction
        must then read SQL."""
        plan = _plan([(0, entity, entity_id) for entity, entity_id in changes])
        if isinstance(plan, str) or "organisations" in plan:
            return False
        await _apply(session, own, plan)
        return True

    async def _load(self, session: AsyncSession) -> None:
        seen = await session.scalar(select(func.max(db.DirectoryChange.id))) or 0
        # The ids just below, not yet committed, are applied when they appear.
        gaps = await recent_gaps(session, seen, time.monotonic())
        self.state = await read_state(session)
        self.organisations = await read_organisations(session)
        self.seen, self._gaps, self.loaded = seen, gaps, True

    async def _reload(self, session: AsyncSession, reason: str) -> None:
        log.info("directory_projection_reloaded", reason=reason)
        RELOADS.labels(reason).inc()
        self.state = await read_state(session)
        self.organisations = await read_organisations(session)

    def _advance(self, ids: Sequence[int]) -> None:
        self.seen, self._gaps = advanced(self.seen, self._gaps, ids, time.monotonic())

    def _forget_old_gaps(self) -> None:
        self._gaps = unexpired(self._gaps, time.monotonic())


@cache  # once per process: a router process loads its projection once, a test process many
def keep_out_of_collections() -> None:
    """Moves everything alive now (the loaded projection above all: hundreds of thousands of
    objects for a large directory) out of the garbage collector's reach, after collecting
    what is garbage already. A full collection otherwise walks the whole projection, a
    millisecond per routed event at 20,000 people when one falls in a run; the projection
    holds no reference cycles, so what a reload replaces is still freed by reference
    counting. Only the first call does anything: in a process that starts routers again
    and again (the tests), freezing each time would keep each time's cyclic garbage."""
    gc.collect()
    gc.freeze()


# What a batch of changes asks to read again, by kind: ids of records, or people.
Plan = dict[str, set[str]]


def _plan(changes: Sequence[tuple[int, str, str]]) -> Plan | str:
    """The records to read again, or why the whole directory must be (a reason)."""
    plan: Plan = {}
    for _, entity, entity_id in changes:
        parts = entity_id.split("/")
        match entity, len(parts):
            case (("person" | "household" | "plan" | "household_area"), _):  # AREA_ONLY
                plan.setdefault(entity, set()).add(entity_id)
            case entity, _ if entity in ORGANISATION_ENTITIES:
                plan.setdefault("organisations", set()).add(entity_id)  # read whole: a few rows
            case "relationship", 3:
                plan.setdefault("ties", set()).update((parts[0], parts[2]))
            case "registration", 2:
                plan.setdefault("registrations", set()).add(parts[0])
            case "involvement", 3:
                plan.setdefault("involvements", set()).add(parts[0])
            case (("relationship" | "registration" | "involvement"), _):
                return "unparsed_id"
            case _:
                log.info("directory_change_not_applicable", entity=entity)
                return "unknown_kind"
    return plan


async def _apply(session: AsyncSession, state: DirectoryState, plan: Plan) -> None:
    """Reads the named records (all reads first: nothing awaits between the replacements,
    so no other task sees the projection half changed)."""
    people = plan.get("person", set())
    homes = plan.get("household", set())
    plans = plan.get("plan", set())
    persons = await _people(session, db.Person.id, people)
    aliases = await _aliases(session, db.PersonAlias.person_id, people)
    areas = await _areas(session, db.Household.id, homes)
    members = await _members(session, db.HouseholdMember.household_id, homes)
    moved = plan.get(AREA_ONLY, set()) - homes  # (a household read whole has its area)
    moved_areas = await _areas(session, db.Household.id, moved)
    # A household derives parent ties for its members, before and after the change.
    tied = plan.get("ties", set()) | {m.person_id for h in homes
                                      for m in state.members.get(h, ())}  # fmt: skip
    tied |= {m.person_id for m in members}
    ties = await _ties(session, tied)
    registered = plan.get("registrations", set())
    registrations = await _registrations(session, db.Registration.person_id, registered)
    involved = plan.get("involvements", set())
    involvements = await _involvements(session, db.Involvement.person_id, involved)
    plan_rows = await _plans(session, db.Plan.id, plans)
    state.put_people(people, persons)
    state.put_aliases(people, aliases)
    state.put_households(homes, areas, members)
    for household_id in moved:  # the same members, and so the same ties: the area alone
        state.areas.pop(household_id, None)
    state.areas.update(moved_areas)
    state.put_ties(tied, ties)
    state.put_registrations(registered, registrations)
    state.put_involvements(involved, involvements)
    state.put_plans(plans, plan_rows)


async def read_state(session: AsyncSession) -> DirectoryState:
    """The whole directory, a table at a time."""
    state = DirectoryState()
    state.put_people((), await _people(session))
    state.put_aliases((), await _aliases(session))
    state.put_households((), await _areas(session), await _members(session))
    everyone: Collection[str] = ()
    state.put_ties(everyone, await _ties(session))
    state.put_registrations((), await _registrations(session))
    state.put_involvements((), await _involvements(session))
    state.put_plans((), await _plans(session))
    return state


async def _changes_after(
    session: AsyncSession, seen: int, gaps: Collection[int]
) -> list[tuple[int, str, str]]:
    if not gaps:  # every routing group asks, and there are seldom gaps
        rows = await session.execute(_CHANGES_AFTER, {"seen": seen})
    else:
        rows = await session.execute(_CHANGE_ROWS.where(unseen(seen, gaps)))
    return [(i, e, r) for i, e, r in rows]


_CHANGE_ROWS = select(
    db.DirectoryChange.id, db.DirectoryChange.entity, db.DirectoryChange.entity_id
).order_by(db.DirectoryChange.id)
# Built once: building a statement costs more than sending it.
_CHANGES_AFTER = _CHANGE_ROWS.where(db.DirectoryChange.id > bindparam("seen"))


async def _rows(
    session: AsyncSession,
    query: Select[*tuple[Any, ...]],
    column: Any = None,
    keys: Collection[str] = (),
) -> list[Any]:
    """The query's rows, all of them without a column, else those whose ``column`` is one of
    ``keys`` (none for no keys)."""
    if column is None:
        return list((await session.execute(query)).all())
    rows: list[Any] = []
    ordered = sorted(keys)
    for start in range(0, len(ordered), IN_CHUNK):
        part = ordered[start : start + IN_CHUNK]
        rows += (await session.execute(query.where(column.in_(part)))).all()
    return rows


async def _people(
    session: AsyncSession, column: Any = None, keys: Collection[str] = ()
) -> list[PersonRow]:
    p = db.Person
    query = select(p.id, p.nhs_number, p.upn, p.given_name, p.family_name, p.date_of_birth,
                   p.unborn, p.expected_on,
                   p.has_send, p.has_ehcp, p.learning_disability,
                   p.preferred_language, p.interpreter_needed)  # fmt: skip
    return [PersonRow(_intern(i), n, u, g, f, d, bool(b), e, bool(sn), bool(eh), bool(ld),
                      lang, bool(interpreter))
            for i, n, u, g, f, d, b, e, sn, eh, ld, lang, interpreter
            in await _rows(session, query, column, keys)]  # fmt: skip


async def _aliases(
    session: AsyncSession, column: Any = None, keys: Collection[str] = ()
) -> list[tuple[str, str, str]]:
    a = db.PersonAlias
    query = select(a.source_org, a.local_id, a.person_id)
    return [
        (_intern(s), loc, _intern(p)) for s, loc, p in await _rows(session, query, column, keys)
    ]


async def _areas(
    session: AsyncSession, column: Any = None, keys: Collection[str] = ()
) -> list[tuple[str, str]]:
    query = select(db.Household.id, db.Household.area)
    return [(_intern(h), _intern(a)) for h, a in await _rows(session, query, column, keys)]


async def _members(
    session: AsyncSession, column: Any = None, keys: Collection[str] = ()
) -> list[Membership]:
    m = db.HouseholdMember
    query = select(m.household_id, m.person_id, m.role)
    return [Membership(_intern(h), _intern(p), _intern(r))
            for h, p, r in await _rows(session, query, column, keys)]  # fmt: skip


async def _ties(session: AsyncSession, people: Collection[str] | None = None) -> list[Tie]:
    """Every tie, or those with one of ``people`` at either end."""
    r = db.Relationship
    query = select(r.person_id, r.kind, r.related_person_id, r.parental_responsibility)
    if people is None:
        rows = await _rows(session, query)
    else:
        rows = await _rows(session, query, r.person_id, people)
        rows += await _rows(session, query, r.related_person_id, people)
    made = {Tie(_intern(a), _intern(k), _intern(b), pr) for a, k, b, pr in rows}
    return sorted(made, key=tie_key)


async def _registrations(
    session: AsyncSession, column: Any = None, keys: Collection[str] = ()
) -> list[tuple[str, str, str]]:
    r = db.Registration
    query = select(r.person_id, r.kind, r.org_id).order_by(r.person_id, r.kind)
    return [(_intern(p), _intern(k), _intern(o))
            for p, k, o in await _rows(session, query, column, keys)]  # fmt: skip


async def _involvements(
    session: AsyncSession, column: Any = None, keys: Collection[str] = ()
) -> list[tuple[str, str]]:
    i = db.Involvement
    query = (select(i.person_id, i.org_id).where(i.closed_on.is_(None))
             .order_by(i.person_id, i.org_id, i.opened_on))  # fmt: skip
    return [(_intern(p), _intern(o)) for p, o in await _rows(session, query, column, keys)]


async def _plans(
    session: AsyncSession, column: Any = None, keys: Collection[str] = ()
) -> list[PlanRow]:
    p, o = db.Plan, db.PlanOwner
    plan_query = select(p.id, p.person_id, p.kind, p.started_on, p.ended_on,
                        p.step_down_until, p.if_concerns_return)  # fmt: skip
    plans = await _rows(session, plan_query, column, keys)
    owner_query = select(o.plan_id, o.position, o.is_lead, o.name, o.role, o.org_id, o.phone,
                         o.email).order_by(o.plan_id, o.position)  # fmt: skip
    owner_column = None if column is None else o.plan_id
    owners: dict[str, list[OwnerRow]] = {}
    for plan_id, *rest in await _rows(session, owner_query, owner_column, keys):
        owners.setdefault(plan_id, []).append(OwnerRow(*rest))
    return [PlanRow(_intern(i), _intern(person), _intern(kind), start, end, until, concerns,
                    tuple(owners.get(i, ())))
            for i, person, kind, start, end, until, concerns in plans]  # fmt: skip
