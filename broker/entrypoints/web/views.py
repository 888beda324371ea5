"""What the web inbox's templates show: notices as rows of words, times in London time.

Nothing here reads a notice's body: the header (type, severity, due time) and the broker's
record of its receipts are all the server can show; the body opens in the browser.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from broker.ports import InboxEntry, NoticeRecordView
from broker.rules.deadlines import LONDON
from schemas.notices import NoticeHeader

PAGE_SIZE = 20
SEVERITY_TAGS = {"high": "govuk-tag--red", "medium": "govuk-tag--orange", "low": "govuk-tag--grey"}
STATUS_TAGS = {"Rejected": "govuk-tag--grey", "Acknowledged": "govuk-tag--green",
               "Viewed": "govuk-tag--blue", "New": "govuk-tag--yellow"}  # fmt: skip


@dataclass(frozen=True)
class Receipt:
    label: str
    at: str


@dataclass(frozen=True)
class NoticeRow:
    notice_id: str
    kind: str
    severity: str
    severity_tag: str
    status: str
    status_tag: str
    due: str
    arrived: str
    arrived_at: datetime
    receipts: tuple[Receipt, ...]
    answered: bool  # acknowledged or rejected: no more forms


@dataclass(frozen=True)
class Page:
    rows: tuple[NoticeRow, ...]
    number: int
    count: int  # pages in all

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.count else None


def london(at: datetime) -> str:
    """ "Monday 7 December 2026 at 08:45" in London time (GMT or BST as the day was)."""
    local = at.astimezone(LONDON)
    return f"{local:%A} {local.day} {local:%B %Y} at {local:%H:%M}"


def row(entry: InboxEntry, record: NoticeRecordView | None) -> NoticeRow:
    header = NoticeHeader.model_validate_json(entry.header)
    status = _status(record)
    return NoticeRow(
        notice_id=entry.notice_id, kind=header.notice_type.value.replace("_", " ").capitalize(),
        severity=header.severity.value.capitalize(),
        severity_tag=SEVERITY_TAGS.get(header.severity.value, ""), status=status,
        status_tag=STATUS_TAGS[status], due=london(header.deadline),
        arrived=london(entry.delivered_at), arrived_at=entry.delivered_at,
        receipts=_receipts(entry, record), answered=status in {"Acknowledged", "Rejected"},
    )  # fmt: skip


def page(rows: Sequence[NoticeRow], number: int) -> Page:
    """Newest first, ``PAGE_SIZE`` a page; a page past the last shows the last."""
    newest = sorted(rows, key=lambda r: (r.arrived_at, r.notice_id), reverse=True)
    count = max(1, -(-len(newest) // PAGE_SIZE))
    number = min(max(1, number), count)
    start = (number - 1) * PAGE_SIZE
    return Page(tuple(newest[start : start + PAGE_SIZE]), number, count)


def _status(record: NoticeRecordView | None) -> str:
    if record is None:
        return "New"
    if record.rejected_at:
        return "Rejected"
    if record.acknowledged_at:
        return "Acknowledged"
    return "Viewed" if record.viewed_at else "New"


def _receipts(entry: InboxEntry, record: NoticeRecordView | None) -> tuple[Receipt, ...]:
    found: list[tuple[str, datetime | None]] = [("Arrived in this inbox", entry.delivered_at)]
    if record is not None:
        found += [("Delivered", record.delivered_at), ("Viewed", record.viewed_at),
                  ("Acknowledged", record.acknowledged_at), ("Rejected", record.rejected_at),
                  ("Escalated", record.escalated_at)]  # fmt: skip
    return tuple(Receipt(label, london(at)) for label, at in found if at is not None)
