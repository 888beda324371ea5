"""The wording catalogue: a text for every wording key the rules emit. Pure.

The broker ships fixed wording keys, not prose (``broker.rules.language``); the web inbox
words them for people in the browser, from ``static/js/wording.json`` that
``python -m broker.rules.wording`` writes from this table (``--check``: it is current). Every
key has an English text. Welsh texts are kept only where a Welsh speaker wrote them (the
transfer keys): none is machine-translated, so a key without Welsh is shown in English and
named in ``lacking_welsh()``'s report line until one is written.

An ``act_by`` text holds ``{when}``: the page fills in the deadline in London time words.
"""

import argparse
import json
import sys
from pathlib import Path

from broker.rules import language, minimisation, plan_bodies, school_contact, school_notice
from broker.rules.accuracy import THEIR_PEOPLE, wording_key
from broker.rules.next_steps import WORDING_PREFIX as OUTCOME_PREFIX
from schemas.notices import NoticeType, ReferralOutcome, Relation, SchoolMatter

# The recipient's own people, as the relation keys name them (accuracy.THEIR_PEOPLE's words
# and its fallback "person").
WHOM: dict[str, str] = {
    "patient": "your patient",
    "pupil": "your pupil",
    "child_seen": "a child your team sees",
    "child_on_plan": "a child whose plan you own",
    "client": "your client",
    "child_in_area": "a child in your area",
    "person": "someone your organisation works with",
}
RELATION_TEXT: dict[Relation, str] = {
    Relation.SELF: "What happened concerns {whom}.",
    Relation.PARENT: "What happened concerns a parent or carer of {whom}.",
    Relation.CHILD: "What happened concerns a child of {whom}.",
    Relation.SIBLING: "What happened concerns a brother or sister of {whom}.",
    Relation.CO_PARENT: "What happened concerns another parent of the children of {whom}.",
    Relation.HOUSEHOLD_MEMBER: "What happened concerns someone who lives with {whom}.",
    Relation.FAMILY_MEMBER: "What happened concerns someone else in the family of {whom}.",
}
# What a school is told happened (SchoolMatter), as the page's "What happened" words it.
MATTER_TEXT: dict[SchoolMatter, str] = {
    SchoolMatter.INCIDENT_AT_HOME: "Something happened at home that may affect this child.",
    SchoolMatter.ABOUT_THIS_CHILD: "This child attended hospital.",
    SchoolMatter.SERVICE_STOPPED: "A service has stopped working with this child or family.",
    SchoolMatter.JOINING_SCHOOL: "This child is joining your school after a move.",
    SchoolMatter.DOMESTIC_ABUSE_INCIDENT: (
        "The police attended a domestic abuse incident at this child's home."
    ),
}
MATTER_PREFIX = "school.matter."
# The front door's decision on a referral, as told to the referring agency (next_steps.py).
OUTCOME_TEXT: dict[ReferralOutcome, str] = {
    ReferralOutcome.NO_FURTHER_ACTION: "The front door decided: no further action.",
    ReferralOutcome.EARLY_HELP: "The front door decided: the family is offered early help.",
    ReferralOutcome.ASSESSMENT: "The front door decided: a social work assessment.",
    ReferralOutcome.STRATEGY_DISCUSSION: (
        "The front door decided: a strategy discussion, as the child may be at risk of "
        "significant harm."
    ),
    ReferralOutcome.TRANSFERRED: (
        "The front door decided: the referral is transferred to the authority responsible."
    ),
}

_FIXED: dict[str, str] = {
    school_notice.TODAY: "Before school starts today, {when}.",
    school_notice.ON_DAY: "Before school on {when}.",
    school_notice.WHEN_SCHOOL_REOPENS: "When school reopens on {when}.",
    school_notice.QUIET_SUPPORT: (
        "Offer the child quiet support during the school day, without saying why."
    ),
    school_notice.DO_NOT_RAISE: "Do not raise this with the parent or the child.",
    school_notice.RECORD: "Record this notice on the child's safeguarding file.",
    school_notice.IF_CHILD_DISCLOSES: (
        "If the child tells you something, listen, do not ask questions, and call the "
        "contact below."
    ),
    school_notice.AGREE_FIRST: (
        "The child knows about this: agree with the contact below before raising it with "
        "the child or family."
    ),
    school_notice.WATCH_FOR_CHANGE: (
        "Notice any change in the child and share it with the contact below."
    ),
    school_notice.CONTACT_LEAD: "Contact the child's lead professional for the plan.",
    school_notice.REQUEST_FILE: ("Ask the child's previous school for the child protection file."),
    school_contact.FRONT_DOOR: "Call the local authority's front door (children's services).",
    school_contact.REFERRING_SERVICE: "Call the service that sent this notice.",
    school_contact.LEAD_PROFESSIONAL: "Call the child's lead professional.",
    school_contact.EDUCATION_OFFICER: "Call the education safeguarding officer.",
    minimisation.THIRD_PARTY_WORDING: (
        "This notice holds information about someone other than your patient: do not show "
        "it to your patient through online record access."
    ),
    plan_bodies.CONCERN_RETURNED: (
        "A new concern has come up while a step-down plan you are part of is still open: "
        "review the plan and decide whether the family needs more support."
    ),
    minimisation.PROMPTS["consider_pre_birth_assessment"]: (
        "Consider whether a pre-birth assessment is needed for the expected baby."
    ),
    plan_bodies.REVIEW_WORDING: (
        "The review date of this step-down plan has come: review it with its action owners "
        "and the family, and record the outcome."
    ),
}


def relation_keys() -> dict[str, str]:
    """A text for every relation key ``accuracy.wording_key`` can make."""
    kinds = [*THEIR_PEOPLE, NoticeType.FRONT_DOOR_REFERRAL]  # the last: the fallback "person"
    return {
        wording_key(relation, kind): text.format(
            whom=WHOM[wording_key(relation, kind).split(".")[2]]
        )
        for relation, text in RELATION_TEXT.items()
        for kind in kinds
    }


def english() -> dict[str, str]:
    """Every wording key's English text."""
    transfer = {key: texts[0] for key, texts in language.CATALOGUE.items()}
    matters = {MATTER_PREFIX + matter.value: text for matter, text in MATTER_TEXT.items()}
    outcomes = {OUTCOME_PREFIX + outcome.value: text for outcome, text in OUTCOME_TEXT.items()}
    return {**_FIXED, **relation_keys(), **matters, **outcomes, **transfer}


def welsh() -> dict[str, str]:
    """The Welsh texts a Welsh speaker wrote; no other key has one."""
    return {key: texts[1] for key, texts in language.CATALOGUE.items()}


def lacking_welsh() -> list[str]:
    """The keys shown in English only to a reader in Wales, until their Welsh is written."""
    return sorted(set(english()) - set(welsh()))


def catalogue() -> dict[str, dict[str, str]]:
    """The browser's catalogue: language, then key, then text."""
    return {"en": dict(sorted(english().items())), "cy": dict(sorted(welsh().items()))}


STATIC = Path(__file__).parents[1] / "entrypoints" / "web" / "static" / "js" / "wording.json"


def rendered() -> str:
    """The browser's catalogue file, as written."""
    return json.dumps(catalogue(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or ``--check``) the browser's catalogue; report the keys lacking Welsh."""
    parser = argparse.ArgumentParser(prog="python -m broker.rules.wording")
    parser.add_argument("--check", action="store_true", help="fail if wording.json is stale")
    args = parser.parse_args(argv)
    missing = lacking_welsh()
    print(
        f"wording: {len(english())} keys; {len(missing)} lack Welsh (shown in English): "
        + ", ".join(missing)
    )
    if args.check:
        current = STATIC.exists() and STATIC.read_text(encoding="utf-8") == rendered()
        if not current:
            print(f"{STATIC} is not current: run python -m broker.rules.wording", file=sys.stderr)
        return 0 if current else 1
    STATIC.write_text(rendered(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
