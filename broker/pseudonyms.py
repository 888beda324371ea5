"""Pseudonymous Kafka message keys: a keyed HMAC, so the transport never sees an identifier.

The same person or household always maps to the same key (so Kafka keeps their events in
order on one partition), and without the HMAC key nobody can go back from key to person.
"""

import hashlib
import hmac

from schemas.events import PersonRef


def pseudonym(secret: bytes, kind: str, identifier: str) -> str:
    mac = hmac.new(secret, f"{kind}:{identifier}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def person_identifier(person: PersonRef, source_org: str) -> str:
    """The most widely shared identifier the event gives for a person."""
    if person.nhs_number:
        return f"nhs:{person.nhs_number}"
    if person.upn:
        return f"upn:{person.upn}"
    return f"local:{source_org}:{person.local_id}"


def person_key(secret: bytes, person: PersonRef, source_org: str) -> str:
    return pseudonym(secret, "person", person_identifier(person, source_org))


def unmatched_key_name(secret: bytes, identifier: str) -> str:
    """Names the data key of what is kept about someone the directory does not know, by the
    identifier an event gave (``person_identifier``): shredded with any household the person
    is later found to belong to."""
    return "u" + pseudonym(secret, "unmatched-person", identifier)
