"""A school's high-severity notice goes to its key adult and deputy together. Pure.

Keeping Children Safe in Education asks for a deputy so that someone is always there: when
a child may come to school after a high-risk incident at home, both are told at once, rather
than the deputy only once the key adult has let the deadline pass. The key adult's notice
carries the escalation chain; the deputy's copy joins it, so that either acknowledging
stops it (services/sealing.py).
"""

from dataclasses import replace

from broker.rules.family import Addressee, ContactRole, Decision
from broker.rules.table import Route
from schemas.notices import NoticeType, Severity

ROUTES = (
    Route("*", "a high-severity notice to a school's key adult", "the school's deputy, at the "
          "same time", NoticeType.SCHOOL_SUPPORT, ContactRole.DEPUTY_KEY_ADULT, (Severity.HIGH,)),
)  # fmt: skip


def with_deputies(decisions: list[Decision]) -> list[Decision]:
    """Each high-severity notice to a school's key adult, followed by its deputy's copy."""
    told: list[Decision] = []
    for decision in decisions:
        told.append(decision)
        if is_for_key_adult(decision) and decision.severity is Severity.HIGH:
            deputy = Addressee(decision.addressee.org_id, ContactRole.DEPUTY_KEY_ADULT)
            told.append(replace(decision, addressee=deputy))
    return told


def is_for_key_adult(decision: Decision) -> bool:
    return (decision.notice_type is NoticeType.SCHOOL_SUPPORT
            and decision.addressee.role is ContactRole.KEY_ADULT)  # fmt: skip


def is_deputy_copy(decision: Decision) -> bool:
    return (decision.notice_type is NoticeType.SCHOOL_SUPPORT
            and decision.addressee.role is ContactRole.DEPUTY_KEY_ADULT)  # fmt: skip


def key_adult_of(deputy_copy: Decision) -> Decision:
    """The key adult's decision a deputy's copy was made from."""
    key_adult = Addressee(deputy_copy.addressee.org_id, ContactRole.KEY_ADULT)
    return replace(deputy_copy, addressee=key_adult)
