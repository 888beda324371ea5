"""Per-household data keys, for retention by crypto-shredding: the file implementation of the
``DataKeyStore`` port (broker/ports.py), with the tombstones of shredded households.

Every notice the broker keeps is sealed once more, at rest, with AES-256-GCM under a data key
of its household (named by the household's pseudonym). The keys live apart from the database,
as owner-only files here, so a database backup holds no key. Deleting a household's key makes
everything stored under it unreadable: to the broker, to its operators, and to the recipients,
whatever copies of the database exist.

A notice concerning people of several households (a child's, from an event about a parent
living elsewhere) is sealed under each of their keys in turn (``key_name``): shredding any one
of those households makes it unreadable.

Each ciphertext names the key it was made with (a short id derived from the key). Shredding
deletes the key and keeps a tombstone, ``<household>.shredded``, listing the ids of the keys
deleted: what they sealed answers "shredded" (410, a dead letter) for good, never a failed
decryption (500, a crashed worker). A later event about the household gets a new key under a
new id, which the tombstone does not cover; the old data stays gone.

The KMS seam. A KMS or HSM stands behind the same four calls: ``wrap``/``unwrap`` become
envelope encryption (the store keeps, per household, a data key wrapped by a KMS key named
for the household, or asks the KMS to encrypt and decrypt directly), ``shred`` schedules the
KMS key's deletion and records the tombstone in the KMS's own store (a tag or a small table
outside the broker's database), and ``is_shredded`` reads it. Nothing outside this module
knows which store is in use: ``broker.bootstrap`` builds it from settings.
"""

import hashlib
import json
import os
import queue
import re
import secrets
import stat
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from broker.errors import DataKeyShredded, DataKeyUnusable, KeyFileError
from broker.ports import DataKeyStore
from producers import crypto
from producers.pseudonyms import pseudonym

__all__ = ["DataKeyShredded", "FileDataKeys", "household_shredded", "key_name"]

log = structlog.get_logger(__name__)
NONCE_BYTES = 12
KEY_ID_BYTES = 8
TAGGED = b"sgbdk1"  # a ciphertext that names its key: TAGGED + key id + nonce + sealed
SEPARATOR = "+"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def key_name(households: Iterable[str]) -> str:
    """Names the data keys of several households at once: what is wrapped under the name is
    sealed under each of their keys, and is gone when any one of them is shredded."""
    return SEPARATOR.join(sorted(set(households)))


def household_shredded(store: DataKeyStore, secret: bytes, household_id: str) -> bool:
    """Whether the household (by its directory id) was shredded and nothing was stored for it
    since: the question a reader of its chronology or notices asks before answering 410."""
    return store.is_shredded(pseudonym(secret, "household", household_id))


SPARES = 32  # key files a broker process keeps made ahead (``FileDataKeys(spares=...)``)


class FileDataKeys:
    """``DataKeyStore`` over owner-only files: ``<household>.key`` and its tombstone.

    A new key file is written and fsynced before it is linked into place. With ``spares``,
    a background thread keeps that many such files made ahead (``.spare.<random>``, each
    complete and on disk): a household seen for the first time then takes one by a link,
    and routing does not wait for the disk (most events of a large directory concern a
    household with no key yet). ``close`` stops that thread and deletes the spares left
    unused; spares left by a process that was killed are keys nobody used.
    """

    def __init__(self, directory: Path, *, spares: int = 0) -> None:
        self.directory = directory
        self._spares_wanted = spares
        self._spares: queue.SimpleQueue[tuple[Path, bytes]] = queue.SimpleQueue()
        self._making_spares = threading.Lock()  # held while a thread makes them
        self._closed = threading.Event()  # no more spares are made once set
        # Each key read, with its file's identity then: a router wraps several notices per
        # household, and one lstat tells whether the file is still that one (a shred by
        # another process deletes it; a renewal is a new file).
        self._read: dict[str, _Key] = {}

    def wrap(self, household: str, data: bytes, context: bytes) -> bytes:
        """Sealed under the key of each household named (see ``key_name``), innermost first."""
        for name in household.split(SEPARATOR):
            data = self._wrap_one(name, data, context)
        return data

    def unwrap(self, household: str, stored: bytes, context: bytes) -> bytes:
        """The data; ``DataKeyShredded`` when a key of it was deleted, ``DataKeyUnusable``
        when a key or the stored bytes are damaged. Never any other exception."""
        for name in reversed(household.split(SEPARATOR)):
            stored = self._unwrap_one(name, stored, context)
        return stored

    def _wrap_one(self, household: str, data: bytes, context: bytes) -> bytes:
        key = self._key_for(household)
        nonce = os.urandom(NONCE_BYTES)
        return TAGGED + key.id + nonce + key.cipher.encrypt(nonce, data, context)

    def _unwrap_one(self, household: str, stored: bytes, context: bytes) -> bytes:
        key_id, body = _split(stored)
        if key_id is not None and key_id.hex() in self._tombstone(household):
            raise DataKeyShredded("this household's stored data was deleted")
        key = self._current_key(household)
        if key is None or (key_id is not None and key_id != key.id):
            raise DataKeyShredded("this household's stored data was deleted")
        try:
            return key.cipher.decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], context)
        except (InvalidTag, ValueError) as exc:
            if key_id is None and self._tombstone(household):
                # Stored before ciphertexts named their keys, under a key since shredded.
                raise DataKeyShredded("this household's stored data was deleted") from exc
            raise DataKeyUnusable("stored data does not open under its household's key") from exc

    def shred(self, household: str) -> bool:
        """Deletes the household's key and tombstones its id; answers whether there was one.
        The tombstone is written first: a crash in between leaves the data shredded."""
        key = self._current(household)
        ids = self._tombstone(household) | ({_key_id(key).hex()} if key else set())
        self._write_tombstone(household, ids)
        if key is None:
            return False
        self._path(household).unlink(missing_ok=True)
        return True

    def is_shredded(self, household: str) -> bool:
        """Shredded, and no key made since (a later event about the household makes one)."""
        return self._tombstone_path(household).exists() and not self._path(household).exists()

    def _key_for(self, household: str) -> "_Key":
        """The household's current key, made on first use (or first use since a shred)."""
        key = self._current_key(household)
        if key is not None:
            return key
        if self._tombstone_path(household).exists():
            log.info("household_data_key_renewed_after_shred")
        return self._create(household)

    def _current(self, household: str) -> bytes | None:
        key = self._current_key(household)
        return key.key if key is not None else None

    def _current_key(self, household: str) -> "_Key | None":
        known = self._read.get(household)
        # A key read before names its file: the checked name and its path are not built
        # again for every notice (a quarter of a wrap's time).
        path = known.path if known is not None else self._path(household)
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            self._read.pop(household, None)
            return None
        except OSError as exc:
            raise DataKeyUnusable("the household's data key cannot be read") from exc
        if stat.S_ISLNK(info.st_mode):
            # Planted: a key is never read or made through a link.
            raise DataKeyUnusable("the household's data key file is a link")
        identity = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        if known is not None and known.file == identity and not _shared(info.st_mode):
            return known
        try:
            crypto.check_private_mode(path)
            key = path.read_bytes()
        except (OSError, KeyFileError) as exc:
            raise DataKeyUnusable("the household's data key cannot be read") from exc
        if len(key) != 32:
            raise DataKeyUnusable("the household's data key file is damaged")
        self._read[household] = _Key(identity, key, _key_id(key), AESGCM(key), path)
        return self._read[household]

    def _create(self, household: str) -> "_Key":
        """A new key, linked into place only if no other process made one first (a link never
        overwrites, and the file is complete before anyone can see it)."""
        path = self._path(household)
        spare = self._spare()
        if spare is None:
            spare = (path.with_name(f".{path.name}.{secrets.token_hex(8)}"),
                     AESGCM.generate_key(bit_length=256))  # fmt: skip
            crypto.write_secret(*spare)
        draft, key = spare
        try:
            inode = os.lstat(draft).st_ino
            os.link(draft, path)
        except FileExistsError:
            inode = None  # another process made it a moment ago: use theirs, read below
        except OSError as exc:
            raise DataKeyUnusable("the household's data key cannot be made") from exc
        finally:
            draft.unlink(missing_ok=True)
        made = self._made(household, path, key, inode) or self._current_key(household)
        if made is None:
            raise DataKeyUnusable("the household's data key cannot be made")
        return made

    def _made(self, household: str, path: Path, key: bytes, inode: int | None) -> "_Key | None":
        """The key just linked into place, from the bytes written rather than read back: one
        lstat (after the draft's name is gone, as the file's times then stay) for the identity
        a later wrap checks. None unless the file there is the one this process wrote."""
        try:
            info = os.lstat(path)
        except OSError:
            return None
        if inode is None or info.st_ino != inode or not stat.S_ISREG(info.st_mode):
            return None
        identity = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        self._read[household] = _Key(identity, key, _key_id(key), AESGCM(key), path)
        return self._read[household]

    def _spare(self) -> tuple[Path, bytes] | None:
        """A key file made ahead and its key, if one is ready; more are made when they run
        low."""
        if not self._spares_wanted:
            return None
        try:
            spare: tuple[Path, bytes] | None = self._spares.get_nowait()
        except queue.Empty:
            spare = None
        low = self._spares.qsize() <= self._spares_wanted // 2
        if low and not self._closed.is_set() and self._making_spares.acquire(blocking=False):
            threading.Thread(target=self._fill_then_release, name="data-key-spares",
                             daemon=True).start()  # fmt: skip
        return spare

    def make_spares(self) -> None:
        """Makes key files ahead until ``spares`` are ready (a thread of its own does, so
        that fsync waits for the disk without holding the event loop)."""
        with self._making_spares:
            self._fill()

    def close(self) -> None:
        """Stops making spares, waits for a thread making them, and deletes those not used:
        nothing is written into the folder once this returns (its owner may remove it). Keys
        are still made in place after it."""
        self._closed.set()
        with self._making_spares:  # the thread finishes the file it is writing
            while True:
                try:
                    spare, _ = self._spares.get_nowait()
                except queue.Empty:
                    return
                spare.unlink(missing_ok=True)

    def _fill_then_release(self) -> None:
        try:
            self._fill()
        finally:
            self._making_spares.release()  # taken by ``_spare`` when it started this thread

    def _fill(self) -> None:
        # A failure only means the next new household's key is made in place.
        try:
            while self._spares.qsize() < self._spares_wanted and not self._closed.is_set():
                spare = self.directory / f".spare.{secrets.token_hex(8)}"
                key = AESGCM.generate_key(bit_length=256)
                crypto.write_secret(spare, key)
                self._spares.put((spare, key))
        except (OSError, KeyFileError) as exc:
            log.warning("data_key_spares_not_made", error=type(exc).__name__)

    def _tombstone(self, household: str) -> set[str]:
        path = self._tombstone_path(household)
        if not path.exists():
            return set()
        try:
            return set(json.loads(path.read_text())["key_ids"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataKeyUnusable("the household's tombstone cannot be read") from exc

    def _write_tombstone(self, household: str, key_ids: set[str]) -> None:
        path = self._tombstone_path(household)
        text = json.dumps(
            {"key_ids": sorted(key_ids), "shredded_at": datetime.now(UTC).isoformat()}
        )
        draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        crypto.write_secret(draft, text.encode())
        draft.replace(path)  # whole or not at all

    def _path(self, household: str) -> Path:
        return self.directory / f"{_checked(household)}.key"

    def _tombstone_path(self, household: str) -> Path:
        return self.directory / f"{_checked(household)}.shredded"


class _Key(NamedTuple):
    file: tuple[int, ...]  # the key file's identity when read (device, inode, size, times)
    key: bytes
    id: bytes
    cipher: AESGCM
    path: Path  # the file it was read from


def _shared(mode: int) -> bool:
    """Group or others may read or write it (``crypto.check_private_mode`` refuses it)."""
    return bool(mode & (stat.S_IRWXG | stat.S_IRWXO))


def _checked(household: str) -> str:
    if not _SAFE_NAME.match(household):
        raise ValueError("a household pseudonym names a data key file")
    return household


def _key_id(key: bytes) -> bytes:
    # One-way and short: names the key in each ciphertext and tombstone, reveals nothing of it.
    return hashlib.sha256(b"sgb/data-key-id/v1" + key).digest()[:KEY_ID_BYTES]


def _split(stored: bytes) -> tuple[bytes | None, bytes]:
    """(key id, nonce + sealed); no key id for what was stored before ciphertexts named one."""
    if stored.startswith(TAGGED) and len(stored) > len(TAGGED) + KEY_ID_BYTES + NONCE_BYTES:
        start = len(TAGGED)
        return stored[start : start + KEY_ID_BYTES], stored[start + KEY_ID_BYTES :]
    return None, stored
