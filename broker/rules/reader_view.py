"""What a re-routed or escalated notice's new reader reads. Pure.

A notice goes on (rejected, or not acknowledged in time) to readers who may see more than its
first reader: a school's notice reaching the front door, or the local authority's safeguarding
lead. The new reader is given its own view, composed from the broker's full view of the notice
(kept when the notice was sealed), never the first reader's minimised copy: that copy names the
front door itself as who to call and leaves out what the front door needs to decide. A reader
who may see no more than the first one is given the first reader's copy, as before.
"""

from broker.rules.family import OrgKind
from broker.rules.minimisation import DETAIL_FIELDS, EVERYTHING
from schemas.notices import NoticeBody, NoticeType

# Readers who act for the whole family: they read what a front door reads.
WHOLE_VIEW_ORGS = frozenset({OrgKind.FRONT_DOOR.value})


def sees_everything(kind: NoticeType) -> bool:
    return DETAIL_FIELDS[kind] == EVERYTHING


def reader_kind(notice_type: NoticeType, org_kind: str | None) -> NoticeType:
    """The kind of reader a follow-up goes to: a front door's people (its duty manager or
    safeguarding lead) read as a front door, whatever the first notice's type."""
    if org_kind in WHOLE_VIEW_ORGS and not sees_everything(notice_type):
        return NoticeType.FRONT_DOOR_REFERRAL
    return notice_type


def for_reader(original: NoticeBody, full: NoticeBody | None, kind: NoticeType) -> NoticeBody:
    """The body for a new reader of ``kind``: the full view, with what the chain added to the
    notice on its way (who rejected it, earlier escalations), when the reader may see it all;
    otherwise the notice as its first reader had it."""
    if full is None or not sees_everything(kind):
        return original
    return full.model_copy(update={"facts": {**full.facts, **original.facts}})
