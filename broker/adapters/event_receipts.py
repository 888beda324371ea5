"""Each event's receipt is audited once, whoever sees it first.

The gateway audits what it accepts, before publishing it (so a router routing it at once
finds it audited, and a client retrying after a failed publish adds no second entry); the
router audits what reached Kafka another way (the SDK). Whoever inserts the event's
``event_receipts`` row writes its one ``event_received`` entry, whatever the order. The row
is checked for under the audit chain's lock, held to the end of the transaction: any other
appender's row has committed by the time the lock is had, so the check never waits on
another transaction's row while holding the lock (which could deadlock).
"""

from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import audit, db
from schemas.events import Event

Path = Literal["gateway", "kafka"]


async def audit_receipt(
    session: AsyncSession, event: Event, actor: str, path: Path, at: datetime
) -> bool:
    """Appends the event's ``event_received`` entry unless it has one; answers whether it
    did. Call it after the transaction's other writes: it takes the audit chain's lock."""
    await audit.hold_lock(session)
    fresh = await db.insert_once(session, db.EventReceipt, event_id=str(event.event_id),
                                 path=path, received_at=at)  # fmt: skip
    if fresh:  # ids and types only: the audit log outlives the data
        details = {"event_type": event.event_type.value, "path": path}
        await audit.append(session, "event_received", actor, str(event.event_id), details, at)
    return fresh
