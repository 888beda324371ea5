"""A recipient rotates its key while notices sealed to the old one are still unread."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from support import demo_database, sealed_crisis

from broker.adapters.data_keys import FileDataKeys
from broker.adapters.kafka import Topics
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import routing_deps
from broker.errors import DecryptionFailed
from broker.keys import KeyStore
from broker.services.directory_admin import put_contact
from broker.services.routing import RoutingDeps, route_event
from broker.services.scenario import CollectingPublisher
from producers import crypto
from producers.receiver import NoticeReceiver
from schemas.directory import ContactSpec
from schemas.notices import SealedNotice

pytestmark = pytest.mark.integration
GP = "gp-riverside:safeguarding_lead"


async def crisis(deps: RoutingDeps, producers: dict[str, Any]) -> None:
    await route_event(sealed_crisis(deps.keys.public, producers), deps)


class TestRecipientKeyRotation:
    async def test_unread_notices_stay_readable_after_rotation(
        self, tmp_path: Path, database_url: str
    ) -> None:
        """Notices sealed before a rotation open with the old key, later ones with the new;
        a receiver that kept only the new key cannot read the old ones."""
        keys = KeyStore.create(tmp_path / "keys")
        publisher = CollectingPublisher()
        new_key = X25519PrivateKey.generate()
        async with demo_database(database_url, datetime.now(UTC).date()) as demo:
            deps = routing_deps(
                demo.sessions,
                keys,
                publisher,
                Topics.with_prefix("t."),
                data_keys=FileDataKeys(tmp_path / "households"),
            )
            await crisis(deps, demo.producers)
            async with demo.sessions.begin() as session:
                await put_contact(SqlUnitOfWork.joined(session), ContactSpec(
                    id=GP, org_id="gp-riverside", role="safeguarding_lead",
                    hpke_public_key=crypto.encode_public(new_key.public_key()),
                ), "admin")  # fmt: skip
            await crisis(deps, demo.producers)
        old_key = demo.recipients[GP].private

        notices = [SealedNotice.model_validate_json(m.value) for m in publisher.messages
                   if m.topic == deps.topics.notices and GP in m.value.decode()]  # fmt: skip
        assert len(notices) == 2
        old_id, new_id = (crypto.key_id(k.public_key()) for k in (old_key, new_key))
        keyring = NoticeReceiver({old_id: old_key, new_id: new_key}, keys.public)
        assert [keyring.open(n)[0].recipient_key_id for n in notices] == [old_id, new_id]
        only_new = NoticeReceiver({new_id: new_key}, keys.public)
        with pytest.raises(DecryptionFailed):
            only_new.open(notices[0])
        assert only_new.open(notices[1])[1].event_type == "parent_mental_health_crisis"
