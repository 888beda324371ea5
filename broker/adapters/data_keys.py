"""Per-household data keys, for retention by crypto-shredding.

Every notice the inbox stores is sealed once more, at rest, with AES-256-GCM under a data key
of its household (named by the household's pseudonym). The keys live apart from the database,
as owner-only files here (a KMS or HSM can stand behind the same three calls), so a database
backup holds no key. Deleting a household's key makes every notice stored for it unreadable:
to the broker, to its operators, and to the recipients, whatever copies of the database exist.
"""

import contextlib
import os
import re
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from broker.adapters import crypto
from broker.errors import KeyFileExists

NONCE_BYTES = 12
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class DataKeyShredded(Exception):
    """The household's key was deleted: its stored data is gone for good."""


class FileDataKeys:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, household: str) -> Path:
        if not _SAFE_NAME.match(household):
            raise ValueError("a household pseudonym names a data key file")
        return self.directory / f"{household}.key"

    def key_for(self, household: str) -> bytes:
        """The household's key, made on first use."""
        path = self._path(household)
        if not path.exists():
            # Made with O_EXCL: when another process made it first, both use that one.
            with contextlib.suppress(KeyFileExists):
                crypto.write_secret(path, AESGCM.generate_key(bit_length=256))
        crypto.check_private_mode(path)
        return path.read_bytes()

    def existing(self, household: str) -> bytes:
        path = self._path(household)
        if not path.exists():
            raise DataKeyShredded("this household's stored data was deleted")
        return path.read_bytes()

    def shred(self, household: str) -> bool:
        """Deletes the household's key; answers whether there was one."""
        path = self._path(household)
        if not path.exists():
            return False
        path.unlink()
        return True

    def wrap(self, household: str, data: bytes, context: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + AESGCM(self.key_for(household)).encrypt(nonce, data, context)

    def unwrap(self, household: str, stored: bytes, context: bytes) -> bytes:
        key = self.existing(household)
        return AESGCM(key).decrypt(stored[:NONCE_BYTES], stored[NONCE_BYTES:], context)
