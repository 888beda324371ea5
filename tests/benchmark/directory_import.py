"""``python -m tests.benchmark import``: the benchmark's directory loaded through the bulk
import into an empty database (SQLite, or a PostgreSQL database made for the measurement and
dropped after), timed: ``directory_import_records_per_s``.

A record is one item of the ``DirectorySpec``: an organisation, a contact, a person, a household
(its members included), a relationship, a registration, an involvement or a plan. Generating
the population is not timed; creating the schema is not timed.
"""

import asyncio
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.services.directory_admin import ImportSummary, load_directory
from broker.services.directory_bulk import bulk_load_directory
from schemas.directory import DirectorySpec
from tests.benchmark import pg_copy, population
from tests.benchmark.population import Loader, load_in_chunks, records_in


def measure_import(
    people: int, postgres: str | None = None, per_record: bool = False
) -> dict[str, Any]:
    """Times one load of the benchmark's directory of ``people`` people (through the
    per-record import instead when ``per_record``, for a before-and-after)."""
    pop = population.population(people, datetime.now(UTC).date())
    load: Loader = _per_record if per_record else bulk_load_directory
    with tempfile.TemporaryDirectory(prefix="sgb-bench-import-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'directory.sqlite'}"
        seconds = asyncio.run(_timed(pop.spec, url, postgres, load))
    records = records_in(pop.spec)
    return {
        "mode": "import", "people": people, "database": "postgresql" if postgres else "sqlite",
        "path": "per_record" if per_record else "bulk",
        "records": records, "seconds": round(seconds, 2),
        "directory_import_records_per_s": round(records / seconds),
        "load_average_1m": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
    }  # fmt: skip


async def _per_record(uow: SqlUnitOfWork, spec: DirectorySpec) -> ImportSummary:
    return await load_directory(uow, spec)


async def _timed(spec: DirectorySpec, sqlite_url: str, postgres: str | None,
                 load: Loader) -> float:  # fmt: skip
    if not postgres:
        return await load_in_chunks(spec, sqlite_url, load)
    name, url = await pg_copy.empty_database(postgres)
    try:
        return await load_in_chunks(spec, url, load)
    finally:
        await pg_copy.drop_database(postgres, name)
