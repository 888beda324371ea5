"""``sgb dead-letters``: list, inspect and replay what could not be processed.

    sgb dead-letters list
    sgb dead-letters show 3/120                  # partition/offset in the dead-letter topic
    sgb dead-letters replay 3/120
    sgb dead-letters replay --all --reason webhook_rejected
    sgb dead-letters receipts                    # receipts a peer broker refused for good
    sgb dead-letters replay-receipts <transfer id>
    sgb dead-letters replay-receipts --all

Nothing here decrypts anything: a letter is shown by its reason, origin, key pseudonym and
the size and digest of its value, never its content.
"""

import asyncio
import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from broker.adapters import db, dead_letter_topic
from broker.adapters.dead_letter_topic import DeadLetter
from broker.adapters.kafka import Topics
from broker.adapters.peer_receipts import SqlPeerReceipts
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import runtime
from broker.config import Settings
from broker.entrypoints.operators import operator_name
from broker.keys import audit_key
from broker.services.dead_letters import Replayed, chosen, replay
from broker.services.peer_receipts import DeadReceipt, replay_dead

app = typer.Typer(
    help="List, inspect and replay dead letters.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
Position = Annotated[str | None, typer.Argument(help="partition/offset, as the list shows it")]


@app.command("list")
def list_letters(
    reason: Annotated[str | None, typer.Option(help="Only letters with this reason.")] = None,
) -> None:
    """Every dead letter: where it lies, where it came from, why, and when."""
    letters = chosen(asyncio.run(read_all(Settings())), reason)
    Console().print(letters_table(letters))


@app.command()
def show(position: str) -> None:
    """One letter's reason and metadata (never its content)."""
    letter = asyncio.run(read_one(Settings(), position))
    typer.echo(json.dumps(described(letter), indent=2))


@app.command("replay")
def replay_command(
    position: Position = None,
    all_letters: Annotated[bool, typer.Option("--all", help="Every letter.")] = False,
    reason: Annotated[str | None, typer.Option(help="With --all: only this reason.")] = None,
) -> None:
    """Send a letter (or every letter, or every letter with a reason) back to be processed."""
    if (position is None) == (not all_letters) or (reason and not all_letters):
        raise typer.BadParameter("give a partition/offset, or --all with an optional --reason")
    outcomes = asyncio.run(replay_letters(Settings(), position, reason))
    for letter, outcome in outcomes:
        typer.echo(f"{letter.position} {letter.reason_name}: {outcome.value}")
    if not outcomes:
        typer.echo("no dead letters to replay")


@app.command("receipts")
def list_receipts() -> None:
    """Receipts on peers' transfers that the peer refused for good (dead-lettered in the
    receipts queue, not on the topic): the transfer, the receipt, the peer and its answer."""
    dead = asyncio.run(_dead_receipts(Settings(), None, replayed_by=None))
    table = Table(title=f"{len(dead)} dead-lettered peer receipts")
    for column in ("transfer", "receipt", "peer", "last status", "attempts", "dead since"):
        table.add_column(column)
    for receipt, _ in dead:
        table.add_row(receipt.transfer_id, receipt.receipt, receipt.peer_org,
                      str(receipt.last_status or "-"), str(receipt.attempts),
                      receipt.dead_at.isoformat(timespec="seconds"))  # fmt: skip
    Console().print(table)


@app.command("replay-receipts")
def replay_receipts(
    transfer_id: Annotated[str | None, typer.Argument(help="the transfer, as listed")] = None,
    all_receipts: Annotated[bool, typer.Option("--all", help="Every dead receipt.")] = False,
    operator: Annotated[str | None, typer.Option(help="who replays, for the audit log")] = None,
) -> None:
    """Owe a dead receipt to its peer again, from a first attempt (the delivery worker sends
    it): every dead receipt of a transfer, or every one."""
    if (transfer_id is None) == (not all_receipts):
        raise typer.BadParameter("give a transfer id, or --all")
    replayed_by = operator_name(operator)
    outcomes = asyncio.run(_dead_receipts(Settings(), transfer_id, replayed_by))
    for receipt, requeued in outcomes:
        done = "requeued" if requeued else "not_dead"
        typer.echo(f"{receipt.transfer_id} {receipt.receipt}: {done}")
    if not outcomes:
        typer.echo("no dead receipts to replay")


async def _dead_receipts(
    settings: Settings, transfer_id: str | None, replayed_by: str | None
) -> list[tuple[DeadReceipt, bool]]:
    """The dead receipts (of the transfer), replayed when an operator is named."""
    engine = db.make_engine(settings.database_url)
    try:
        store = SqlPeerReceipts(db.sessions(engine, audit_key(settings.keys_dir)))
        if replayed_by is not None:
            return await replay_dead(store, transfer_id, replayed_by, datetime.now(UTC))
        return [(dead, False) for dead in await store.dead_letters()]
    finally:
        await engine.dispose()


async def read_all(settings: Settings) -> list[DeadLetter]:
    return await dead_letter_topic.read_all(
        settings.kafka_bootstrap_servers, _topic(settings), settings.kafka_security
    )


async def read_one(settings: Settings, position: str) -> DeadLetter:
    partition, offset = _parse_position(position)
    letter = await dead_letter_topic.read_one(
        settings.kafka_bootstrap_servers, _topic(settings), partition, offset,
        settings.kafka_security,
    )  # fmt: skip
    if letter is None:
        raise typer.BadParameter(f"no dead letter at {position}")
    return letter


async def replay_letters(
    settings: Settings, position: str | None, reason: str | None
) -> list[tuple[DeadLetter, Replayed]]:
    letters = [await read_one(settings, position)] if position else chosen(
        await read_all(settings), reason)  # fmt: skip
    async with runtime(settings, configure_logs=False) as rt:
        outcomes = await replay(letters, rt.publisher, lambda: SqlUnitOfWork(rt.sessions),
                                datetime.now(UTC), rt.data_keys)  # fmt: skip
    return list(zip(letters, outcomes, strict=True))


def letters_table(letters: list[DeadLetter]) -> Table:
    table = Table(title=f"{len(letters)} dead letters")
    for column in ("position", "source", "reason", "details", "first failed"):
        table.add_column(column)
    for letter in letters:
        source = letter.source
        table.add_row(
            letter.position,
            f"{source.topic} {source.partition}/{source.offset}" if source else "-",
            letter.reason_name,
            _details(letter),
            letter.first_failed_at.isoformat(timespec="seconds") if letter.first_failed_at else "-",
        )
    return table


def described(letter: DeadLetter) -> dict[str, object]:
    """What ``show`` prints: reason and metadata, and only the size and digest of the value."""
    source = letter.source
    return {
        "position": letter.position,
        "key": letter.key,
        "reason": dict(letter.reason),
        "source": _source(source) if source else None,
        "first_failed_at": letter.first_failed_at.isoformat() if letter.first_failed_at else None,
        "replayable": letter.replayable,
        "value_bytes": len(letter.value),
        "value_sha256": hashlib.sha256(letter.value).hexdigest(),
    }


def _source(source: dead_letter_topic.Source) -> dict[str, object]:
    return {"topic": source.topic, "partition": source.partition, "offset": source.offset}


def _details(letter: DeadLetter) -> str:
    shown = ("status", "attempts", "error", "fields", "notice_id")
    return ", ".join(f"{k}={letter.reason[k]}" for k in shown if letter.reason.get(k))


def _topic(settings: Settings) -> str:
    return Topics.with_prefix(settings.topic_prefix).dead_letters


def _parse_position(position: str) -> tuple[int, int]:
    try:
        partition, offset = (int(part) for part in position.split("/"))
    except ValueError:
        raise typer.BadParameter("a position is partition/offset, like 3/120") from None
    return partition, offset
