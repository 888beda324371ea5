"""In which languages a recipient's system renders a notice's wording. Pure.

The broker ships fixed wording keys, not prose (``NoticeBody.wording``, a school's guidance):
each key has an English and a Welsh text in the recipients' key catalogue. Public bodies in
Wales communicate in Welsh and English (the Welsh Language Standards), so a notice to a
recipient in Wales is marked to be rendered in both, Welsh first; elsewhere in English. The
marker is all the broker adds: the keys are the same in both languages, so nothing is
duplicated and no translation is made by the broker. A move's keys (``transfer_wording``)
follow the receiving nation's terms; their catalogue entries are below.
"""

from collections.abc import Mapping
from typing import Literal

from broker.rules.deadlines import nation_of

Language = Literal["cy", "en"]
WELSH_AND_ENGLISH: tuple[Language, ...] = ("cy", "en")
ENGLISH: tuple[Language, ...] = ("en",)


def languages_for(recipient_area: str | None) -> tuple[Language, ...]:
    """The languages for a recipient whose organisation is in ``recipient_area``."""
    return WELSH_AND_ENGLISH if nation_of(recipient_area) == "WLS" else ENGLISH


# A move's wording follows the receiving nation: Wales keeps a child protection register
# (its custodian, the receiving authority, is told of a registered child who moves in),
# England has child protection plans. The move sets the facts (rules/move.py); these keys are
# all a reader's system needs to word the transfer in that nation's terms.
RECEIVING_NATION = "receiving_nation"
REGISTERED_CHILD = "child_protection_register"
SEND_HISTORY_TO = "send_history_to"
TERMS_REGISTER = "transfer.terms.child_protection_register"
TERMS_PLAN = "transfer.terms.child_protection_plan"
REGISTERED_CHILD_MOVES = "transfer.register.registered_child_moves_in"
SEND_HISTORY = "transfer.task.send_history"
TELL_CUSTODIAN = "transfer.task.tell_register_custodian"
# The key catalogue's entries for these keys, English then Welsh, for the recipients' systems.
CATALOGUE: dict[str, tuple[str, str]] = {
    TERMS_REGISTER: ("child protection register", "cofrestr amddiffyn plant"),
    TERMS_PLAN: ("child protection plan", "cynllun amddiffyn plant"),
    REGISTERED_CHILD_MOVES: (
        "A child on the child protection register is moving into your area: as the "
        "register's custodian, record the child and arrange the transfer-in conference.",
        "Mae plentyn ar y gofrestr amddiffyn plant yn symud i'ch ardal: fel ceidwad y "
        "gofrestr, cofnodwch y plentyn a threfnwch y gynhadledd trosglwyddo i mewn.",
    ),
    TELL_CUSTODIAN: (
        "A child in this family is on a child protection plan and moves into Wales: tell "
        "the receiving authority's front door, the custodian of its child protection "
        "register, that a registered child is moving into its area.",
        "Mae plentyn yn y teulu hwn ar gynllun amddiffyn plant ac yn symud i Gymru: "
        "rhowch wybod i ddrws ffrynt yr awdurdod sy'n derbyn, ceidwad ei gofrestr amddiffyn "
        "plant, fod plentyn cofrestredig yn symud i'w ardal.",
    ),
    SEND_HISTORY: (
        "The authority the family moved to cannot be reached through this system: send it "
        "the history yourself, then record it as sent.",
        "Ni ellir cyrraedd yr awdurdod y symudodd y teulu iddo drwy'r system hon: anfonwch "
        "yr hanes ato eich hun, yna cofnodwch ei fod wedi'i anfon.",
    ),
}


def transfer_wording(facts: Mapping[str, object]) -> tuple[str, ...]:
    """The wording keys of a move's notice: the receiving nation's terms, the task of sending
    the history by hand, a registered child (for the register's custodian, or for the task's
    reader to tell it); none for a notice that is not about a move to a named authority."""
    nation = facts.get(RECEIVING_NATION)
    if nation is None:
        return ()
    keys = [TERMS_REGISTER if nation == "WLS" else TERMS_PLAN]
    by_hand = bool(facts.get(SEND_HISTORY_TO))
    keys += [SEND_HISTORY] if by_hand else []
    if facts.get(REGISTERED_CHILD) is True:
        # The custodian reads the transfer itself; a task's reader must tell the custodian.
        keys.append(TELL_CUSTODIAN if by_hand else REGISTERED_CHILD_MOVES)
    return tuple(keys)
