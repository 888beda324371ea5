"""Bad directory records for the poison fault, and what the broker must make of them.

The poisoned households are chosen among those whose one event is published after the
poison goes in, so what each event must produce does not hang on a race with the stream:

- a school whose key adult's key is replaced, in the database, by one nothing can be sealed
  to (a low-order X25519 point). Its pupils' notices go to the front door instead, as the
  pure rules re-address them (``broker.rules.fallback.to_front_door``), and each is also
  dead-lettered with the reason;
- households whose data key file is overwritten with garbage. Nothing of theirs can be
  recorded, the front door's copies included: every notice of theirs, and each fallback
  tried for it, is dead-lettered.

Expected dead letters are keyed (event id, organisation, rule id), as the router writes them.
"""

import base64
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.adapters import db
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.rules.fallback import to_front_door
from broker.rules.family import ContactRole, Decision, Family
from broker.rules.out_of_hours import with_out_of_hours
from broker.services.directory_changes import record
from producers import crypto
from producers.pseudonyms import pseudonym
from schemas.events import Event

from .population import Expectation, Household, Population

UNSEALABLE_KEY = base64.b64encode(bytes(32)).decode()  # a low-order X25519 point
UNSEALABLE = "unsealable_recipient_key"
LetterKey = tuple[str, str, str]  # event id, organisation, notice type


@dataclass
class Poison:
    """Which records go bad: a school (its key adult's key) and some households' data keys."""

    school: str
    school_households: frozenset[str]
    unreadable_households: frozenset[str]

    @property
    def households(self) -> frozenset[str]:
        return self.school_households | self.unreadable_households


def choose(population: Population, after: int, school: str) -> tuple[Population, Poison]:
    """From the ``after``-th household on: every fourth moves to ``school`` (a school of its
    own, so that no household published earlier has it), and two others get unreadable
    data keys."""
    later = [h.id for h in population.households[after:]]
    movers = frozenset(later[::4])
    unreadable = frozenset(later[1:3])
    homes = [replace(h, school=school) if h.id in movers else h for h in population.households]
    pupils = {h.pupil.id for h in homes if h.id in movers}
    registrations = tuple(
        r.model_copy(update={"org_id": school}) if r.kind == "school" and r.person_id in pupils
        else r
        for r in population.spec.registrations
    )  # fmt: skip
    spec = population.spec.model_copy(update={"registrations": registrations})
    return replace(population, spec=spec, households=homes), Poison(school, movers, unreadable)


@dataclass
class PoisonedExpectation(Expectation):
    """The expectation with the poison's effects: what reaches the front door instead, and
    what must be dead-lettered."""

    poison: Poison | None = None
    dead_letters: Counter[LetterKey] = field(default_factory=Counter)

    def decisions(
        self, home: Household, event: Event, family: Family, received_at: datetime
    ) -> list[Decision]:
        """As the router places them: a notice that cannot be sealed is dead-lettered and
        re-addressed to the front door (its emergency duty team too, when high and the front
        door is closed), which may fail in turn."""
        decided = super().decisions(home, event, family, received_at)
        if self.poison is None or home.id not in self.poison.households:
            return decided
        unreadable = home.id in self.poison.unreadable_households
        placed, pending = [], list(decided)
        while pending:
            decision = pending.pop(0)
            if not (unreadable or self._at_poisoned_school(decision)):
                placed.append(decision)
                continue
            self._dead(event, decision)
            if fallback := to_front_door(decision, family, UNSEALABLE):
                pending += with_out_of_hours([fallback], family, received_at)
        return placed

    def _at_poisoned_school(self, decision: Decision) -> bool:
        assert self.poison is not None
        addressee = decision.addressee
        return (addressee.org_id, addressee.role) == (self.poison.school, ContactRole.KEY_ADULT)

    def _dead(self, event: Event, decision: Decision) -> None:
        # A dead letter names the kind of notice, never its rule (the topic is read outside
        # the broker).
        key = (str(event.event_id), decision.addressee.org_id, decision.notice_type.value)
        self.dead_letters[key] += 1


async def inject(
    sessions: async_sessionmaker[AsyncSession], keys_dir: Path, secret: bytes, poison: Poison
) -> None:
    """The bad records, written past the admin API's checks: the school's key straight into
    the contacts table (the change log told, as any directory edit tells it, so that the
    routers read the directory again), garbage over the households' data key files."""
    contact = f"{poison.school}:{ContactRole.KEY_ADULT.value}"
    async with sessions.begin() as session:
        await session.execute(
            update(db.Contact).where(db.Contact.id == contact)
            .values(hpke_public_key=UNSEALABLE_KEY)
        )  # fmt: skip
        await record(SqlUnitOfWork.joined(session), "fault-injection", "contact", contact,
                     "updated", ["hpke_public_key"])  # fmt: skip
    for home in poison.unreadable_households:
        name = pseudonym(secret, "household", home)
        crypto.write_secret(
            keys_dir / "households" / f"{name}.key", b"not an AES key", replace=True
        )
