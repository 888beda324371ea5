"""Test vectors for the browser's notice-crypto.js, sealed by the real producers code.

Each vector is a sealed notice and what opening it must give: the body as Python reads it, or
the error the browser must throw (its ``code``). Both suites are sealed; tampered ones change
the header, the ciphertext or the signature, or are sealed to another key or signed by a key
the browser does not know or no longer trusts. Keys are written as the producers write them
(an X25519 PKCS#8 PEM; a hybrid key file's bytes, here in base64 for JSON).

    python tests/browser/vectors.py var/notice-vectors.json
"""

import base64
import json
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from producers import crypto, envelopes, recipient_keys
from producers.broker_keys import BrokerPublicKeys, RetiredSigningKey
from schemas.notices import (
    HpkeSuiteName,
    NoticeBody,
    NoticeHeader,
    NoticeType,
    PersonView,
    SchoolGuidance,
    SchoolMatter,
    SealedNotice,
    Severity,
)

CREATED = datetime(2027, 5, 10, 9, 30, tzinfo=UTC)
RETIRED_AT = datetime(2027, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Keys:
    """One of each key a vector needs; fresh per run, as a test's keys should be."""

    classic: X25519PrivateKey = field(default_factory=X25519PrivateKey.generate)
    hybrid_secret: bytes = field(default_factory=lambda: recipient_keys.new_hybrid()[2])
    stranger: X25519PrivateKey = field(default_factory=X25519PrivateKey.generate)
    signing: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    retired: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    unknown: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    @property
    def hybrid(self) -> crypto.RecipientPrivateKey:
        return recipient_keys.hybrid_from_secret(self.hybrid_secret)

    @property
    def hybrid_public_text(self) -> str:
        return base64.b64encode(hybrid_public_raw(self.hybrid_secret)).decode()

    def broker_public(self) -> BrokerPublicKeys:
        return BrokerPublicKeys(
            hpke=X25519PrivateKey.generate().public_key(),
            signing=self.signing.public_key(),
            retired_signing=(RetiredSigningKey(self.retired.public_key(), RETIRED_AT),),
        )


def hybrid_public_raw(secret: bytes) -> bytes:
    """The hybrid public key's raw bytes (ML-KEM-768 key, then X25519 key), as new_hybrid
    builds its public text."""
    mlkem = MLKEM768PrivateKey.from_seed_bytes(secret[:64])
    classic = X25519PrivateKey.from_private_bytes(secret[64:96])
    return mlkem.public_key().public_bytes_raw() + crypto.raw_public(classic.public_key())


def header(keys: Keys, *, hybrid: bool = False, **changes: Any) -> NoticeHeader:
    recipient_key_id = (
        recipient_keys.key_id(keys.hybrid_public_text)
        if hybrid
        else crypto.key_id(keys.classic.public_key())
    )
    fields: dict[str, Any] = {
        "notice_id": uuid.uuid4(),
        "event_id": uuid.uuid4(),
        "household": "hh-7f3a9c",
        "recipient_id": "school-oakfield:key_adult",
        "recipient_org": "school-oakfield",
        "notice_type": NoticeType.SCHOOL_SUPPORT,
        "severity": Severity.HIGH,
        "created_at": CREATED,
        "deadline": CREATED + timedelta(hours=23),
        "suite": HpkeSuiteName.MLKEM768_X25519_SHA256_AES256GCM
        if hybrid
        else HpkeSuiteName.X25519_SHA256_AES256GCM,
        "recipient_key_id": recipient_key_id,
        "signing_key_id": crypto.key_id(keys.signing.public_key()),
    }
    return NoticeHeader(**(fields | changes))


def body(given_name: str = "Siân", family_name: str = "Ó Briain-Kowalczyk") -> NoticeBody:
    """A school's notice with the personal data the wire must never carry in clear (a name
    outside ASCII checks the browser decodes UTF-8 as Python encodes it)."""
    return NoticeBody(
        summary=f"Police attended an incident at {given_name}'s home last night.",
        event_type="domestic_abuse_incident",
        occurred_at=CREATED - timedelta(hours=10),
        about=(
            PersonView(
                given_name=given_name,
                family_name=family_name,
                date_of_birth=date(2017, 3, 14),
                nhs_number="9434765919",
                role="child",
                present=True,
            ),
        ),
        facts={"child_present": True, "incident_count": 2},
        school=SchoolGuidance(
            matter=SchoolMatter.DOMESTIC_ABUSE_INCIDENT,
            reference="N-3F2A-91C0",
            act_by=CREATED + timedelta(hours=23),
            act_by_wording="school.act_by.before_school",
            police_reference="PR/2027/000417",
        ),
    )


def tampered(text: str) -> str:
    """Base64 of the same bytes with the last one changed."""
    raw = bytearray(base64.b64decode(text))
    raw[-1] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def resigned(keys: Keys, header_text: str, ciphertext: str) -> SealedNotice:
    """A notice the broker's key signs as it is: the signature holds, so only the decryption
    can tell that its header or ciphertext is not what was sealed."""
    signature = crypto.sign(keys.signing, header_text.encode(), base64.b64decode(ciphertext))
    return SealedNotice(
        header=header_text, ciphertext=ciphertext, signature=crypto.b64encode(signature)
    )


def vector(name: str, key: str, sealed: SealedNotice, **expect: Any) -> dict[str, Any]:
    return {"name": name, "key": key, "sealed": sealed.model_dump(), "expect": expect}


def build(keys: Keys | None = None) -> dict[str, Any]:
    """The vectors and the keys to open them, as one JSON-ready document."""
    keys = keys or Keys()
    classic_pub, hybrid_pub = (
        keys.classic.public_key(),
        recipient_keys.public_from_text(keys.hybrid_public_text),
    )
    plain, other = body(), body("Zoë", "Nguyễn")

    def expected(notice_body: NoticeBody) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(notice_body.model_dump_json())
        return parsed

    good = envelopes.seal_notice(header(keys), plain, classic_pub, keys.signing)
    good_hybrid = envelopes.seal_notice(header(keys, hybrid=True), other, hybrid_pub, keys.signing)
    changed_header = good.header.replace('"severity":"high"', '"severity":"low"')
    assert changed_header != good.header
    by_retired_key = {"signing_key_id": crypto.key_id(keys.retired.public_key())}
    vectors = [
        vector("x25519", "classic", good, body=expected(plain)),
        vector("hybrid", "hybrid", good_hybrid, body=expected(other)),
        vector(
            "x25519, signed by a retired key before it retired",
            "classic",
            envelopes.seal_notice(
                header(keys, created_at=RETIRED_AT - timedelta(days=1), **by_retired_key),
                plain,
                classic_pub,
                keys.retired,
            ),
            body=expected(plain),
        ),
        vector(
            "header changed after signing",
            "classic",
            good.model_copy(update={"header": changed_header}),
            error="bad-signature",
        ),
        vector(
            "ciphertext changed after signing",
            "classic",
            good.model_copy(update={"ciphertext": tampered(good.ciphertext)}),
            error="bad-signature",
        ),
        vector(
            "hybrid ciphertext changed after signing",
            "hybrid",
            good_hybrid.model_copy(update={"ciphertext": tampered(good_hybrid.ciphertext)}),
            error="bad-signature",
        ),
        vector(
            "signature changed",
            "classic",
            good.model_copy(update={"signature": tampered(good.signature)}),
            error="bad-signature",
        ),
        vector(
            "header changed and signed again",
            "classic",
            resigned(keys, changed_header, good.ciphertext),
            error="decryption",
        ),
        vector(
            "ciphertext changed and signed again",
            "classic",
            resigned(keys, good.header, tampered(good.ciphertext)),
            error="decryption",
        ),
        vector(
            "hybrid ciphertext changed and signed again",
            "hybrid",
            resigned(keys, good_hybrid.header, tampered(good_hybrid.ciphertext)),
            error="decryption",
        ),
        vector(
            "sealed to another key",
            "classic",
            envelopes.seal_notice(
                header(keys, recipient_key_id=crypto.key_id(keys.stranger.public_key())),
                plain,
                keys.stranger.public_key(),
                keys.signing,
            ),
            error="wrong-key",
        ),
        vector(
            "sealed to another key under this key's id",
            "classic",
            envelopes.seal_notice(header(keys), plain, keys.stranger.public_key(), keys.signing),
            error="decryption",
        ),
        vector(
            "hybrid notice opened with the classic key",
            "classic",
            good_hybrid,
            error="wrong-key",
        ),
        vector(
            "signed by a broker key the browser does not know",
            "classic",
            envelopes.seal_notice(
                header(keys, signing_key_id=crypto.key_id(keys.unknown.public_key())),
                plain,
                classic_pub,
                keys.unknown,
            ),
            error="unknown-key",
        ),
        vector(
            "signed by a retired key after it retired",
            "classic",
            envelopes.seal_notice(header(keys, **by_retired_key), plain, classic_pub, keys.retired),
            error="retired-key",
        ),
    ]
    return {
        "broker_public": keys.broker_public().to_text(),
        "keys": {
            "classic": pem(keys.classic),
            "hybrid": base64.b64encode(hybrid_file(keys.hybrid_secret)).decode(),
        },
        "vectors": vectors,
    }


def hybrid_file(secret: bytes) -> bytes:
    """A hybrid key file's bytes, as recipient_keys.write_hybrid writes them."""
    return recipient_keys.HYBRID_FILE_TAG + secret


def pem(key: X25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def private_key(document: dict[str, Any], name: str) -> crypto.RecipientPrivateKey:
    """A vector document's key, loaded back as the producers load theirs."""
    if name == "hybrid":
        data = base64.b64decode(document["keys"]["hybrid"])
        return recipient_keys.hybrid_from_secret(data[len(recipient_keys.HYBRID_FILE_TAG) :])
    key = serialization.load_pem_private_key(document["keys"]["classic"].encode(), None)
    assert isinstance(key, X25519PrivateKey)
    return key


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "var/notice-vectors.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(build(), indent=1, ensure_ascii=False))
    print(out)
