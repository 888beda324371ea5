"""The floor: the cryptography and serialisation the broker's own processes cannot avoid
for a run's events and notices, timed in this process on messages of the run's sizes.

For each event the router opens an HPKE envelope, decodes JSON and checks an Ed25519
signature. For each notice it encodes JSON, seals it with HPKE to its recipient, signs it
and wraps it under a household's data key (AES-GCM) for crypto-shredding; the delivery
worker checks the signature, decodes the header and wraps the notice again at rest. Nothing
else the broker does (family resolution, rules, the database) is counted: the floor is what
a broker that did only its sealing and signing would cost, and ``efficiency`` compares the
broker's CPU per event with it.
"""

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from producers import crypto

HEADER = b'{"kind":"floor"}'


@dataclass(frozen=True)
class Floor:
    events: int
    notices: int
    cpu_s: float

    @property
    def cpu_ms_per_event(self) -> float:
        return self.cpu_s * 1000 / self.events if self.events else 0.0


def _payload(size: int) -> bytes:
    """A JSON document of about ``size`` bytes, shaped like an envelope (a few fields)."""
    text = os.urandom(max(size // 2 - 32, 1)).hex()
    return json.dumps({"header": "h" * 16, "body": text}).encode()


def measure_floor(event_sizes: Sequence[int], notice_sizes: Sequence[int]) -> Floor:
    """CPU seconds for the unavoidable work on ``event_sizes`` events and ``notice_sizes``
    notices (each the size of its Kafka record in the run)."""
    broker_key, recipient_key = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    producer, signer = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    data_key, nonce = AESGCM(AESGCM.generate_key(bit_length=256)), os.urandom(12)
    purpose = crypto.EVENT_PURPOSE
    # The events as the router receives them, made before the clock starts.
    arriving = []
    for size in event_sizes:
        plain = _payload(size)
        sealed = crypto.seal(plain, broker_key.public_key(), purpose=purpose, header=HEADER)
        arriving.append((sealed, crypto.sign_event_bytes(producer, plain)))
    notices = [_payload(size) for size in notice_sizes]
    start = time.process_time()
    for sealed, signature in arriving:
        opened = crypto.unseal(sealed, broker_key, purpose=purpose, header=HEADER)
        crypto.verify_event_bytes(producer.public_key(), opened, signature)
        json.loads(opened)
    for plain in notices:
        encoded = json.dumps(json.loads(plain)).encode()
        ciphertext = crypto.seal(encoded, recipient_key.public_key(),
                                 purpose=crypto.NOTICE_PURPOSE, header=HEADER)  # fmt: skip
        signature = crypto.sign(signer, HEADER, ciphertext)
        data_key.encrypt(nonce, ciphertext, HEADER)
        # The delivery worker's share.
        crypto.verify(signer.public_key(), HEADER, ciphertext, signature)
        json.loads(HEADER)
        data_key.encrypt(nonce, ciphertext, HEADER)
    return Floor(len(event_sizes), len(notice_sizes), time.process_time() - start)


def efficiency_report(
    floor: Floor, cpu_s: dict[str, float], events: int, seconds: float
) -> dict[str, object]:
    """CPU per event for each process and for the broker's own (routers and delivery),
    the floor, the efficiency (floor / broker's), and events/s per core the broker used."""
    own = sum(s for name, s in cpu_s.items() if name.startswith(("router", "delivery")))
    per_event = {name: round(s * 1000 / events, 3) for name, s in cpu_s.items()}
    broker_ms = own * 1000 / events
    return {
        "cpu_ms_per_event": per_event,
        "broker_cpu_ms_per_event": round(broker_ms, 3),
        "floor_cpu_ms_per_event": round(floor.cpu_ms_per_event, 3),
        "efficiency": round(floor.cpu_ms_per_event / broker_ms, 3) if broker_ms else None,
        "broker_cores_used": round(own / seconds, 2) if seconds else None,
        "broker_events_per_s_per_core": round(events / own, 1) if own else None,
    }
