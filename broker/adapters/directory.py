"""The directory in SQL: who a person is, their households, registrations and involvements.

``SqlDirectory.family_for`` gathers, for the people an event names, everything the pure rules
need: the households of the subject and of the subject's children ("think family"), each
member's GP, school and health team, the agencies involved, and every area's front door.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from functools import cached_property, lru_cache
from time import monotonic
from typing import TYPE_CHECKING, Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import ColumnElement, Insert, bindparam, func, or_, select, update
from sqlalchemy import event as orm_events
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, ORMExecuteState, Session

from broker.adapters import bulk, chronology, db
from broker.adapters.change_log_gaps import (
    Gaps,
    advanced,
    among,
    missing_recently,
    recent,
    unexpired,
    unseen,
)
from broker.adapters.directory_records import Membership, OwnerRow, PersonRow, PlanRow
from broker.adapters.directory_rows import LOGGED_CHANGES
from broker.adapters.directory_state import DirectoryState
from broker.adapters.history_ahead import HistoriesAhead
from broker.errors import EventNotPermitted, UnknownSigningKey
from broker.ports import AlertChannelRow, FamiliesNamed, Reach
from broker.rules.authorisation import may_publish
from broker.rules.deadlines import OFFICE_HOURS, SchoolCalendar, WorkingHours, nation_of
from broker.rules.fallback import FALLBACK_ROLES
from broker.rules.family import (
    Addressee,
    ContactRole,
    Family,
    HouseholdRole,
    Member,
    OrgKind,
    PlanView,
    Tie,
)
from broker.rules.move import LISTED_PLAN, listed_plans_prefix
from broker.rules.step_down import stepped_down_children
from broker.rules.trust import linked_orgs
from broker.rules.unmatched import unmatched_ids
from producers import crypto
from schemas.events import EventType, FamilyMovingArea, PersonRef, PlanRecord, ServiceWithdrawal
from schemas.notices import PersonView, ProfessionalView

if TYPE_CHECKING:
    from broker.adapters.directory_projection import DirectoryProjection

T = TypeVar("T", bound=db.Base)
Column = InstrumentedAttribute[Any]


@dataclass(frozen=True)
class ContactRecord:
    contact_id: str
    org_id: str
    hpke_public_key: str
    key_id: str
    daily_digest: bool = False
    webhook_url: str | None = None
    mesh_mailbox: str | None = None


@dataclass(frozen=True)
class OrgRecord:
    id: str
    name: str
    kind: str
    area: str
    phone: str | None
    session_start: str | None  # "08:45", schools only
    opens_at: str | None = None  # working hours, "09:00"
    closes_at: str | None = None


@dataclass(frozen=True)
class SigningKeyRecord:
    public_key: str
    valid_from: datetime | None
    valid_until: datetime | None


@dataclass(frozen=True)
class Organisations:
    """Every organisation with its contacts, school terms and signing keys: a few thousand
    rows at most, read for every event, and changed only through the directory's change log.
    Each process keeps them until the change log names an organisation or a contact
    (``SqlDirectory.organisations``)."""

    orgs: dict[str, OrgRecord]
    contacts: dict[tuple[str, str], ContactRecord]  # (org id, role)
    contacts_by_id: dict[str, ContactRecord]
    terms: dict[str, tuple[tuple[date, date], ...]]
    signing_keys: dict[tuple[str, str], "SigningKeyRecord"]  # (org id, key id)
    working_hours: dict[str, WorkingHours]  # organisations with hours of their own
    peer_areas: dict[str, str] = field(default_factory=dict)  # area: the peer broker serving it
    # Contact id: its alert channels, by id. Kept here because they too change only through
    # the change log (services/alert_channels.py), so delivery reads none of them per batch.
    alert_channels: dict[str, tuple[AlertChannelRow, ...]] = field(default_factory=dict)

    @cached_property
    def tables(self) -> "OrgTables":
        """What every family is given of the organisations, built once per copy (never
        changed: a directory change brings a new copy) rather than once per event."""
        orgs = self.orgs.values()
        return OrgTables(
            # An area a peer broker serves is reached through the peer, unless the
            # partnership has a front door of its own there.
            front_doors=self.peer_areas
            | {o.area: o.id for o in orgs if o.kind == OrgKind.FRONT_DOOR},
            org_kinds={o.id: OrgKind(o.kind) for o in orgs},
            org_lines={o.id: contact_line(o) for o in orgs},
            icbs={o.area: o.id for o in orgs if o.kind == OrgKind.ICB},
            police={o.area: o.id for o in orgs if o.kind == OrgKind.POLICE},
        )


@dataclass(frozen=True)
class OrgTables:
    """The organisations as a family holds them (``Family``'s fields of the same names)."""

    front_doors: dict[str, str]
    org_kinds: dict[str, OrgKind]
    org_lines: dict[str, str]
    icbs: dict[str, str]
    police: dict[str, str]


@dataclass(frozen=True)
class _Copy:
    """A process's copy of the organisations, and the change log position it was read at:
    the newest id seen, and the ids below it not yet seen (change_log_gaps.py)."""

    seen: int
    gaps: Gaps
    organisations: Organisations


# Per database (tests open many in one process).
_ORGANISATIONS: dict[str, _Copy] = {}
# The kinds of change the organisations are read from: the projection's plan follows these.
# A copy is kept through changes of the family kinds only (people, households, their ties and
# plans: FAMILY_ENTITIES); any other kind, one added later included, reads it again.
ORGANISATION_ENTITIES = frozenset({"organisation", "contact"})
# Read once per transaction that uses the directory (every delivery batch): built once, as
# building it again costs more CPU than the database takes to answer it.
_DIRECTORY_VERSION = select(func.max(db.DirectoryChange.id))


@dataclass(frozen=True)
class FamilyContext:
    family: Family
    people: dict[str, PersonView]


class SqlDirectory:
    """The directory as routing reads and writes it. Given a router's projection, a family is
    resolved from memory (brought up to date at the first read of the transaction); what this
    transaction writes to the directory, it reads back into a state of its own over the
    projection's (the records its change log rows name, whoever wrote them in this session),
    so that the rest of a group of events still resolves families from memory."""

    def __init__(
        self, session: AsyncSession, projection: "DirectoryProjection | None" = None
    ) -> None:
        self._session = session
        self._projection = projection
        self._refreshed = False
        self._organisations: Organisations | None = None
        # The family's people and their household roles, as read for its members: the
        # notices' views of them come from the same rows.
        self._persons: dict[str, PersonRow] = {}
        self._roles: dict[str, str] = {}
        # This transaction's directory: its change log rows flushed and not yet read back
        # (entity, id), and the records they name over the projection's.
        self._unread: list[tuple[str, str]] = []
        self._moved: set[str] = set()  # households record_move moved, their change not yet seen
        self._own: DirectoryState | None = None
        self._histories = HistoriesAhead()
        if projection is not None:
            orm_events.listen(session.sync_session, "after_flush", self._flushed)
            orm_events.listen(session.sync_session, "do_orm_execute", self._executed)

    @property
    def session(self) -> AsyncSession:
        return self._session

    async def _memory(self) -> DirectoryState | None:
        """The projection, current as of this transaction's start, with this transaction's own
        directory writes; None while it may not be used."""
        if self._projection is None:
            return None
        if not self._refreshed:
            if self._unread:
                # Written before the first read: a refresh now would read this
                # transaction's uncommitted change log rows into the shared projection.
                self._without_projection()
                return None
            await self._projection.refresh(self._session)
            self._refreshed = True
        if self._unread:
            await self._read_back()
            if self._projection is None:  # not read back: SQL from here on
                return None
        return self._own if self._own is not None else self._projection.state

    def _flushed(self, session: Session, _: object) -> None:
        """Notes the change log rows a flush of this transaction wrote."""
        self._unread += [(self._kind(change.entity, change.entity_id, change.fields),
                          change.entity_id) for change in session.new
                         if isinstance(change, db.DirectoryChange)]  # fmt: skip

    def _executed(self, execution: ORMExecuteState) -> None:
        """Notes the change log rows a statement of this transaction inserts in bulk (the
        unit of work's directory writes: adapters/directory_rows.py)."""
        statement = execution.statement
        if not (isinstance(statement, Insert) and statement.table.name == _CHANGE_LOG):
            return
        named = execution.execution_options.get(LOGGED_CHANGES)
        if named is None:
            # Rows it is not told of: a kind no projection applies, so that this
            # transaction reads SQL from here on.
            self._unread += [("unnamed", "")]
            return
        self._unread += [(self._kind(entity, entity_id, fields), entity_id)
                         for entity, entity_id, fields in named]  # fmt: skip

    def _kind(self, entity: str, entity_id: str, fields: object) -> str:
        """The kind of record a change log row of this transaction names, as the projection
        reads it back: the area alone of a household this transaction moved (``record_move``,
        whose change names the area only), else the entity. Only a move's: another write to
        a household may derive ties the household's whole reading picks up."""
        if entity == "household" and fields == "area" and entity_id in self._moved:
            self._moved.discard(entity_id)
            return AREA_ONLY
        return entity

    async def _read_back(self) -> None:
        """Reads the records this transaction's change log rows name into its own state."""
        assert self._projection is not None
        if self._own is None:
            self._own = DirectoryState.over(self._projection.state)
        changes, self._unread = self._unread, []
        if not await self._projection.read_back(self._session, self._own, changes):
            self._without_projection()

    def _without_projection(self) -> None:
        """A change the projection cannot read back: SQL, which sees it, for the rest."""
        self._projection, self._own = None, None
        self._organisations = None

    async def _before_writing(self) -> None:
        """The projection refreshed before this transaction's first write (see ``_memory``)."""
        await self._memory()

    async def organisations(self) -> Organisations:
        """The organisations as of the last change naming one or a contact."""
        if self._organisations is None and await self._memory() is not None:
            assert self._projection is not None
            self._organisations = self._projection.organisations
        if self._organisations is None:
            database = str((await self._session.connection()).engine.url)
            copy = await _current_copy(self._session, _ORGANISATIONS.get(database))
            _ORGANISATIONS[database] = copy
            self._organisations = copy.organisations
        return self._organisations

    async def match(self, person: PersonRef, source_org: str) -> str | None:
        if (memory := await self._memory()) is not None:
            return memory.match(person, source_org)
        if person.local_id:
            alias = await self._session.get(db.PersonAlias, (source_org, person.local_id))
            if alias is not None:
                return alias.person_id
        clauses = []
        if person.nhs_number:
            clauses.append(db.Person.nhs_number == person.nhs_number)
        if person.upn:
            clauses.append(db.Person.upn == person.upn)
        if not clauses:
            return None
        return await self._session.scalar(select(db.Person.id).where(or_(*clauses)).limit(1))

    async def families_of(self, named: Sequence[tuple[Sequence[PersonRef], str]]) -> FamiliesNamed:
        homes: set[str] = set()
        people: set[str] = set()
        for named_people, source_org in named:
            _, subjects = await self._subjects(named_people, source_org)
            if subjects:
                rows, _ = await self._home_rows(subjects)
                homes.update(r.household_id for r in rows)
                people.update((*subjects, *(r.person_id for r in rows)))
        return FamiliesNamed(frozenset(homes), frozenset(people))

    async def read_ahead(self, families: FamiliesNamed) -> set[str]:
        """Reads the household history of these families at once, while families resolve
        from memory (from SQL it would cost more than it saves); ``family_for`` takes each
        family's from it. Answers the households' members."""
        if await self._memory() is None:
            return set()
        await self._histories.read(self._session, families.households)
        return set(families.people)

    async def _subjects(
        self, named: Sequence[PersonRef], source_org: str
    ) -> tuple[list[str | None], tuple[str, ...]]:
        """Each person's id if known, and the subjects: the first named, if known, and the
        others known."""
        ids = [await self.match(person, source_org) for person in named]
        return ids, tuple(i for i in ids if i) if ids and ids[0] else ()

    async def family_for(self, named: Sequence[PersonRef], source_org: str) -> FamilyContext:
        """The family of the event's subject; when the subject is unknown, everyone named is
        held for matching at the front door of the source organisation's area."""
        ids, subjects = await self._subjects(named, source_org)
        members, ties = await self._members(subjects)
        known = await self.organisations()
        source = known.orgs.get(source_org)
        area = _home_area(members, subjects[0]) if subjects else None
        tables = known.tables
        homes = {m.household_id for m in members if m.household_id}
        family = Family(
            subjects=subjects,
            members=members,
            area=area or (source.area if source else None),
            front_doors=tables.front_doors,
            org_kinds=tables.org_kinds,
            plans=await self._plans({m.person_id for m in members}),
            history=self._histories.history(homes)
            or await chronology.household_history(self._session, homes),
            org_lines=tables.org_lines,
            ties=ties,
            working_hours=known.working_hours,
            icbs=tables.icbs,
            police=tables.police,
        )
        views = await self._views({m.person_id for m in members} | set(subjects))
        labels = unmatched_ids(len(named))
        unknown = [i for i, found in enumerate(ids) if not found or not subjects]
        views |= {labels[i]: _view_of(named[i]) for i in unknown}
        if subjects and unknown:
            family = replace(family, unmatched=tuple(labels[i] for i in unknown))
        return FamilyContext(family, views)

    async def _members(
        self, subjects: tuple[str, ...]
    ) -> tuple[tuple[Member, ...], tuple[Tie, ...]]:
        """The subjects' households and their children's, wherever those children live,
        with the ties that bind them: a parent who lives apart from a child is still told,
        and a child's other home is still the child's."""
        if not subjects:
            return (), ()
        rows, children = await self._home_rows(subjects)
        ties = await self._ties_of({*subjects, *children})
        tied = {p for t in ties for p in (t.person_id, t.related_person_id)}
        people = {r.person_id for r in rows} | set(subjects) | tied
        return tuple(await self._member_records(rows, people, ties)), ties

    async def _home_rows(self, subjects: tuple[str, ...]) -> tuple[Sequence[Membership], set[str]]:
        """Every member of the subjects' households and their children's, and the children."""
        ties = await self._ties_of(subjects)
        linked = {t.related_person_id for t in ties
                  if t.kind == "parent_of" and t.person_id in subjects}  # fmt: skip
        rows = await self._households_with({*subjects, *linked})
        children = linked | {r.person_id for r in rows if r.role == HouseholdRole.CHILD}
        if children - linked - set(subjects):
            rows = await self._households_with({*subjects, *children})
        return rows, children

    async def _ties_of(self, people: Iterable[str]) -> tuple[Tie, ...]:
        """Every tie with one of these people at either end."""
        if (memory := await self._memory()) is not None:
            return memory.ties_of(people)
        ids = list(people)
        either_end = or_(
            db.Relationship.person_id.in_(ids), db.Relationship.related_person_id.in_(ids)
        )
        return tuple(
            Tie(r.person_id, r.kind, r.related_person_id, r.parental_responsibility)
            for r in await self._all(db.Relationship, either_end, order=_TIE_ORDER)
        )

    async def _households_with(self, people: Iterable[str]) -> Sequence[Membership]:
        """Every member of every household these people belong to."""
        if (memory := await self._memory()) is not None:
            return memory.households_with(people)
        homes = select(db.HouseholdMember.household_id).where(
            db.HouseholdMember.person_id.in_(list(people))
        )
        rows = await self._all(db.HouseholdMember, db.HouseholdMember.household_id.in_(homes),
                               order=_MEMBER_ORDER)  # fmt: skip
        return [Membership(r.household_id, r.person_id, r.role) for r in rows]

    async def _member_records(
        self, rows: Sequence[Membership], people: set[str], ties: Sequence[Tie]
    ) -> list[Member]:
        persons, registrations, involved, areas = await self._member_facts(rows, people)
        self._persons, self._roles = persons, {r.person_id: r.role for r in rows}
        placed = [(r.person_id, r.role, r.household_id) for r in rows]
        housed = {r.person_id for r in rows}
        placed += [(p, _role_by_ties(p, ties), "") for p in people if p not in housed]
        return [
            Member(
                person_id=person_id,
                role=_ROLES.get(role) or HouseholdRole(role),  # the enum's call: for the error
                household_id=household_id,
                date_of_birth=persons[person_id].date_of_birth if person_id in persons else None,
                **_unborn(persons.get(person_id)),
                **_needs(persons.get(person_id)),
                gp=registrations.get(person_id, {}).get("gp"),
                school=registrations.get(person_id, {}).get("school"),
                health_visiting=registrations.get(person_id, {}).get("health_team"),
                involved=tuple(involved.get(person_id, ())),
                area=areas.get(household_id),
            )
            for person_id, role, household_id in placed
        ]

    async def _member_facts(self, rows: Sequence[Membership], people: set[str]) -> tuple[
        dict[str, PersonRow], dict[str, dict[str, str]], dict[str, list[str]], dict[str, str]
    ]:  # fmt: skip
        """The members' records, their registrations by kind, the organisations with an open
        involvement, and their households' areas."""
        homes = {r.household_id for r in rows}
        if (memory := await self._memory()) is not None:
            return (
                {p: memory.people[p] for p in people if p in memory.people},
                {p: dict(memory.registrations.get(p, ())) for p in people},
                {p: list(memory.involved.get(p, ())) for p in people},
                {h: memory.areas[h] for h in homes if h in memory.areas},
            )
        people_rows = await self._all(db.Person, db.Person.id.in_(people))
        persons = {p.id: _person_row(p) for p in people_rows}
        registrations: dict[str, dict[str, str]] = {}
        for reg in await self._all(db.Registration, db.Registration.person_id.in_(people)):
            registrations.setdefault(reg.person_id, {})[reg.kind] = reg.org_id
        involved: dict[str, list[str]] = {}
        open_involvements = db.Involvement.person_id.in_(people), db.Involvement.closed_on.is_(None)
        for inv in await self._all(db.Involvement, *open_involvements, order=_INVOLVEMENT_ORDER):
            involved.setdefault(inv.person_id, []).append(inv.org_id)
        areas = {h.id: h.area for h in await self._all(db.Household, db.Household.id.in_(homes))}
        return persons, registrations, involved, areas

    async def record_move(
        self, households: Iterable[str], to_area: str | None, moved_on: date
    ) -> list[str]:
        """The household's area becomes the destination; the one it left becomes history.
        Answers the households whose area changed, for the directory's change log."""
        await self._before_writing()
        wanted = list(dict.fromkeys(households))
        if to_area is None or not wanted:
            return []
        areas: dict[str, str] = dict((await self._session.execute(_AREAS, {"ids": wanted})).all())
        moved = [h for h in wanted if h in areas and areas[h] != to_area]
        if moved:
            await self._write_move(moved, areas, to_area, moved_on)
        self._histories.forget(moved)  # the areas they left, read again
        self._moved.update(moved)
        return moved

    async def _write_move(
        self, moved: list[str], areas: Mapping[str, str], to_area: str, moved_on: date
    ) -> None:
        """Three statements for the whole move, not a load, a merge and a flush per household
        (the ORM's, a third of a routing group's statements on the benchmark's mix). Each
        area row is kept as the ORM's merge kept it: the one left gains ``moved_out``, the one
        moved to (new, or lived in before) gains ``moved_in`` and keeps the rest."""
        await self._session.execute(  # the ORM's update: a loaded household sees its new area
            update(db.Household).where(db.Household.id.in_(moved)).values(area=to_area)
        )
        await self._upsert_areas("moved_out", [
            {"household_id": h, "area": areas[h], "moved_in": None, "moved_out": moved_on}
            for h in moved
        ])  # fmt: skip
        await self._upsert_areas("moved_in", [
            {"household_id": h, "area": to_area, "moved_in": moved_on, "moved_out": None}
            for h in moved
        ])  # fmt: skip

    async def _upsert_areas(self, changed: str, rows: list[dict[str, object]]) -> None:
        """Inserts the area rows, or sets only their ``changed`` date where they exist."""
        area = db.HouseholdArea
        insert = bulk.dialect_insert(self._session, bulk.table_of(area))
        await self._session.execute(
            insert.on_conflict_do_update(
                index_elements=[area.household_id, area.area],
                set_={changed: insert.excluded[changed]},
            ),
            rows,
        )

    async def record_step_down(self, event: ServiceWithdrawal, family: Family) -> list[str]:
        """A step-down becomes a plan for each child concerned, owned by its lead professional
        and action owners until its review date. Only their organisations and fixed role
        names are kept: the people's names, contacts and the plan's text are personal data
        and stay in the sealed notices (the owners' notices of a returning concern read them
        from the step-down's sealed notice, services/plan_details.py). Answers the plans
        written, for the directory's change log."""
        step_down = event.step_down
        if step_down is None or family.subject is None:
            return []
        await self._before_writing()
        named = [(True, step_down.lead_professional.org_id)] + [
            (False, o.org_id) for o in step_down.action_owners
        ]
        # An owner's organisation the directory does not know cannot be notified: the plan
        # keeps the owners it can reach (the step-down notice itself names them all).
        owners = [(lead, org) for lead, org in named if await self.organisation(org)]
        plans = []
        for child in stepped_down_children(family):
            plan_id = f"{STEP_DOWN_PLAN}{event.event_id}:{child.person_id}"
            plans.append(plan_id)
            await self._session.merge(db.Plan(
                id=plan_id, person_id=child.person_id, kind=step_down.to_level,
                area=child.area or family.area or "", started_on=event.withdrawn_on,
                step_down_until=step_down.review_by,
            ))  # fmt: skip
            for position, (is_lead, org_id) in enumerate(owners):
                await self._owner(plan_id, position, is_lead, org_id)
        await self._session.flush()
        return plans

    async def _owner(self, plan_id: str, position: int, is_lead: bool, org_id: str) -> None:
        """An owner kept from an event: its organisation and a fixed role name, no person."""
        role = "lead professional" if is_lead else "action owner"
        await self._session.merge(db.PlanOwner(
            plan_id=plan_id, position=position, is_lead=is_lead, name=role, role=role,
            org_id=org_id,
        ))  # fmt: skip

    async def record_listed_plans(self, event: FamilyMovingArea, family: Family) -> list[str]:
        """History given once stays known: each plan a move lists, for a child the directory
        knows, is kept unless the directory already has that plan (same child, kind and
        start): its kind and dates, no person's name. Its lead professional's organisation is
        kept as its owner only where already linked to the family: a publisher's list must
        not make anyone a plan owner (trust.py). Answers the plans written, for the
        directory's change log."""
        await self._before_writing()
        linked = linked_orgs(family)
        written = []
        for index, listed in enumerate(event.plans):
            person_id = await self.match(listed.child, event.source_org)
            if person_id is None or _already_kept(family, person_id, listed):
                continue
            plan_id = f"{listed_plans_prefix(event)}{index}"
            member = family.person(person_id)
            await self._session.merge(db.Plan(
                id=plan_id, person_id=person_id, kind=listed.kind.value,
                area=(member.area if member else None) or event.from_authority,
                started_on=listed.started_on, ended_on=listed.ended_on,
            ))  # fmt: skip
            lead = listed.lead_professional
            if lead is not None and lead.org_id in linked:
                await self._owner(plan_id, 0, True, lead.org_id)
            written.append(plan_id)
        await self._session.flush()
        return written

    async def _all(
        self, model: type[T], *where: ColumnElement[bool], order: Sequence[Column] = ()
    ) -> Sequence[T]:
        return (await self._session.scalars(select(model).where(*where).order_by(*order))).all()

    async def _plans(self, people: set[str]) -> tuple[PlanView, ...]:
        return tuple(_plan_view(p) for p in await self._plan_rows(people))

    async def _plan_rows(self, people: set[str]) -> Sequence[PlanRow]:
        """The people's plans with their owners, by plan id."""
        if (memory := await self._memory()) is not None:
            return memory.plans_for(people)
        plans = await self._all(db.Plan, db.Plan.person_id.in_(people), order=[db.Plan.id])
        if not plans:
            return ()
        owners: dict[str, list[OwnerRow]] = {}
        for o in await self._all(db.PlanOwner, db.PlanOwner.plan_id.in_([p.id for p in plans]),
                                 order=_OWNER_ORDER):  # fmt: skip
            owners.setdefault(o.plan_id, []).append(
                OwnerRow(o.position, o.is_lead, o.name, o.role, o.org_id, o.phone, o.email)
            )
        return [PlanRow(p.id, p.person_id, p.kind, p.started_on, p.ended_on, p.step_down_until,
                        p.if_concerns_return, tuple(owners.get(p.id, ())))
                for p in plans]  # fmt: skip

    async def _views(self, people: set[str]) -> dict[str, PersonView]:
        if not people:
            return {}
        persons = self._persons
        if not people <= persons.keys():
            if (memory := await self._memory()) is not None:
                persons = {p: memory.people[p] for p in people if p in memory.people}
            else:
                rows = await self._all(db.Person, db.Person.id.in_(people))
                persons = {p.id: _person_row(p) for p in rows}
        return {p.id: _person_view(p, self._roles.get(p.id))
                for p in persons.values() if p.id in people}  # fmt: skip

    async def contact_for(self, addressee: Addressee) -> ContactRecord | None:
        """The addressee's contact, else the organisation's safeguarding lead or duty desk.
        Not for the emergency duty team: an office-hours desk is no one to tell at night."""
        contacts = (await self.organisations()).contacts
        fallbacks = () if addressee.role is ContactRole.EMERGENCY_DUTY else FALLBACK_ROLES
        for role in (addressee.role, *fallbacks):
            if contact := contacts.get((addressee.org_id, role)):
                return contact
        return None

    async def webhook_url(self, contact_id: str) -> str | None:
        """Where the recipient's own system takes its notices pushed, if it has said."""
        contact = (await self.organisations()).contacts_by_id.get(contact_id)
        return contact.webhook_url if contact else None

    async def reach(self, contact_ids: Sequence[str]) -> dict[str, Reach]:
        """How each known contact is reached beyond its inbox, from the organisations as of
        the last directory change: a batch of notices reads the change log's version and,
        while it is unchanged, nothing else."""
        known = await self.organisations()
        found = (known.contacts_by_id.get(c) for c in set(contact_ids))
        return {c.contact_id: Reach(c.webhook_url is not None, c.mesh_mailbox is not None,
                                    known.alert_channels.get(c.contact_id, ()))
                for c in found if c is not None}  # fmt: skip

    async def signing_key(self, org_id: str, key_id: str, at: datetime) -> Ed25519PublicKey:
        """The organisation's registered key with this id, if it was valid at ``at``."""
        key = (await self.organisations()).signing_keys.get((org_id, key_id))
        if key is None:
            raise UnknownSigningKey("the producing organisation has no key with this id")
        if (key.valid_from and at < key.valid_from) or (key.valid_until and at >= key.valid_until):
            raise UnknownSigningKey("the producing organisation's key was not valid then")
        return _signing_public(key.public_key)

    async def check_may_publish(self, org_id: str, event_type: EventType) -> None:
        org = await self.organisation(org_id)
        if not may_publish(OrgKind(org.kind) if org else None, event_type):
            raise EventNotPermitted(
                f"an organisation of this kind may not publish {event_type.value} events"
            )

    async def organisation(self, org_id: str) -> OrgRecord | None:
        return (await self.organisations()).orgs.get(org_id)

    async def school_calendar(self, org_id: str) -> SchoolCalendar:
        known = await self.organisations()
        org = known.orgs.get(org_id)
        start = time.fromisoformat(org.session_start) if org and org.session_start else None
        return SchoolCalendar(
            session_start=start or SchoolCalendar().session_start,
            terms=known.terms.get(org_id, ()),
            nation=nation_of(org.area if org else None),
        )


_CHANGE_LOG = db.DirectoryChange.__tablename__
# A household routing moved, read back as its new area alone, not as the household with its
# members and their ties (a move changes neither): one statement, not four.
AREA_ONLY = "household_area"
FAMILY_ENTITIES = frozenset(
    {"person", "household", AREA_ONLY, "plan", "relationship", "registration", "involvement"}
)


STEP_DOWN_PLAN = "step-down:"  # a step-down's plan id: "step-down:<event id>:<child>"


def step_down_event_of(plan_id: str) -> str | None:
    """The step-down event that made this plan, for a plan a step-down made."""
    if not plan_id.startswith(STEP_DOWN_PLAN):
        return None
    return plan_id.removeprefix(STEP_DOWN_PLAN).split(":", 1)[0]


def _from_event(plan_id: str) -> bool:
    """A plan a step-down or a move's list made: its owners are organisations only."""
    return plan_id.startswith((STEP_DOWN_PLAN, LISTED_PLAN))


def _plan_view(p: PlanRow) -> PlanView:
    return PlanView(
        plan_id=p.id, person_id=p.person_id, kind=p.kind, started_on=p.started_on,
        ended_on=p.ended_on, step_down_until=p.step_down_until,
        lead_org=next((o.org_id for o in p.owners if o.is_lead), None),
        owner_orgs=tuple(o.org_id for o in p.owners if not o.is_lead),
        # The people a directory import names; an event's are only in its notices.
        lead=next((_professional(o) for o in p.owners
                   if o.is_lead and not _from_event(p.id)), None),
        action_owners=tuple(_professional(o) for o in p.owners
                            if not o.is_lead and not _from_event(p.id)),
        if_concerns_return=p.if_concerns_return,
    )  # fmt: skip


def _unborn(person: PersonRow | None) -> dict[str, Any]:
    """An unborn child's flag and expected date, for its ``Member``."""
    if person is None or not person.unborn:
        return {}
    return {"unborn": True, "expected_on": person.expected_on}


def _needs(person: PersonRow | None) -> dict[str, Any]:
    """The person's additional needs the directory holds, for its ``Member``."""
    if person is None:
        return {}
    return {"has_send": person.has_send, "has_ehcp": person.has_ehcp,
            "learning_disability": person.learning_disability}  # fmt: skip


@lru_cache(maxsize=1024)
def _signing_public(text: str) -> Ed25519PublicKey:
    """A producer's registered key as parsed once: the keys are few, the events they sign
    many (a key that does not parse raises each time: lru_cache keeps no exception)."""
    return crypto.signing_public_from_text(text)


# A role by its stored text, without the enum's call (a tenth of a family's members' cost).
_ROLES: dict[str, HouseholdRole] = {role.value: role for role in HouseholdRole}


@lru_cache(maxsize=8192)
def _person_view(person: PersonRow, role: str | None) -> PersonView:
    """A person as notices show them, made (and validated) once per version of their record
    and household role: the same person is named in event after event, and a view is
    immutable. Keyed by the record's values, so a changed record makes a new view."""
    return PersonView(
        given_name=person.given_name,
        family_name=person.family_name,
        date_of_birth=person.date_of_birth,
        nhs_number=person.nhs_number,
        role=role,
        **_language_need(person),
    )


def _language_need(person: PersonRow) -> dict[str, Any]:
    """The person's language need for a ``PersonView``: nothing when there is none."""
    need: dict[str, Any] = {"preferred_language": person.preferred_language}
    need |= {"interpreter_needed": True} if person.interpreter_needed else {}
    return {k: v for k, v in need.items() if v is not None}


def _person_row(p: db.Person) -> PersonRow:
    return PersonRow(p.id, p.nhs_number, p.upn, p.given_name, p.family_name, p.date_of_birth,
                     bool(p.unborn), p.expected_on, bool(p.has_send), bool(p.has_ehcp),
                     bool(p.learning_disability), p.preferred_language,
                     bool(p.interpreter_needed))  # fmt: skip


# Rows in key order, as the projection keeps them: both ways resolve the same family.
_TIE_ORDER = (db.Relationship.person_id, db.Relationship.kind, db.Relationship.related_person_id)
_MEMBER_ORDER = (db.HouseholdMember.household_id, db.HouseholdMember.person_id)
# The households' areas (``ids``), as a move reads them; built once, as building a statement
# costs more than sending it.
_AREAS = select(db.Household.id, db.Household.area).where(
    db.Household.id.in_(bindparam("ids", expanding=True))
)
_INVOLVEMENT_ORDER = (db.Involvement.person_id, db.Involvement.org_id, db.Involvement.opened_on)
_OWNER_ORDER = (db.PlanOwner.plan_id, db.PlanOwner.position)


async def read_organisations(session: AsyncSession) -> Organisations:
    """Every organisation with its contacts, school terms and signing keys."""

    async def every(model: type[T]) -> Sequence[T]:
        return (await session.scalars(select(model))).all()

    orgs = {o.id: OrgRecord(o.id, o.name, o.kind, o.area, o.phone, o.session_start,
                            o.opens_at, o.closes_at)
            for o in await every(db.Organisation)}  # fmt: skip
    contacts = [(c.role, _contact_record(c)) for c in await every(db.Contact)]
    terms: dict[str, list[tuple[date, date]]] = {}
    for t in await every(db.SchoolTerm):
        terms.setdefault(t.org_id, []).append((t.starts_on, t.ends_on))
    keys = {(k.org_id, k.key_id): SigningKeyRecord(k.public_key, k.valid_from, k.valid_until)
            for k in await every(db.OrgSigningKey)}  # fmt: skip
    channels: dict[str, list[AlertChannelRow]] = {}
    for ch in await session.scalars(select(db.AlertChannel).order_by(db.AlertChannel.id)):
        row = AlertChannelRow(ch.id, ch.contact_id, ch.kind, ch.address)
        channels.setdefault(ch.contact_id, []).append(row)
    return Organisations(
        orgs=orgs,
        contacts={(c.org_id, role): c for role, c in contacts},
        contacts_by_id={c.contact_id: c for _, c in contacts},
        terms={org: tuple(sorted(spans)) for org, spans in terms.items()},
        signing_keys=keys,
        working_hours={o.id: working_hours_of(o) for o in orgs.values() if o.opens_at},
        peer_areas={p.area: p.org_id for p in await every(db.PeerArea)},
        alert_channels={contact: tuple(rows) for contact, rows in channels.items()},
    )


def _professional(owner: OwnerRow) -> ProfessionalView:
    return ProfessionalView(name=owner.name, role=owner.role, org_id=owner.org_id,
                            phone=owner.phone, email=owner.email)  # fmt: skip


def _already_kept(family: Family, person_id: str, listed: PlanRecord) -> bool:
    return any(
        p.person_id == person_id and p.kind == listed.kind.value
        and p.started_on == listed.started_on
        for p in family.plans
    )  # fmt: skip


def _role_by_ties(person_id: str, ties: Sequence[Tie]) -> HouseholdRole:
    """The role of someone known only by a tie, in no household the family spans."""
    is_child = any(
        (t.kind == "parent_of" and t.related_person_id == person_id)
        or (t.kind == "sibling_of" and person_id in (t.person_id, t.related_person_id))
        for t in ties
    )
    return HouseholdRole.CHILD if is_child else HouseholdRole.PARENT_OR_CARER


def _home_area(members: Sequence[Member], person_id: str) -> str | None:
    """The area of the person's household (the first by id, if they have several)."""
    homes = sorted((m.household_id, m.area) for m in members
                   if m.person_id == person_id and m.household_id)  # fmt: skip
    return homes[0][1] if homes else None


def _contact_record(c: db.Contact) -> ContactRecord:
    return ContactRecord(c.id, c.org_id, c.hpke_public_key, c.key_id, bool(c.daily_digest),
                         c.webhook_url, c.mesh_mailbox)  # fmt: skip


async def _current_copy(session: AsyncSession, copy: _Copy | None) -> _Copy:
    """The copy, read again if a change it has not seen (a newer id, or one of its gaps that
    has appeared: a change committed after a later one) is of any kind but the family's. A
    change log that went back (a database made again) is read as from nothing."""
    now = monotonic()
    gaps = unexpired(copy.gaps, now) if copy is not None else {}
    top, appeared = await _change_log_top(session, gaps)
    if copy is not None and top == copy.seen and not appeared:
        return copy if gaps == copy.gaps else replace(copy, gaps=gaps)
    if copy is None or top < copy.seen:
        # From nothing: a change just below the top, still uncommitted, is looked for.
        seen, gaps = top, await recent_gaps(session, top, now)
    else:
        # The ids read before the organisations: a change committed in between is in the
        # copy and read again next time, which is harmless; one not yet committed is a gap.
        change = db.DirectoryChange
        read = (await session.execute(
            select(change.id, change.entity).where(unseen(copy.seen, gaps)))).all()  # fmt: skip
        seen, gaps = advanced(copy.seen, gaps, [i for i, _ in read], now)
        if all(entity in FAMILY_ENTITIES for _, entity in read):
            # People and households only (routing's moves, a delivery's busiest hours): the
            # copy stands, at the new position.
            return replace(copy, seen=seen, gaps=gaps)
    return _Copy(seen, gaps, await read_organisations(session))


async def recent_gaps(session: AsyncSession, top: int, now: float) -> Gaps:
    """Where a reader starting from nothing at ``top`` stands: the ids just below it that
    have not appeared, looked for as gaps (change_log_gaps.missing_recently)."""
    present = await session.scalars(select(db.DirectoryChange.id).where(recent(top)))
    return missing_recently(top, list(present), now)


async def _change_log_top(session: AsyncSession, gaps: Gaps) -> tuple[int, bool]:
    """The change log's newest id, and whether any of the gaps has appeared: one query, and
    the gaps asked about only while there are some."""
    if not gaps:
        return await session.scalar(_DIRECTORY_VERSION) or 0, False
    change = db.DirectoryChange
    appeared = (select(func.count()).select_from(change).where(among(gaps))
                .correlate(None).scalar_subquery())  # fmt: skip
    top, found = (await session.execute(select(func.max(change.id), appeared))).one()
    return top or 0, found > 0


def contact_line(org: OrgRecord) -> str:
    return f"{org.name} ({org.phone})" if org.phone else org.name


def _view_of(person: PersonRef) -> PersonView:
    return PersonView(
        given_name=person.given_name,
        family_name=person.family_name,
        date_of_birth=person.date_of_birth,
        nhs_number=person.nhs_number,
    )


def working_hours_of(org: OrgRecord | None) -> WorkingHours:
    """The organisation's own working hours where the directory holds them."""
    if org is None or not (org.opens_at and org.closes_at):
        return OFFICE_HOURS
    return WorkingHours(time.fromisoformat(org.opens_at), time.fromisoformat(org.closes_at))
