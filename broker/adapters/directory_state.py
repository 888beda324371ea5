"""The directory's records in memory, indexed as resolving a family looks them up.

Pure bookkeeping, no I/O: ``DirectoryProjection`` (directory_projection.py) reads the rows and
replaces them here one kind of record at a time, by key; a kind replaced for no keys is a
whole load. Every index stays sorted by key, so that a state kept current change by change
equals one loaded afresh.

A transaction that writes to the directory keeps its own writes in a state ``over`` the
shared one (``Layered`` indexes): it resolves the rest of its group from memory, and nothing
it wrote reaches the shared state before its commit reaches the change log.
"""

from collections.abc import Collection, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field, fields
from typing import Any, Final, TypeVar, cast

from broker.adapters.directory_records import Membership, PersonRow, PlanRow
from broker.rules.family import Tie
from schemas.events import PersonRef

K = TypeVar("K")
V = TypeVar("V")


@dataclass
class DirectoryState:
    """The records, indexed as family resolution looks them up."""

    # Plain dicts, or ``Layered`` over another state's in a transaction's own state.
    people: MutableMapping[str, PersonRow] = field(default_factory=dict)
    by_nhs: MutableMapping[str, str] = field(default_factory=dict)
    by_upn: MutableMapping[str, str] = field(default_factory=dict)
    # (source org, local id) -> person
    aliases: MutableMapping[tuple[str, str], str] = field(default_factory=dict)
    aliases_of: MutableMapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    areas: MutableMapping[str, str] = field(default_factory=dict)  # household -> area
    # by household
    members: MutableMapping[str, tuple[Membership, ...]] = field(default_factory=dict)
    homes: MutableMapping[str, tuple[str, ...]] = field(default_factory=dict)  # person -> homes
    ties: MutableMapping[str, tuple[Tie, ...]] = field(default_factory=dict)  # either end
    registrations: MutableMapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    involved: MutableMapping[str, tuple[str, ...]] = field(default_factory=dict)  # open ones
    plans: MutableMapping[str, PlanRow] = field(default_factory=dict)
    plans_of: MutableMapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def over(cls, shared: "DirectoryState") -> "DirectoryState":
        """A state that reads ``shared`` and keeps its own changes: ``shared`` is left as it
        is (a few records changed cost a few entries, not a copy of the directory)."""
        return cls(**{f.name: Layered(getattr(shared, f.name)) for f in fields(cls)})

    # -- reads -------------------------------------------------------------------------------

    def match(self, person: PersonRef, source_org: str) -> str | None:
        if person.local_id and (found := self.aliases.get((source_org, person.local_id))):
            return found
        if person.nhs_number and (found := self.by_nhs.get(person.nhs_number)):
            return found
        return self.by_upn.get(person.upn) if person.upn else None

    def ties_of(self, people: Iterable[str]) -> tuple[Tie, ...]:
        found = {t for p in people for t in self.ties.get(p, ())}
        return tuple(sorted(found, key=tie_key))

    def households_with(self, people: Iterable[str]) -> list[Membership]:
        homes = {h for p in people for h in self.homes.get(p, ())}
        rows = [m for h in homes for m in self.members.get(h, ())]
        return sorted(rows, key=lambda m: (m.household_id, m.person_id))

    def plans_for(self, people: Iterable[str]) -> list[PlanRow]:
        ids = {plan for p in people for plan in self.plans_of.get(p, ())}
        return [self.plans[i] for i in sorted(ids)]

    # -- replacing records, each kind by its key ----------------------------------------------

    def put_people(self, ids: Collection[str], rows: Iterable[PersonRow]) -> None:
        for person_id in ids:
            old = self.people.pop(person_id, None)
            if old is not None:
                _drop(self.by_nhs, old.nhs_number, person_id)
                _drop(self.by_upn, old.upn, person_id)
        for row in rows:
            self.people[row.id] = row
            if row.nhs_number:
                self.by_nhs[row.nhs_number] = row.id
            if row.upn:
                self.by_upn[row.upn] = row.id

    def put_aliases(self, people: Collection[str], rows: Iterable[tuple[str, str, str]]) -> None:
        for person_id in people:
            for key in self.aliases_of.pop(person_id, ()):
                _drop(self.aliases, key, person_id)
        grouped: dict[str, list[tuple[str, str]]] = {}
        for source_org, local_id, person_id in rows:
            self.aliases[(source_org, local_id)] = person_id
            grouped.setdefault(person_id, []).append((source_org, local_id))
        self.aliases_of.update((p, tuple(sorted(keys))) for p, keys in grouped.items())

    def put_households(
        self, ids: Collection[str], areas: Iterable[tuple[str, str]], rows: Iterable[Membership]
    ) -> set[str]:
        """Replaces these households and their members; answers everyone in them before or
        after (whose homes, and ties a household derives, may have changed)."""
        touched = {m.person_id for h in ids for m in self.members.pop(h, ())}
        for household_id in ids:
            self.areas.pop(household_id, None)
        self.areas.update(areas)
        grouped: dict[str, list[Membership]] = {}
        for row in rows:
            grouped.setdefault(row.household_id, []).append(row)
        self.members.update(
            (h, tuple(sorted(ms, key=lambda m: m.person_id))) for h, ms in grouped.items()
        )
        joined: dict[str, list[str]] = {}
        for household_id, members in grouped.items():
            for member in members:
                joined.setdefault(member.person_id, []).append(household_id)
        touched |= joined.keys()
        for person_id in touched:
            homes = {h for h in self.homes.get(person_id, ()) if h not in ids}
            _put(self.homes, person_id, tuple(sorted(homes | set(joined.get(person_id, ())))))
        return touched

    def put_ties(self, people: Collection[str], rows: Iterable[Tie]) -> None:
        """Replaces every tie with one of ``people`` at either end."""
        fresh = list(rows)
        ends = set(people) | {e for p in people for t in self.ties.get(p, ()) for e in _ends(t)}
        ends |= {e for t in fresh for e in _ends(t)}
        replaced = set(people)
        kept = {e: [t for t in self.ties.get(e, ()) if replaced.isdisjoint(_ends(t))] for e in ends}
        for tie in fresh:
            for end in dict.fromkeys(_ends(tie)):
                kept[end].append(tie)
        for end, ties in kept.items():
            _put(self.ties, end, tuple(sorted(ties, key=tie_key)))

    def put_registrations(
        self, people: Collection[str], rows: Iterable[tuple[str, str, str]]
    ) -> None:
        grouped = _grouped(people, ((p, (kind, org)) for p, kind, org in rows))
        for person_id, registered in grouped.items():
            _put(self.registrations, person_id, tuple(registered))

    def put_involvements(self, people: Collection[str], rows: Iterable[tuple[str, str]]) -> None:
        for person_id, orgs in _grouped(people, rows).items():
            _put(self.involved, person_id, tuple(orgs))

    def put_plans(self, ids: Collection[str], rows: Iterable[PlanRow]) -> None:
        for plan_id in ids:
            old = self.plans.pop(plan_id, None)
            if old is not None:
                left = tuple(p for p in self.plans_of.get(old.person_id, ()) if p != plan_id)
                _put(self.plans_of, old.person_id, left)
        for plan in rows:
            self.plans[plan.id] = plan
            known = self.plans_of.get(plan.person_id, ())
            self.plans_of[plan.person_id] = tuple(sorted({*known, plan.id}))


def tie_key(tie: Tie) -> tuple[str, str, str]:
    return tie.person_id, tie.kind, tie.related_person_id


def _ends(tie: Tie) -> tuple[str, str]:
    return tie.person_id, tie.related_person_id


def _grouped(people: Collection[str], rows: Iterable[tuple[str, Any]]) -> dict[str, list[Any]]:
    """Each of ``people`` (kept even with nothing, so that it is cleared) with its rows."""
    grouped: dict[str, list[Any]] = {p: [] for p in people}
    for person_id, value in rows:
        grouped.setdefault(person_id, []).append(value)
    return grouped


def _put(index: MutableMapping[str, tuple[Any, ...]], key: str, values: tuple[Any, ...]) -> None:
    """Sets the entry, or removes it when empty (a million empty tuples are not free)."""
    if values:
        index[key] = values
    else:
        index.pop(key, None)


def _drop(index: MutableMapping[Any, str], key: Any, owner: str) -> None:
    """Removes ``key`` if it still points at ``owner`` (another may hold it since)."""
    if key is not None and index.get(key) == owner:
        del index[key]


_GONE: Final = object()  # a key removed here, whatever the shared index holds


class Layered(MutableMapping[K, V]):
    """An index whose changes stay its own, over a shared one it never changes: reads fall
    through to ``shared`` unless the key was set or removed here."""

    def __init__(self, shared: Mapping[K, V]) -> None:
        self._shared = shared
        self._own: dict[K, object] = {}

    def __getitem__(self, key: K) -> V:
        own = self._own.get(key, self)  # ``self``: nothing of its own under this key
        if own is self:
            return self._shared[key]
        if own is _GONE:
            raise KeyError(key)
        return cast(V, own)

    def __setitem__(self, key: K, value: V) -> None:
        self._own[key] = value

    def __delitem__(self, key: K) -> None:
        self[key]  # KeyError, like a dict, for a key it does not hold
        self._own[key] = _GONE

    def __iter__(self) -> Iterator[K]:
        yield from (key for key, own in self._own.items() if own is not _GONE)
        yield from (key for key in self._shared if key not in self._own)

    def __len__(self) -> int:
        return sum(1 for _ in self)
