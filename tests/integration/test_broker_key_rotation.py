"""The broker rotates its own keys: events sealed to the old key still route, notices signed
by the old key still verify, and the registry records every key's validity."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support import demo_database, sealed_crisis

from broker.adapters.data_keys import FileDataKeys
from broker.adapters.kafka import Topics
from broker.bootstrap import routing_deps
from broker.errors import DecryptionFailed
from broker.keys import PUBLIC_FILE, REGISTRY_FILE, RETIRED_DIR, KeyStore
from broker.services.routing import route_event
from broker.services.scenario import CollectingPublisher
from producers.broker_keys import BrokerPublicKeys
from producers.receiver import NoticeReceiver
from schemas.notices import SealedNotice

pytestmark = pytest.mark.integration
GP = "gp-riverside:safeguarding_lead"


class TestBrokerKeyRotation:
    async def test_rotation_strands_nothing(self, tmp_path: Path, database_url: str) -> None:
        """An event in flight across the rotation routes; old and new notices verify."""
        keys_dir = tmp_path / "keys"
        old = KeyStore.create(keys_dir)
        publisher = CollectingPublisher()
        topics = Topics.with_prefix("t.")
        async with demo_database(database_url, datetime.now(UTC).date()) as demo:
            producers, pairs = demo.producers, demo.recipients
            await route_event(sealed_crisis(old.public, producers),
                              routing_deps(demo.sessions, old, publisher, topics,
                                          data_keys=FileDataKeys(tmp_path / "hh")))  # fmt: skip
            in_flight = sealed_crisis(old.public, producers)
            new = KeyStore.rotate(keys_dir)
            reloaded = KeyStore.load(keys_dir)
            await route_event(
                in_flight,
                routing_deps(
                    demo.sessions,
                    reloaded,
                    publisher,
                    topics,
                    data_keys=FileDataKeys(tmp_path / "hh"),
                ),
            )

        assert new.public.hpke_key_id != old.public.hpke_key_id
        broker = BrokerPublicKeys.from_text((keys_dir / PUBLIC_FILE).read_text())
        receiver = NoticeReceiver(pairs[GP].private, broker)
        notices = [SealedNotice.model_validate_json(m.value) for m in publisher.messages
                   if m.topic == "t.notices" and GP in m.value.decode()]  # fmt: skip
        signers = [receiver.open(n)[0].signing_key_id for n in notices]
        assert signers == [old.public.signing_key_id, new.public.signing_key_id]

        registry = json.loads((keys_dir / REGISTRY_FILE).read_text())
        assert len(registry) == 4
        assert [e["valid_until"] is None for e in registry] == [False, False, True, True]

    async def test_deleting_a_retired_key_retires_it_for_good(self, tmp_path: Path) -> None:
        """Once a retired key's file is deleted, what was sealed to it no longer opens."""
        keys_dir = tmp_path / "keys"
        old = KeyStore.create(keys_dir)
        KeyStore.rotate(keys_dir)
        for path in (keys_dir / RETIRED_DIR).iterdir():
            path.unlink()
        with pytest.raises(DecryptionFailed):
            KeyStore.load(keys_dir).hpke_for(old.public.hpke_key_id)
