"""The broker's exceptions. Messages never carry personal data.

BrokerError
├── EnvelopeError          a sealed event or notice failed verification or decryption
│   ├── SignatureInvalid   the signature does not match the header and ciphertext
│   └── DecryptionFailed   wrong key, or the header or ciphertext was altered
├── KeyFileError           a key file is missing, malformed or too widely readable
├── DirectoryError         the directory lacks something routing needs
│   └── NoRecipientKey     the addressee has no contact with a public key
├── CsvImportError         a directory CSV file cannot be read (file, row and field named)
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


class KeyFileError(BrokerError):
    pass


class DirectoryError(BrokerError):
    pass


class NoRecipientKey(DirectoryError):
    pass


class CsvImportError(BrokerError):
    """Names where the fault is and what it is, never the cell's value (personal data)."""

    def __init__(self, file: str, row: int | None, field: str | None, problem: str) -> None:
        where = ", ".join(
            [file, *([f"row {row}"] if row else []), *([f"field {field}"] if field else [])]
        )
        super().__init__(f"{where}: {problem}")
        self.file, self.row, self.field = file, row, field


class PublishFailed(BrokerError):
    pass
