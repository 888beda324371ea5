"""The broker's public keys as producers and receivers hold them (``broker-public.txt``): the
HPKE key events are sealed to, and the signing keys notices and webhook requests are signed
with, current and retired. No secrets.
"""

from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from producers import crypto
from producers.errors import SignatureInvalid


@dataclass(frozen=True)
class RetiredSigningKey:
    """A signing key no longer in use: what it signed up to ``not_after`` still verifies;
    anything it signed later is refused (None: retired before validity was recorded)."""

    key: Ed25519PublicKey
    not_after: datetime | None = None

    def to_text(self) -> str:
        stamp = f",{self.not_after.isoformat()}" if self.not_after else ""
        return f"retired-signing={crypto.encode_public(self.key)}{stamp}\n"

    @classmethod
    def from_text(cls, value: str) -> "RetiredSigningKey":
        key, _, stamp = value.partition(",")
        return cls(crypto.signing_public_from_text(key),
                   datetime.fromisoformat(stamp) if stamp else None)  # fmt: skip


@dataclass(frozen=True)
class BrokerPublicKeys:
    """What producers and receivers need: no secrets."""

    hpke: X25519PublicKey
    signing: Ed25519PublicKey
    retired_signing: tuple[RetiredSigningKey, ...] = ()

    def signing_key(self, key_id: str, signed_at: datetime) -> Ed25519PublicKey:
        """The broker's signing key with this id, current, or retired after ``signed_at``:
        a retired key (perhaps retired because it leaked) vouches for nothing newer."""
        if crypto.key_id(self.signing) == key_id:
            return self.signing
        for retired in self.retired_signing:
            if crypto.key_id(retired.key) != key_id:
                continue
            if retired.not_after is not None and signed_at > retired.not_after:
                raise SignatureInvalid("signed with a broker key after it was retired")
            return retired.key
        raise SignatureInvalid("the broker signed this with a key the receiver does not know")

    @property
    def hpke_key_id(self) -> str:
        return crypto.key_id(self.hpke)

    @property
    def signing_key_id(self) -> str:
        return crypto.key_id(self.signing)

    def to_text(self) -> str:
        hpke, signing = crypto.encode_public(self.hpke), crypto.encode_public(self.signing)
        retired = "".join(k.to_text() for k in self.retired_signing)
        return f"hpke={hpke}\nsigning={signing}\n{retired}"

    @classmethod
    def from_text(cls, text: str) -> "BrokerPublicKeys":
        pairs = [line.split("=", 1) for line in text.split() if "=" in line]
        fields = dict(pairs)
        return cls(
            hpke=crypto.hpke_public_from_text(fields["hpke"]),
            signing=crypto.signing_public_from_text(fields["signing"]),
            retired_signing=tuple(
                RetiredSigningKey.from_text(v) for k, v in pairs if k == "retired-signing"
            ),
        )
