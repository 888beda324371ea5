"""Replaying dead letters, once whatever failed them is put right.

A letter from a consumer goes back, byte for byte, to the topic and key it came from: the
router and the delivery worker keep every record once however often it arrives, so replaying
twice does no harm. A webhook's letter instead puts its delivery back in the recipient's
queue (the notice is already in the inbox; only its push failed), from a first attempt.
"""

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from broker.adapters.dead_letter_topic import DeadLetter, Source, sealed_context
from broker.errors import DataKeyShredded
from broker.ports import DataKeyStore, Message, Publisher, UnitOfWorkFactory
from broker.services import mesh_dispatch, webhook_dispatch


class Replayed(StrEnum):
    REPUBLISHED = "republished"  # back on its source topic
    REQUEUED = "requeued"  # its webhook delivery is pending again
    NOT_DEAD = "not_dead"  # the webhook delivery was already pending again, or delivered
    NOT_REPLAYABLE = "not_replayable"  # no original to send (an older or parked letter)
    SHREDDED = "shredded"  # sealed under the data key of a household shredded since


def chosen(letters: Sequence[DeadLetter], reason: str | None) -> list[DeadLetter]:
    """The letters with this reason (all of them without one)."""
    return [letter for letter in letters if reason is None or letter.reason_name == reason]


async def replay(
    letters: Sequence[DeadLetter],
    publisher: Publisher,
    units: UnitOfWorkFactory,
    now: datetime,
    data_keys: DataKeyStore | None = None,
) -> list[Replayed]:
    """Replays each letter; what happened to each, in order. A letter sealed under data keys
    is opened with ``data_keys`` first (without them it is not replayable)."""
    outcomes = []
    for letter in letters:
        if letter.reason.get("channel") == webhook_dispatch.CHANNEL:
            async with units() as uow:
                requeued = await webhook_dispatch.requeue(
                    uow, str(letter.reason.get("notice_id")), now
                )
            outcomes.append(Replayed.REQUEUED if requeued else Replayed.NOT_DEAD)
        elif letter.reason.get("channel") == mesh_dispatch.CHANNEL:  # a MESH send, likewise
            async with units() as uow:
                notice_id = str(letter.reason.get("notice_id"))
                requeued = await mesh_dispatch.requeue(uow, notice_id, now)
            outcomes.append(Replayed.REQUEUED if requeued else Replayed.NOT_DEAD)
        elif letter.source is None:
            outcomes.append(Replayed.NOT_REPLAYABLE)
        else:
            outcomes.append(await _republish(letter, letter.source, publisher, data_keys))
    return outcomes


async def _republish(
    letter: DeadLetter, source: Source, publisher: Publisher, data_keys: DataKeyStore | None
) -> Replayed:
    value = letter.value
    if letter.sealed_under:
        if data_keys is None:
            return Replayed.NOT_REPLAYABLE
        try:
            value = data_keys.unwrap(letter.sealed_under, value, sealed_context(source))
        except DataKeyShredded:
            return Replayed.SHREDDED
    await publisher.publish([Message(source.topic, letter.key or "", value)])
    return Replayed.REPUBLISHED
