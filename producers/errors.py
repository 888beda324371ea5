"""The errors an agency's system meets when it seals, signs, opens or publishes. The broker
raises the same classes (``broker.errors`` names them in its own tree), so both sides agree
on what went wrong. Messages never carry personal data.

BrokerError
├── EnvelopeError          a sealed event or notice failed verification or decryption
│   ├── SignatureInvalid   a signature does not match what it signs
│   ├── DecryptionFailed   wrong key, or the header or ciphertext was altered
│   └── EventMismatch      the signed event disagrees with its cleartext header
├── KeyFileError           a key file is missing, malformed or too widely readable
│   └── KeyFileExists      a key file to be made is there already (never overwritten)
└── PublishFailed          Kafka did not acknowledge a record
"""


class BrokerError(Exception):
    pass


class EnvelopeError(BrokerError):
    pass


class SignatureInvalid(EnvelopeError):
    pass


class DecryptionFailed(EnvelopeError):
    pass


class EventMismatch(EnvelopeError):
    pass


class KeyFileError(BrokerError):
    pass


class KeyFileExists(KeyFileError):
    pass


class PublishFailed(BrokerError):
    pass
