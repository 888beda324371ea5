"""``python -m tests.benchmark``: the benchmark's commands; each prints one JSON document.

run       the broker end to end, then raw aiokafka through the same two hops
gateway   the HTTP gateway alone
scale     ``run`` over a grid of router instances and partitions
import    the directory through the bulk import, timed (records/s)
delivery  the delivery worker alone: ms per notice (needs KAFKA_BOOTSTRAP_SERVERS)
projection the router's directory in memory: load seconds, memory, resolutions per second
routing   the router's handler alone, in-process: CPU ms per event (needs KAFKA_BOOTSTRAP_SERVERS)
"""

import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import structlog
import typer

from broker.adapters.kafka import MAX_RECORDS
from tests.benchmark.delivery import measure_delivery
from tests.benchmark.directory_import import measure_import
from tests.benchmark.projection import measure_projection
from tests.benchmark.routing import measure_routing
from tests.benchmark.run import Load, run, run_gateway_mode

app = typer.Typer(add_completion=False, no_args_is_help=True)

People = Annotated[int, typer.Option(min=1000, help="people in the generated directory")]
Events = Annotated[int, typer.Option(min=1, help="events to publish")]
Postgres = Annotated[
    str | None,
    typer.Option(
        help="a PostgreSQL server's URL (postgresql+asyncpg://...) for the broker's "
        "database; default: SQLite"
    ),
]
Rate = Annotated[float | None, typer.Option(min=0.1, help="events/s offered; default: max")]


def _quiet_logs() -> None:
    # The JSON document is the output: the SDK's and clients' logs go to standard error.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    )


def _print(report: dict[str, Any]) -> None:
    print(json.dumps(report, indent=2))


@app.command("run")
def run_command(
    people: People = 100_000,
    events: Events = 5_000,
    rate: Rate = None,
    in_flight: Annotated[int, typer.Option(min=1, help="events awaiting Kafka at once")] = 64,
    routers: Annotated[int, typer.Option(min=1)] = 1,
    deliveries: Annotated[int, typer.Option(min=1)] = 1,
    partitions: Annotated[int, typer.Option(min=1)] = 6,
    baseline: Annotated[bool, typer.Option(help="also run the raw-aiokafka baseline")] = True,
    postgres: Postgres = None,
    profile: Annotated[bool, typer.Option(help="profile the broker (pyinstrument)")] = False,
) -> None:
    """The broker end to end under a mixed load, and the raw-aiokafka baseline."""
    _quiet_logs()
    load = Load(people, events, rate, in_flight, routers, deliveries, partitions, baseline,
                postgres, profile)  # fmt: skip
    _print(run(load))


@app.command()
def gateway(
    people: People = 100_000,
    events: Events = 3_000,
    concurrency: Annotated[int, typer.Option(min=1, help="clients posting at once")] = 16,
    partitions: Annotated[int, typer.Option(min=1)] = 6,
    postgres: Postgres = None,
) -> None:
    """The HTTP gateway alone: events accepted per second, and the latency of a 202."""
    _quiet_logs()
    _print(run_gateway_mode(people, events, concurrency, partitions, postgres))


@app.command()
def scale(
    people: People = 100_000,
    events: Events = 3_000,
    routers: Annotated[str, typer.Option(help="router instances to try")] = "1,2,4",
    partitions: Annotated[str, typer.Option(help="partition counts to try")] = "1,2,4,8,12",
    postgres: Postgres = None,
) -> None:
    """``run`` for each number of routers and partitions (routers beyond the partitions
    would sit idle, so those pairs are skipped); no baseline."""
    _quiet_logs()
    runs = []
    for p in (int(n) for n in partitions.split(",")):
        for r in (int(n) for n in routers.split(",")):
            if r > p:
                continue
            load = Load(people, events, routers=r, partitions=p, baseline=False,
                        postgres=postgres)  # fmt: skip
            report = run(load)
            typer.echo(f"routers={r} partitions={p}: {report['events_per_s']} events/s", err=True)
            runs.append({"routers": r, "partitions": p} | {
                k: report[k] for k in ("events_per_s", "notices_per_s", "latency_ms",
                                       "cpu_s_per_1000_events", "peak_rss_mib",
                                       "consumer_lag_at_end")
            })  # fmt: skip
    database = "postgresql" if postgres else "sqlite"
    _print({"mode": "scale", "people": people, "events": events, "database": database,
            "runs": runs})  # fmt: skip


@app.command("import")
def import_command(
    people: People = 100_000,
    postgres: Postgres = None,
    per_record: Annotated[bool, typer.Option(help="the per-record import, for comparison")] = False,
) -> None:
    """The directory loaded through the bulk import into an empty database, timed."""
    _quiet_logs()
    _print(measure_import(people, postgres, per_record))


@app.command()
def projection(
    people: People = 100_000,
    sample: Annotated[int, typer.Option(min=1, help="families resolved each way")] = 2_000,
    traced: Annotated[bool, typer.Option(help="also the bytes tracemalloc sees")] = False,
) -> None:
    """The router's directory in memory: load time, memory, resolutions per second."""
    _quiet_logs()
    _print(measure_projection(people, sample, traced))


@app.command()
def delivery(
    notices: Annotated[int, typer.Option(min=1, help="signed notices to deliver")] = 5_000,
    postgres: Postgres = None,
    batch: Annotated[int, typer.Option(min=1, help="records per handler call")] = MAX_RECORDS,
    profile: Annotated[Path | None, typer.Option(help="pyinstrument's report to this file")] = None,
    split: Annotated[
        bool, typer.Option(help="also one notice per batch: the cost per batch and per notice")
    ] = False,
) -> None:
    """The delivery worker's CPU and wall ms per notice, its handler called in-process."""
    _quiet_logs()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        raise typer.BadParameter("set KAFKA_BOOTSTRAP_SERVERS: the audit records go to Kafka")
    _print(asyncio.run(measure_delivery(notices, bootstrap, postgres, batch, profile, split)))


@app.command()
def routing(
    people: People = 20_000,
    events: Annotated[int, typer.Option(min=1, help="events to route")] = 2_000,
    profile: Annotated[
        Path | None, typer.Option(help="write pyinstrument's text profile of the timed part here")
    ] = None,
    postgres: Postgres = None,
    batch: Annotated[int, typer.Option(min=1, help="records per handler call")] = MAX_RECORDS,
) -> None:
    """The router's CPU and wall ms per event, its handler called in-process (SQLite, or a
    PostgreSQL database made for the run)."""
    _quiet_logs()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        raise typer.BadParameter("set KAFKA_BOOTSTRAP_SERVERS: the notices go to Kafka")
    _print(asyncio.run(measure_routing(people, events, bootstrap, profile, postgres, batch)))


if __name__ == "__main__":
    app()
