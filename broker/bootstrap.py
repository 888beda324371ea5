"""Builds every dependency once, from settings, for whichever process is starting."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from broker.adapters import db
from broker.adapters.data_keys import FileDataKeys
from broker.adapters.kafka import KafkaPublisher, Topics, ensure_topics
from broker.config import Settings
from broker.keys import ALL_PURPOSES, KeyStore, Purpose, audit_key
from broker.logging import configure_logging


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    keys: KeyStore
    topics: Topics
    publisher: KafkaPublisher
    data_keys: FileDataKeys


@asynccontextmanager
async def runtime(
    settings: Settings,
    *,
    configure_logs: bool = True,
    key_purposes: frozenset[Purpose] = ALL_PURPOSES,
) -> AsyncIterator[Runtime]:
    """Loads the keys of ``key_purposes`` (first: a process without its keys stops before it
    touches anything), opens the database, makes sure the topics exist, starts a producer."""
    if configure_logs:
        configure_logging(settings.log_level, settings.log_json)
    keys = KeyStore.for_process(settings.keys_dir, key_purposes)
    engine = db.make_engine(settings.database_url)
    await db.create_schema(engine)
    topics = Topics.with_prefix(settings.topic_prefix)
    security = settings.kafka_security
    await ensure_topics(settings.kafka_bootstrap_servers, topics, settings.topics, security)
    publisher = KafkaPublisher(settings.kafka_bootstrap_servers, security)
    await publisher.start()
    try:
        data_keys = FileDataKeys(settings.keys_dir / "households")
        sessions = db.sessions(engine, audit_key(settings.keys_dir))
        yield Runtime(settings, engine, sessions, keys, topics, publisher, data_keys)
    finally:
        await publisher.stop()
        await engine.dispose()
