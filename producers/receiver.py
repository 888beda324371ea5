"""The receiver helper a recipient's system uses to read its notices.

    receiver = NoticeReceiver(my_private_key, broker_keys)
    header, body = receiver.open(sealed_notice)

It checks the broker's signature over the header and ciphertext before it decrypts (with a
retired broker key only for a notice created before the key's ``not_after``), and decryption
fails unless the header is exactly the one the broker bound in.
"""

from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from producers import crypto, recipient_keys
from producers.broker_keys import BrokerPublicKeys
from producers.envelopes import open_notice
from producers.errors import DecryptionFailed, KeyFileError
from schemas.notices import NoticeBody, NoticeHeader, SealedNotice


class NoticeReceiver:
    """Opens notices with the recipient's key, or with whichever of its keys (current and
    not yet retired) the notice names: rotating a key never strands an unread notice."""

    def __init__(
        self,
        private_key: crypto.RecipientPrivateKey | Mapping[str, crypto.RecipientPrivateKey],
        broker_keys: BrokerPublicKeys,
    ) -> None:
        self._keys = private_key
        self._broker = broker_keys

    @classmethod
    def from_files(cls, private_key_file: Path, broker_public_file: Path) -> "NoticeReceiver":
        """An X25519 key in PKCS#8 PEM, or a post-quantum hybrid key file."""
        broker = BrokerPublicKeys.from_text(broker_public_file.read_text())
        if private_key_file.read_bytes().startswith(recipient_keys.HYBRID_FILE_TAG):
            return cls(recipient_keys.read_hybrid(private_key_file), broker)
        key = crypto.read_private_key(private_key_file)
        if not isinstance(key, X25519PrivateKey):
            raise KeyFileError(f"{private_key_file.name} is not an X25519 private key")
        return cls(key, broker)

    def open(self, sealed: SealedNotice) -> tuple[NoticeHeader, NoticeBody]:
        """Refuses (``SignatureInvalid``) a notice signed by a retired broker key and dated
        after that key's ``not_after``: a retired key vouches for nothing newer."""
        header = NoticeHeader.model_validate_json(sealed.header)
        signer = self._broker.signing_key(header.signing_key_id, header.created_at)
        return open_notice(sealed, self._key_for(sealed), signer)

    def _key_for(self, sealed: SealedNotice) -> crypto.RecipientPrivateKey:
        if not isinstance(self._keys, Mapping):
            return self._keys
        key_id = NoticeHeader.model_validate_json(sealed.header).recipient_key_id
        if key_id not in self._keys:
            raise DecryptionFailed("the notice was sealed to a key this recipient no longer has")
        return self._keys[key_id]
