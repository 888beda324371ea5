"""The effects services need, as protocols: adapters implement them, tests fake them."""

from collections.abc import Sequence
from typing import Protocol

from broker.adapters.kafka import Message


class Publisher(Protocol):
    async def publish(self, messages: Sequence[Message]) -> None: ...


class DataKeyStore(Protocol):
    """Households' data keys, kept apart from the database (broker/adapters/data_keys.py).

    ``unwrap`` raises ``DataKeyShredded`` for what a shredded key sealed and
    ``DataKeyUnusable`` for a damaged key or ciphertext, nothing else; ``wrap`` makes the
    household's key on first use, a new one after a shred. ``household`` in ``wrap`` and
    ``unwrap`` may name several households ("a+b"): sealed under each key, gone with any."""

    def wrap(self, household: str, data: bytes, context: bytes) -> bytes: ...

    def unwrap(self, household: str, stored: bytes, context: bytes) -> bytes: ...

    def shred(self, household: str) -> bool: ...

    def is_shredded(self, household: str) -> bool: ...
