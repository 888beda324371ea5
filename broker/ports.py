"""The effects services need, as protocols: adapters implement them, tests fake them."""

from collections.abc import Sequence
from typing import Protocol

from broker.adapters.kafka import Message


class Publisher(Protocol):
    async def publish(self, messages: Sequence[Message]) -> None: ...
