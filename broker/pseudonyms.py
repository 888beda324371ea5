"""The broker's own pseudonyms beyond the Kafka record keys (``producers.pseudonyms``).

The broker's pseudonym secret stays with the broker's own processes. An agency publishing
through the SDK keys its events with a secret of its own (``producer_secret``): its events
about one person stay in order, and no other agency, nor Kafka's operators, can go back
from its keys to a person. The router takes nothing from an event's Kafka key; whatever
pseudonym it needs (a household's, a recipient's) it derives itself from the opened event.
"""

from producers.pseudonyms import pseudonym


def unmatched_key_name(secret: bytes, identifier: str) -> str:
    """Names the data key of what is kept about someone the directory does not know, by the
    identifier an event gave (``person_identifier``): shredded with any household the person
    is later found to belong to."""
    return "u" + pseudonym(secret, "unmatched-person", identifier)
