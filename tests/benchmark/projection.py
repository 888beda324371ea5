"""``python -m tests.benchmark projection``: the router's directory in memory, measured.

The benchmark's directory of ``people`` people goes into a fresh SQLite database through the
bulk import (not timed here: ``import`` times it); then the projection is loaded as a router
loads it at start, timed, with the process's resident memory before and after, and the bytes
Python holds for it (tracemalloc, on a second load, when ``traced``: tracing slows the load
several times). Then the families of a sample of subjects are resolved through
``SqlDirectory`` with the projection and without it (the same transaction-per-family, the
household chronology read both ways), for resolutions per second.
"""

import asyncio
import gc
import multiprocessing
import os
import random
import secrets
import tempfile
import time
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.adapters import db
from broker.adapters.directory import SqlDirectory
from broker.adapters.directory_projection import DirectoryProjection
from schemas.events import PersonRef
from tests.benchmark import population

MIB = 1024 * 1024
PER_TRANSACTION = 25  # consumers/router.py EVENTS_PER_TRANSACTION


# The generated people's NHS numbers are distinct numbers from the 999 test range, which holds
# about 909,000 valid ones: a population near that size takes ever longer to draw, and one
# beyond it never ends (tests/faults/population.py NhsNumbers). Memory grows linearly with
# people (bytes_per_person): a million is stated from the largest size measured.
MOST_PEOPLE = 800_000


def measure_projection(people: int, sample: int = 2000, traced: bool = False) -> dict[str, Any]:
    if people > MOST_PEOPLE:
        raise ValueError(f"at most {MOST_PEOPLE} people: the NHS test range runs out")
    pop = population.population(people, datetime.now(UTC).date())
    subjects = [PersonRef(nhs_number=p.nhs_number) for p in pop.spec.people if p.nhs_number]
    named = random.Random(1).sample(subjects, min(sample, len(subjects)))
    with tempfile.TemporaryDirectory(prefix="sgb-bench-projection-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'directory.sqlite'}"
        imported = asyncio.run(population.load_in_chunks(pop.spec, url))
        del pop, subjects
        # A fresh process, as a router starting: the generated directory's memory, freed
        # here, would otherwise be reused by the projection and hide its growth.
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=spawn) as child:
            report = child.submit(_measure_in_child, url, named, traced).result()
    held = report.get("traced_mib", report["rss_growth_mib"])
    return {
        "mode": "projection", "people": people, "database": "sqlite",
        "import_seconds": round(imported, 1), **report,
        "bytes_per_person": round(held * MIB / people),
        "load_average_1m": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
    }  # fmt: skip


def _measure_in_child(url: str, named: list[PersonRef], traced: bool) -> dict[str, Any]:
    return asyncio.run(_measure(url, named, traced))


async def _measure(url: str, named: list[PersonRef], traced: bool) -> dict[str, Any]:
    engine = db.make_engine(url)
    try:
        sessions = db.sessions(engine, secrets.token_bytes(32))
        gc.collect()
        before = _rss_mib()
        projection = DirectoryProjection()
        started = time.perf_counter()
        async with sessions() as session:
            await projection.load(session)
        seconds = time.perf_counter() - started
        gc.collect()
        after = _rss_mib()
        report: dict[str, Any] = {
            "load_seconds": round(seconds, 2), "rss_before_mib": round(before),
            "rss_after_mib": round(after), "rss_growth_mib": round(after - before),
            "people_loaded": len(projection.state.people),
        }  # fmt: skip
        report |= await _resolutions(sessions, projection, named)
        if traced:
            report["traced_mib"] = round(await _traced(sessions) / MIB)
        return report
    finally:
        await engine.dispose()


async def _resolutions(
    sessions: async_sessionmaker[AsyncSession], projection: DirectoryProjection,
    named: list[PersonRef],
) -> dict[str, Any]:  # fmt: skip
    """Each way, a transaction per ``PER_TRANSACTION`` families, as the router groups events
    (the projection refreshed once per transaction); both read each family's chronology."""
    rates = {}
    for way, held in (("projection", projection), ("sql", None)):
        started = time.perf_counter()
        for start in range(0, len(named), PER_TRANSACTION):
            async with sessions() as session:
                directory = SqlDirectory(session, held)
                for person in named[start : start + PER_TRANSACTION]:
                    await directory.family_for([person], "acute-0")
        elapsed = time.perf_counter() - started
        rates[f"resolutions_per_s_{way}"] = round(len(named) / elapsed)
        rates[f"ms_per_resolution_{way}"] = round(1000 * elapsed / len(named), 3)
    return rates


async def _traced(sessions: async_sessionmaker[AsyncSession]) -> int:
    """The bytes Python allocated for a second projection, and still holds once loaded."""
    gc.collect()
    tracemalloc.start()
    try:
        projection = DirectoryProjection()
        async with sessions() as session:
            await projection.load(session)
        gc.collect()
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del projection
    return held


def _rss_mib() -> float:
    """The process's resident memory now (not its peak)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / MIB
