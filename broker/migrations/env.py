"""Alembic's entry point: runs the migrations on the connection it is given (the usual way, from
``broker.migrations.upgrade``), or on a new engine for the configured URL."""

import asyncio

from alembic import context
from sqlalchemy import Connection

from broker.adapters.db import make_engine
from broker.migrations import comparison_options, metadata

config = context.config


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata(),
        # SQLite alters a table by copying it; batch mode writes migrations that way there.
        render_as_batch=connection.dialect.name == "sqlite",
        **comparison_options(),
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_on_new_engine(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    # `--sql`: the statements as a script, for a database administrator to read or run.
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata(),
        literal_binds=True,
        **comparison_options(),
    )
    with context.begin_transaction():
        context.run_migrations()
elif (given := config.attributes.get("connection")) is not None:
    run(given)
else:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: pass a connection or set sqlalchemy.url")
    asyncio.run(run_on_new_engine(url))
