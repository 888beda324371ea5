"""The broker's exceptions. Messages never carry personal data.

BrokerError
├── EnvelopeError          a sealed event or notice failed verification or decryption
│   ├── SignatureInvalid   a signature does not match what it signs
│   ├── DecryptionFailed   wrong key, or the header or ciphertext was altered
│   ├── UnknownSigningKey  no valid registered key of the producing organisation has this id
│   ├── EventMismatch      the signed event disagrees with its cleartext header
│   ├── ReplayedEvent      an event id seen before, arriving again as a new record
│   ├── EventOutsideWindow the event's times fall outside the allowed window
│   └── EventNotPermitted  organisations of this kind may not publish this event type
├── KeyFileError           a key file is missing, malformed or too widely readable
│   ├── KeyFileExists      a key file to be made is there already (never overwritten)
│   └── KeyNotHeld         this process was not given that key (least privilege)
├── Unsealable             one notice cannot be sealed (services/sealing.py reroutes it)
│   ├── RecipientKeyUnusable   the recipient's registered key cannot be sealed to
│   └── DataKeyUnusable        the household's data key cannot be made, read or used
├── DataKeyShredded        the household's data key was shredded: what it sealed is gone
├── DirectoryError         a directory change is refused (see services/directory_changes.py)
├── NotAuthorised          a valid credential for something it does not allow: 403
├── AlreadyRecorded        another transaction recorded the same thing first (a unit of work's
│                          commit found its row there: two routers on one event)
├── Unrecordable           the database refuses a value as it stands (too long, out of range):
│                          it would refuse it again, so the event is dead-lettered, not retried
├── CsvImportError         a directory CSV file cannot be read (file, row and field named)
├── PeerUnreachable        a peer broker's gateway gave no token or answer (tried again later)
└── PublishFailed          Kafka did not acknowledge a record

The envelope, key-file and publishing errors are the agency package's (``producers.errors``):
an agency's system raises and catches the very same classes.
"""

from producers.errors import BrokerError as BrokerError
from producers.errors import DecryptionFailed as DecryptionFailed
from producers.errors import EnvelopeError as EnvelopeError
from producers.errors import EventMismatch as EventMismatch
from producers.errors import KeyFileError as KeyFileError
from producers.errors import KeyFileExists as KeyFileExists
from producers.errors import PublishFailed as PublishFailed
from producers.errors import SignatureInvalid as SignatureInvalid


class UnknownSigningKey(EnvelopeError):
    pass


class ReplayedEvent(EnvelopeError):
    pass


class EventOutsideWindow(EnvelopeError):
    pass


class EventNotPermitted(EnvelopeError):
    pass


class KeyNotHeld(KeyFileError):
    pass


class Unsealable(BrokerError):
    pass


class RecipientKeyUnusable(Unsealable):
    pass


class DataKeyUnusable(Unsealable):
    pass


class DataKeyShredded(BrokerError):
    """Retention by design, not a fault: answered 410, or a dead letter, never retried."""


class DirectoryError(BrokerError):
    pass


class NotAuthorised(BrokerError):
    """A valid credential for something it does not allow: a 403."""


class PeerUnreachable(BrokerError):
    """Names the kind of failure only (the peer's answer may quote what was sent)."""


class CsvImportError(BrokerError):
    """Names where the fault is and what it is, never the cell's value (personal data)."""

    def __init__(self, file: str, row: int | None, field: str | None, problem: str) -> None:
        where = ", ".join(
            [file, *([f"row {row}"] if row else []), *([f"field {field}"] if field else [])]
        )
        super().__init__(f"{where}: {problem}")
        self.file, self.row, self.field = file, row, field


class AlreadyRecorded(BrokerError):
    """A unit of work could not write a row another transaction wrote first (the database's
    uniqueness refused it); nothing of the unit of work stays."""


class Unrecordable(BrokerError):
    """The database refused a value of a unit of work as it stands (a string too long for its
    column, a number out of range); nothing of the unit of work stays. Retrying the same
    event would be refused again: a router that retried it would block its partition."""
