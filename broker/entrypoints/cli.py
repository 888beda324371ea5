"""``sgb``: run the broker's processes, manage keys and topics, and run the demo.

A crash is logged through the broker's logging (the exception's type and where, never its
message or locals, which can quote personal data), not printed by Typer or rich.
"""

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from broker.entrypoints.cli_groups import LazyGroups

# Only light modules above: every command, and its --help, pays for what is imported here.
# The rest is imported inside the commands that use it (or in their groups' modules).
if TYPE_CHECKING:
    from fastapi import FastAPI
    from rich.progress import Progress, TaskID
    from typer._click.core import Context  # the click typer carries

    from broker.adapters.audit import VerifyResult
    from broker.adapters.kafka import ConsumerHealth
    from broker.bootstrap import Runtime
    from broker.config import Settings


class _OneLineErrors(LazyGroups):
    """A file or folder a command was given that cannot be read (missing, a folder for a
    file, no permission) is one line naming it, exit 1, in every command: an expected
    condition, never a crash report."""

    def invoke(self, ctx: "Context") -> Any:
        try:
            return super().invoke(ctx)
        except OSError as exc:
            if exc.filename is None:
                raise  # not a file the operator named (a socket, the disk): a crash
            reason = (exc.strerror or type(exc).__name__).lower()
            typer.echo(f"sgb: {exc.filename}: {reason}", err=True)
            raise typer.Exit(1) from None

    def parse_args(self, ctx: "Context", args: list[str]) -> list[str]:
        """Notes a command line that only asks for help: it reads no settings."""
        asked = args[: args.index("--")] if "--" in args else args
        ctx.meta[_HELP_ONLY] = any(arg in ctx.help_option_names for arg in asked)
        return super().parse_args(ctx, args)


_HELP_ONLY = "sgb.help_only"
app = typer.Typer(help="Safeguarding notification broker.", no_args_is_help=True,
                  pretty_exceptions_enable=False, cls=_OneLineErrors)  # fmt: skip


def _require_keys(process: str) -> None:
    """Stops the process, saying why, when its keys are missing or unusable: a process never
    makes keys of its own (``sgb keys-init`` does, once)."""
    from broker.config import Settings
    from broker.errors import KeyFileError
    from broker.keys import PROCESS_KEYS, KeyStore

    try:
        KeyStore.for_process(Settings().keys_dir, PROCESS_KEYS[process])
    except KeyFileError as exc:
        typer.echo(f"sgb {process}: cannot start: {exc}", err=True)
        raise typer.Exit(2) from None


Host = Annotated[str, typer.Option(help="Interface to listen on.")]
OpsPort = Annotated[int | None, typer.Option(
    help="Port for /health, /ready and /metrics on SGB_OPS_HOST (0: none; default SGB_OPS_PORT)."
)]  # fmt: skip


def _version(shown: bool) -> None:
    if shown:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"sgb {version('safeguarding-broker')}")
        except PackageNotFoundError:  # run from a checkout that was never installed
            typer.echo("sgb (not installed)")
        raise typer.Exit()


@app.callback()
def _everything(
    ctx: typer.Context,
    _: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                    help="Print the version and exit.")] = False,
) -> None:  # fmt: skip
    """Crashes go through the logger; whatever any ``sgb`` process creates (the SQLite
    database, its folder, key folders, files) is for its owner alone, whatever the shell's
    umask. Settings that do not parse are one line naming the setting, exit 2. A command
    line asking only for help reads no settings and makes nothing."""
    sys.excepthook = _crash_through_the_logger
    os.umask(0o077)
    if ctx.meta.get(_HELP_ONLY):
        return
    from pydantic import ValidationError

    from broker.config import Settings
    from broker.entrypoints.cli_units import make_sqlite_folder

    try:
        settings = Settings()
    except ValidationError as exc:
        names = sorted({"SGB_" + "__".join(str(p) for p in e["loc"]).upper()
                        for e in exc.errors()})  # fmt: skip
        typer.echo(f"sgb: invalid setting {', '.join(names)}", err=True)
        raise typer.Exit(2) from None
    make_sqlite_folder(settings.database_url)


def _crash_through_the_logger(
    kind: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    """``log_crashes``'s hook, its logging imported only when something crashes."""
    from broker.logging import log_crashes

    log_crashes()
    sys.excepthook(kind, exc, tb)


@app.command()
def gateway(host: Host = "127.0.0.1", port: int = 8080) -> None:
    """Serve the HTTP event gateway (ops endpoints on SGB_OPS_PORT)."""
    _require_keys("gateway")  # before the imports: a process without keys stops at once
    from broker.entrypoints.gateway import create_gateway

    _serve(create_gateway, host, port)


@app.command()
def inbox(host: Host = "127.0.0.1", port: int = 8081) -> None:
    """Serve the recipients' inbox and front-door API (ops endpoints on SGB_OPS_PORT)."""
    _require_keys("inbox")
    from broker.entrypoints.inbox_api import create_inbox_api

    _serve(create_inbox_api, host, port)


@app.command()
def admin(host: Host = "127.0.0.1", port: int = 8082) -> None:
    """Serve the directory admin API: administrators' tokens only (ops on SGB_OPS_PORT)."""
    _require_keys("admin")
    from broker.entrypoints.admin_api import create_admin_api

    _serve(create_admin_api, host, port)


def _serve(create: Callable[["Settings"], "FastAPI"], host: str, port: int) -> None:
    from broker.config import Settings
    from broker.entrypoints.serving import serve_api

    settings = Settings()
    asyncio.run(serve_api(create(settings), settings, host, port))


@app.command("directory-import")
def directory_import(
    folder: Path,
    operator: Annotated[
        str | None,
        typer.Option(help="who runs the import, recorded as its author (default: the OS user)"),
    ] = None,
) -> None:
    """Load a folder of directory CSV files into the database, recording every change. A row
    that would change the keys of an organisation on record is not applied: it is held as a
    pending key change, proposed by the operator, for an administrator to approve."""
    from rich.console import Console
    from rich.progress import Progress

    from broker.config import Settings
    from broker.entrypoints.admin_api import import_folder
    from broker.entrypoints.operators import operator_actor
    from broker.errors import BrokerError

    if not folder.is_dir():
        typer.echo(f"nothing imported: no folder {folder}", err=True)
        raise typer.Exit(1)
    # On standard error, which keeps standard output for the summary; a bar only on a
    # terminal (rich draws none elsewhere, and a log or a pipe gets the summary alone).
    console = Console(stderr=True)
    try:
        with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
            task = bar.add_task("records", total=None)
            shown = partial(_shown, bar, task)
            by = operator_actor(operator)
            summary = asyncio.run(import_folder(folder, Settings(), by, shown))
    except BrokerError as exc:
        typer.echo(f"nothing imported: {exc}", err=True)
        raise typer.Exit(1) from None
    for kind, counts in summary.items():
        typer.echo(f"{kind}: " + (", ".join(f"{n} {a}" for a, n in counts.items()) or "none"))


def _shown(bar: "Progress", task: "TaskID", done: int, total: int) -> None:
    bar.update(task, completed=done, total=total)


@app.command()
def router(ops_port: OpsPort = None) -> None:
    """Consume events and produce sealed notices until SIGTERM, then drain and exit."""
    _require_keys("router")
    from consumers.router import run_router

    asyncio.run(_until_terminated(run_router, ops_port, "router"))


@app.command()
def delivery(ops_port: OpsPort = None) -> None:
    """Consume notices into recipients' inboxes until SIGTERM, then drain and exit."""
    _require_keys("delivery")
    from consumers.delivery import run_delivery

    asyncio.run(_until_terminated(run_delivery, ops_port, "delivery"))


@app.command("keys-init")
def keys_init(
    directory: Path | None = None,
    if_missing: Annotated[
        bool, typer.Option(help="Succeed without making anything when the keys are there already.")
    ] = False,
) -> None:
    """Create the broker's HPKE, signing, token, pseudonym and audit keys (never overwrites):
    the only command that makes them; every process refuses to start without them."""
    from broker.config import Settings
    from broker.errors import KeyFileError
    from broker.keys import PUBLIC_FILE, KeyStore, audit_key

    folder = directory or Settings().keys_dir
    if if_missing and (folder / PUBLIC_FILE).exists():
        audit_key(folder)
        typer.echo(f"broker keys already in {folder}; nothing made")
        return
    try:
        store = KeyStore.create(folder)
    except KeyFileError as exc:
        typer.echo(f"sgb keys-init: {exc}", err=True)
        raise typer.Exit(1) from None
    audit_key(folder)
    typer.echo(f"broker keys created; public keys:\n{store.public.to_text()}")


@app.command("audit-verify")
def audit_verify(
    without_anchor: Annotated[bool, typer.Option(
        help="Check the chain alone, when Kafka is out of reach: a log cut short goes unseen."
    )] = False,
) -> None:  # fmt: skip
    """Check the audit log's keyed chain against the newest head anchored in the audit topic:
    an edited, deleted, reordered or re-chained entry fails it, and so does a log cut short."""
    from broker.adapters.audit import verify_database
    from broker.adapters.audit_anchors import newest_anchor
    from broker.adapters.kafka import Topics
    from broker.config import Settings
    from broker.errors import KeyFileError
    from broker.keys import audit_key

    settings = Settings()
    try:
        key = audit_key(settings.keys_dir, create=False)
    except KeyFileError as exc:
        typer.echo(f"cannot verify the audit log: {exc}")
        raise typer.Exit(1) from None
    anchor = None
    if not without_anchor:
        topic = Topics.with_prefix(settings.topic_prefix).audit
        anchor = asyncio.run(newest_anchor(settings.kafka_bootstrap_servers, topic, key,
                                           settings.kafka_security))  # fmt: skip
        if anchor is None:
            typer.echo(
                f"no anchor of the audit log found in {topic}: cannot tell whether "
                "entries were cut from its end (--without-anchor checks the chain alone)"
            )
            raise typer.Exit(1)
    result = asyncio.run(verify_database(settings.database_url, key, anchor))
    if not result.ok:
        typer.echo(f"audit log broken at entry {result.first_bad_seq}: {result.problem}")
        raise typer.Exit(1)
    anchored = f", up to the anchored entry {result.anchored}" if result.anchored else ""
    typer.echo(f"audit log intact: {result.entries} entries{anchored}{_keyed_note(result)}")


def _keyed_note(result: "VerifyResult") -> str:
    """For a log begun before the chain was keyed: where its keyed part starts."""
    if result.entries == 0 or result.keyed_from == 1:
        return ""
    if result.keyed_from is None:
        return " (none keyed yet: all made before the audit key)"
    return f" (keyed from entry {result.keyed_from}, which pins those before it)"


@app.command("db-upgrade")
def db_upgrade() -> None:
    """Bring the database (SGB_DATABASE_URL) to the newest migration; safe to repeat."""
    from broker import migrations
    from broker.adapters import db
    from broker.config import Settings

    async def run() -> str | None:
        engine = db.make_engine(Settings().database_url)
        try:
            await migrations.upgrade(engine)
            return await migrations.current(engine)
        finally:
            await engine.dispose()

    typer.echo(f"database at revision {asyncio.run(run())}")


@app.command("shred-household")
def shred_household(household_id: str) -> None:
    """Retention: delete the household's data key (its stored notices can never be read
    again), its chronology, its pattern records and its matched queue entries; then cut
    every event the router has routed from the events topic."""
    import structlog

    from broker.adapters import db
    from broker.adapters.data_keys import FileDataKeys
    from broker.adapters.kafka import Topics
    from broker.adapters.topic_purge import delete_routed
    from broker.adapters.unit_of_work import SqlUnitOfWork
    from broker.config import Settings
    from broker.keys import KeyStore, audit_key
    from broker.services.retention import shred_household as shred

    settings = Settings()

    async def run() -> bool:
        engine = db.make_engine(settings.database_url)
        keys = KeyStore.load(settings.keys_dir)
        sessions = db.sessions(engine, audit_key(settings.keys_dir, create=False))
        async with SqlUnitOfWork(sessions) as uow:
            done = await shred(uow, FileDataKeys(settings.keys_dir / "households"),
                               keys.pseudonym_secret, household_id, "cli")  # fmt: skip
        await engine.dispose()
        return done

    async def purge() -> dict[int, int]:
        events = Topics.with_prefix(settings.topic_prefix).events
        return await delete_routed(settings.kafka_bootstrap_servers, events,
                                   settings.router_group, settings.kafka_security)  # fmt: skip

    typer.echo("household data key deleted" if asyncio.run(run()) else "no key to delete")
    try:
        cut = asyncio.run(purge())
    except Exception as exc:  # the key is gone either way; the topic waits for a retry
        structlog.get_logger(__name__).error("events_topic_not_purged", error=type(exc).__name__)
        typer.echo("routed events not yet cut from the events topic: run this again", err=True)
        raise typer.Exit(1) from None
    structlog.get_logger(__name__).info("events_topic_purged", partitions=len(cut))
    typer.echo(f"routed events cut from the events topic ({len(cut)} partitions)")


@app.command("sweep-unknown-people")
def sweep_unknown_people() -> None:
    """Retention: shred the data key of each person the directory does not know whose last
    notice is older than SGB_UNKNOWN_PERSON_RETENTION_DAYS (run it daily)."""
    from datetime import UTC, datetime

    from broker.adapters import db
    from broker.adapters.data_keys import FileDataKeys
    from broker.adapters.unit_of_work import SqlUnitOfWork
    from broker.config import Settings
    from broker.keys import audit_key
    from broker.services.retention import sweep_unknown_people as sweep

    settings = Settings()
    retention = timedelta(days=settings.unknown_person_retention_days)

    async def run() -> int:
        engine = db.make_engine(settings.database_url)
        sessions = db.sessions(engine, audit_key(settings.keys_dir, create=False))
        async with SqlUnitOfWork(sessions) as uow:
            swept = await sweep(uow, FileDataKeys(settings.keys_dir / "households"),
                                datetime.now(UTC), retention, "retention-sweep")  # fmt: skip
        await engine.dispose()
        return len(swept)

    typer.echo(f"{asyncio.run(run())} unknown people's data keys shredded")


@app.command()
def scenario(files: list[Path]) -> None:
    """Replay scenario files through the routing rules and check the notices they expect."""
    from rich.console import Console

    from broker.entrypoints.scenario_cli import run_files

    raise typer.Exit(0 if run_files(files, Console()) else 1)


@app.command("keys-rotate")
def keys_rotate(
    directory: Path | None = None,
    grace_minutes: Annotated[
        int,
        typer.Option(
            min=0,
            help=(
                "How long the old signing key stays valid: restart every process within it. "
                "0 after a leak: receivers then refuse anything it signs from now on."
            ),
        ),
    ] = 60,
) -> None:
    """New current broker keys; the old ones retired (still opening and verifying what they
    sealed and signed before). Restart the broker's processes to take the new keys into use."""
    from broker.config import Settings
    from broker.keys import KeyStore

    grace = timedelta(minutes=grace_minutes)
    store = KeyStore.rotate(directory or Settings().keys_dir, grace)
    typer.echo(f"broker keys rotated; public keys:\n{store.public.to_text()}")


@app.command()
def demo() -> None:
    """Start Kafka and every process, replay a family's timeline, show each inbox, stop."""
    from broker.demo.run import run_demo

    raise typer.Exit(run_demo())


ConsumerLoop = Callable[["Runtime", asyncio.Event, "ConsumerHealth"], Awaitable[None]]


async def _until_terminated(loop: ConsumerLoop, ops_port: int | None, process: str) -> None:
    """Runs the loop until SIGTERM or SIGINT; then it finishes and commits the batch in hand,
    leaves its group, and the producer flushes before the process exits 0."""
    import structlog

    from broker.adapters.kafka import ConsumerHealth
    from broker.bootstrap import runtime
    from broker.config import Settings
    from broker.entrypoints import ops
    from broker.keys import PROCESS_KEYS

    stop = asyncio.Event()

    def drain(sig: signal.Signals) -> None:
        structlog.get_logger(__name__).info("draining", signal=sig.name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, drain, sig)
    settings, health = Settings(), ConsumerHealth()
    port = settings.ops_port if ops_port is None else ops_port
    async with (
        runtime(settings, key_purposes=PROCESS_KEYS[process]) as rt,
        ops.serving(ops.consumer_ops_app(rt, health), settings.ops_host, port),
    ):
        await loop(rt, stop, health)


if __name__ == "__main__":
    app()
